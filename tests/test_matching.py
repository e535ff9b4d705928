"""The matcher on fingerprints built here (issue 27, defect 2 and its mutation run): the bit error
limit on both sides, near codes, short files' dense keys. Each pair is constructed with a known
number of differing bits, so the right answer is known without running the matcher."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.duplicates import matching
from pe_search.duplicates.audio_fingerprint import QUIET
from pe_search.duplicates.matching import (
    MatchSettings,
    aligned_error,
    find_matches,
    keys_of,
    near_codes,
    share_bits_of,
    unreliable_bits,
)

# ------------------------------------------------------------------------- the threshold, by construction


def _random_codes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(1, 2**32, size=count, dtype=np.uint64).astype(np.uint32)


def _with_flipped_bits(codes: np.ndarray, keep: int, flips: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of `codes` with exactly `flips` distinct bits flipped, none in the first `keep` codes
    (those stay whole, so the pair is a lookup candidate); no code becomes quiet (0)."""
    while True:
        bits = np.zeros((codes.size, 32), dtype=bool)
        chosen = rng.choice((codes.size - keep) * 32, size=flips, replace=False)
        bits[keep:].reshape(-1)[chosen] = True
        masks = np.packbits(bits, axis=1, bitorder="little").view("<u4").reshape(-1)
        out = codes ^ masks
        if not (out == QUIET).any():
            return out


@pytest.mark.parametrize(
    ("frames", "under", "over"),
    [
        # 100 frames (3,200 bits, over the 64 of full_frames): the limit is max_bit_error, 0.30:
        # 960 bits differ is exactly 0.30 (accepted), 961 is 0.3003 (refused)
        (100, 960, 961),
        # 32 frames (1,024 bits): the limit is 0.5 - 0.2 * sqrt(64 / 32) = 0.21716:
        # 222 bits is 0.2168 (accepted), 223 is 0.2178 (refused)
        (32, 222, 223),
    ],
)
def test_bit_error_threshold_both_sides(frames, under, over):
    rng = np.random.default_rng(frames)
    settings = MatchSettings()
    original = _random_codes(rng, frames)
    for flips, accepted in ((under, True), (over, False)):
        copy = _with_flipped_bits(original, keep=8, flips=flips, rng=rng)
        error, count = aligned_error(original, copy, 0)
        assert count == frames and error == flips / (32 * frames)  # the premise: the bit error we built
        matches = find_matches([original, copy], settings)
        if accepted:
            (match,) = matches
            assert (match.a, match.b, match.offset, match.frames) == (0, 1, 0, frames)
            assert match.bit_error == error
        else:
            assert matches == [], (flips, matches)


def test_threshold_is_stricter_for_short_overlaps():
    """The same 25 % bit error passes over 100 frames and fails over 32 (limit 0.217 there)."""
    rng = np.random.default_rng(5)
    for frames, found in ((100, 1), (32, 0)):
        original = _random_codes(rng, frames)
        copy = _with_flipped_bits(original, keep=8, flips=8 * frames, rng=rng)  # 8 of 32 bits per code
        assert len(find_matches([original, copy])) == found, frames


def test_too_few_frames_never_match():
    """Under `min_frames` (20) aligned codes a pair is refused even when identical."""
    rng = np.random.default_rng(6)
    for frames, found in ((20, 1), (19, 0)):
        codes = _random_codes(rng, frames)
        assert len(find_matches([codes, codes.copy()])) == found, frames


def _drifting_pair(rng: np.random.Generator, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes that drift as real ones do (three bits change per frame) and a copy of them with one
    bit flipped in every code, a bit that changes at that very frame (so an unreliable one, by
    construction): no code is shared, only the near-code lookup can find the pair. The copy is
    1 bit from the original at the same frame, 2 bits from its neighbours."""
    drift = np.zeros((frames, 32), dtype=bool)
    for row in drift[1:]:
        row[rng.choice(32, size=3, replace=False)] = True
    steps = np.packbits(drift, axis=1, bitorder="little").view("<u4").reshape(-1)
    original = np.bitwise_xor.accumulate(
        steps ^ np.r_[_random_codes(rng, 1), np.zeros(frames - 1, np.uint32)]
    )
    changed = np.argmax(drift[np.r_[1, 1:frames]], axis=1)  # one bit that changes at each frame
    copy = original ^ np.left_shift(np.uint32(1), changed.astype(np.uint32))
    assert not (original == QUIET).any() and not (copy == QUIET).any()
    assert not np.isin(copy, original).any()  # nothing to find by exact codes
    return original, copy


def test_near_codes_find_a_copy_with_no_code_intact():
    original, copy = _drifting_pair(np.random.default_rng(7), 60)
    (match,) = find_matches([original, copy])
    assert (match.offset, match.frames, match.bit_error) == (0, 60, 1 / 32)
    assert find_matches([original, copy], MatchSettings(probe_below=0)) == []


def test_near_codes_only_for_files_under_probe_below():
    """255 non-quiet codes look up near codes (found), 256 do not (not found: nothing else shared)."""
    for frames, found in ((255, 1), (256, 0)):
        original, copy = _drifting_pair(np.random.default_rng(frames), frames)
        assert len(find_matches([original, copy])) == found, frames


def test_near_codes_of_a_trimmed_copy_among_other_files(monkeypatch):
    """The pair found by near codes is named by its positions in the list and at its offset: the
    copy lost its first 7 codes, so its code at p - 7 is the original's at p; the same one at a
    time (one file per batch of near codes)."""
    rng = np.random.default_rng(8)
    original, copy = _drifting_pair(rng, 120)
    prints = [_random_codes(rng, 90), original, _random_codes(rng, 50), copy[7:]]
    expected = [(1, 3, -7, 113, 1 / 32)]
    assert [(m.a, m.b, m.offset, m.frames, m.bit_error) for m in find_matches(prints)] == expected
    monkeypatch.setattr(matching, "PROBE_BATCH", 1)
    assert [(m.a, m.b, m.offset, m.frames, m.bit_error) for m in find_matches(prints)] == expected
    reversed_ = find_matches(prints[::-1])  # the copy first: b's code at p + 7 is a's at p
    assert [(m.a, m.b, m.offset) for m in reversed_] == [(0, 2, 7)]


def test_short_files_sample_denser_keys():
    """At least ~64 keys per file (`dense_keys`): 1 in 1 under 128 codes, 1 in 2 under 256, 1 in 4
    under 512, then 1 in 8 (`key_share_bits`)."""
    settings = MatchSettings()
    expected = {0: 0, 27: 0, 127: 0, 128: 1, 255: 1, 256: 2, 511: 2, 512: 3, 5_000: 3}
    assert {n: share_bits_of(n, settings) for n in expected} == expected
    assert share_bits_of(5_000, MatchSettings(key_share_bits=2)) == 2
    assert (
        share_bits_of(200, MatchSettings(dense_keys=100)) == 1
        and share_bits_of(199, MatchSettings(dense_keys=100)) == 0
    )


def test_key_levels_are_nested_and_sample_their_share():
    codes = _random_codes(np.random.default_rng(9), 80_000)
    levels = [set(keys_of(codes, bits).tolist()) for bits in range(4)]
    assert levels[0] == set(range(codes.size))  # every code at 1 in 1
    assert levels[3] < levels[2] < levels[1] < levels[0]
    for bits, picked in enumerate(levels):
        assert abs(len(picked) / codes.size - 2.0**-bits) < 0.01, bits
    quiet = codes.copy()
    quiet[::2] = QUIET
    assert set(keys_of(quiet, 0).tolist()) == set(range(1, codes.size, 2))  # quiet codes are never keys


def test_unreliable_bits_by_hand():
    codes = np.array([0b0001, 0b0011, 0b0011, QUIET, 0b0111, 0b0101], dtype=np.uint32)
    # 0: differs from the next in bit 1; 1: from the previous in bit 1; 2: agrees with the previous,
    # its next is quiet (no evidence); 3: quiet; 4: previous quiet, next differs in bit 1; 5: bit 1
    assert unreliable_bits(codes).tolist() == [0b0010, 0b0010, 0, 0, 0b0010, 0b0010]


def test_near_codes_by_hand():
    codes = np.array([0b0001, 0b0111, 0b0111], dtype=np.uint32)  # unreliable: bits 1 and 2 of codes 0 and 1
    variants, positions = near_codes(codes, max_unreliable=2)
    pairs = sorted(zip(positions.tolist(), variants.tolist(), strict=True))
    assert pairs == [(0, 0b0011), (0, 0b0101), (0, 0b0111), (1, 0b0001), (1, 0b0011), (1, 0b0101)]
    assert near_codes(codes, max_unreliable=1)[0].size == 0  # two unreliable bits are more than one
    # a near code that would be 0 (quiet) is dropped: 0b0011 with bits 0 and 1 unreliable
    variants, positions = near_codes(np.array([0b0001, 0b0011, 0b0010], dtype=np.uint32), 2)
    assert sorted(variants[positions == 1].tolist()) == [0b0001, 0b0010]


def test_near_codes_flip_up_to_max_unreliable_bits():
    """A code with exactly 8 unreliable bits gets 8 + 28 near codes, all distinct; with 9, none."""
    for count, expected in ((8, 36), (9, 0)):
        mask = np.uint32((1 << count) - 1) << np.uint32(5)
        codes = np.array([0x40000001, 0x40000001 ^ mask], dtype=np.uint32)
        variants, positions = near_codes(codes, max_unreliable=8)
        assert (positions == 0).sum() == expected, count
        first = variants[positions == 0]
        assert len(set(first.tolist())) == expected
        assert all(int(np.bitwise_count(v ^ codes[0])) in (1, 2) for v in first)
        assert all(int(v ^ codes[0]) & ~int(mask) == 0 for v in first)


def test_cover_of_the_shorter_file():
    """An identical stretch of 40 codes inside two otherwise unrelated files is not a copy unless
    it is at least 60 % of the shorter file's non-quiet codes."""
    rng = np.random.default_rng(10)
    shared = _random_codes(rng, 40)
    for other, found in ((26, 1), (27, 0)):  # 40 of 66 is 0.606, 40 of 67 is 0.597
        a = np.r_[shared, _random_codes(rng, other)]
        b = np.r_[_random_codes(rng, other), shared]
        assert len(find_matches([a, b])) == found, other
