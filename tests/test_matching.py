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
    bit_error_limit,
    candidate_pairs,
    find_matches,
    keys_of,
    near_codes,
    share_bits_of,
    unreliable_bits,
    verify,
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


def _drifting_pair(rng: np.random.Generator, frames: int, changes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Codes that drift as real ones do (three bits change per frame) and a copy of them with one
    bit flipped in every code, a bit that changes at that very frame (so an unreliable one, by
    construction): no code is shared, only the near-code lookup can find the pair. The copy is
    1 bit from the original at the same frame, 2 bits from its neighbours."""
    drift = np.zeros((frames, 32), dtype=bool)
    for row in drift[1:]:
        row[rng.choice(32, size=changes, replace=False)] = True
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


def test_a_short_copy_of_a_long_files_stretch_either_way_round():
    """Only the short file (100 codes) looks up near codes; the long one (300) samples 1 key in 8.
    The copy holds the original's codes 50-149, each one bit off: b's code at p + offset is a's
    at p, so the offset is -50 with the original first and +50 with the copy first."""
    original, flipped = _drifting_pair(np.random.default_rng(11), 300)
    copy = flipped[50:150]
    (match,) = find_matches([original, copy])
    assert (match.a, match.b, match.offset, match.frames, match.bit_error) == (0, 1, -50, 100, 1 / 32)
    (match,) = find_matches([copy, original])
    assert (match.a, match.b, match.offset, match.frames, match.bit_error) == (0, 1, 50, 100, 1 / 32)


# ------------------------------------------------------------------ the lookup's parts, one at a time


def _not_level(rng: np.random.Generator, count: int, bits: int) -> np.ndarray:
    """`count` random codes that are not keys at 1 in 2**bits (and not quiet)."""
    out = np.zeros(0, dtype=np.uint32)
    while out.size < count:
        batch = _random_codes(rng, 4 * count)
        out = np.r_[out, np.delete(batch, keys_of(batch, bits))]
    return out[:count]


def _level(rng: np.random.Generator, count: int, bits: int) -> np.ndarray:
    """`count` random codes that are keys at 1 in 2**bits."""
    out = np.zeros(0, dtype=np.uint32)
    while out.size < count:
        batch = _random_codes(rng, 64 * count)
        out = np.r_[out, batch[keys_of(batch, bits)]]
    return out[:count]


def test_nothing_to_pair_gives_an_empty_int64_table():
    rng = np.random.default_rng(12)
    quiet = np.zeros(50, dtype=np.uint32)
    for prints in ([], [quiet, quiet.copy()], [_random_codes(rng, 50), _random_codes(rng, 50)]):
        pairs = candidate_pairs(prints, MatchSettings())
        assert pairs.shape == (0, 3) and pairs.dtype == np.int64


def test_too_many_prints_are_refused(monkeypatch):
    monkeypatch.setattr(matching, "MAX_FILES", 4)
    rng = np.random.default_rng(13)
    assert candidate_pairs([_random_codes(rng, 30) for _ in range(3)], MatchSettings()).shape == (0, 3)
    with pytest.raises(ValueError, match="^at most 3 fingerprints at once$"):
        candidate_pairs([_random_codes(rng, 30) for _ in range(4)], MatchSettings())


def test_quiet_codes_are_not_counted_as_loud():
    """100 loud codes and 300 quiet ones: a short file (it looks up near codes), not a long one."""
    original, copy = _drifting_pair(np.random.default_rng(14), 100)
    padded = np.r_[original, np.zeros(300, dtype=np.uint32)]
    (match,) = find_matches([padded, copy])
    assert (match.offset, match.frames) == (0, 100)


def test_a_long_file_keys_one_code_in_eight():
    """Two 600-code files share 100 codes at one offset: a candidate when those codes are keys at
    1 in 8, none when they are keys only at denser levels."""
    rng = np.random.default_rng(15)
    for shared, found in ((_level(rng, 100, 3), 1), (_not_level(rng, 100, 3), 0)):
        a = np.r_[shared, _random_codes(rng, 500)]
        b = np.r_[_random_codes(rng, 500), shared]
        assert len(candidate_pairs([a, b], MatchSettings())) == found


@pytest.mark.parametrize(("files", "found"), [(64, 64 * 63 // 2), (65, 0)])
def test_a_key_shared_by_more_than_max_postings_files_is_no_evidence(files, found):
    rng = np.random.default_rng(files)
    common = _random_codes(rng, 2)
    prints = []
    for _ in range(files):
        codes = _random_codes(rng, 30)
        codes[[5, 15]] = common
        prints.append(codes)
    assert len(candidate_pairs(prints, MatchSettings())) == found


def test_stop_keys_can_leave_no_key_at_all():
    """70 identical short files: every code is a stop-key, nothing is left to look near codes up in."""
    original, _ = _drifting_pair(np.random.default_rng(16), 40)
    assert candidate_pairs([original.copy() for _ in range(70)], MatchSettings()).shape == (0, 3)


def test_each_pair_once_at_one_offset():
    """Two pairs, each sharing codes at two offsets (the second file repeats the first's start):
    one row per pair."""
    rng = np.random.default_rng(17)
    a, c = _random_codes(rng, 60), _random_codes(rng, 60)
    prints = [a, np.r_[a[:30], a[:30]], c, np.r_[c[:30], c[:30]]]
    pairs = candidate_pairs(prints, MatchSettings())
    assert sorted((a, b) for a, b, _ in pairs.tolist()) == [(0, 1), (2, 3)]
    assert {offset for _, _, offset in pairs.tolist()} <= {0, 30}


def test_pairs_with_neighbouring_numbers_stay_apart():
    rng = np.random.default_rng(18)
    a = _random_codes(rng, 80)
    prints = [a, _random_codes(rng, 80), a.copy(), a.copy()]
    assert sorted((m.a, m.b) for m in find_matches(prints)) == [(0, 2), (0, 3), (2, 3)]


def _is_key_at_1_in_2(code: int) -> bool:
    return keys_of(np.array([code], dtype=np.uint32), 1).size == 1


def _target(rng: np.random.Generator, low: int, high: int) -> int:
    """A code in [low, high) with bits 0 and 1 clear whose value and value ^ 2 are keys at 1 in 2."""
    while True:
        code = int(rng.integers(low, high)) & ~3
        if code and _is_key_at_1_in_2(code) and _is_key_at_1_in_2(code ^ 2):
            return code


def _near_only(rng: np.random.Generator, length: int, near: dict[int, tuple[int, int]]) -> np.ndarray:
    """`length` random codes (each with more than 8 unreliable bits: no near codes) but at each
    position p of `near`, (value, bit): a code whose unreliable bits are `bit` and three of bits
    8-10 and 12, so that value is one of its near codes."""
    codes = _random_codes(rng, length)
    for position, (value, bit) in near.items():
        middle = np.uint32(value ^ (1 << bit))
        codes[position] = middle
        codes[position - 1] = middle ^ np.uint32((1 << bit) | (1 << 8))
        codes[position + 1] = middle ^ np.uint32((1 << 9) | (1 << 10) | (1 << 12))
    return codes


@pytest.mark.parametrize("where", ["smallest", "largest", "middle"])
def test_one_near_code_is_one_vote_at_its_offset(where):
    """A 40-code file (every code a key) and a 150-code file (keys and near codes 1 in 2) whose
    code at 10 is one unreliable bit off the first's code at 20: one vote at offset -10, wherever
    that key sorts among all keys (first, last, or shared by two files), and only while the near
    code is a key at the probing file's 1 in 2. A near code above every key (largest) finds
    nothing."""
    rng = np.random.default_rng(19)
    ranges = {
        "smallest": ((1 << 8, 1 << 16), (1 << 28, 1 << 32)),
        "largest": ((0xFFFF0000, 1 << 32), (1 << 20, 1 << 28)),
    }
    (low, high), (plow, phigh) = ranges.get(where, ((1 << 30, 1 << 31), (1 << 20, 1 << 32)))
    target = _target(rng, low, high)
    posting = rng.integers(plow, phigh, size=40, dtype=np.uint64).astype(np.uint32)
    posting[20] = target
    near = {10: (target, 0), 30: (target ^ 2, 5)}  # the second is no key: target ^ 2 is in no file
    probing = _near_only(rng, 150, near)
    prints = [_random_codes(rng, 30), posting, probing]
    expected = {(1, 2, -10)}
    if where == "middle":
        prints.append(posting.copy())  # the key is in two files: a run of two postings
        expected |= {(2, 3, 10), (1, 3, 0)}
    found = {tuple(row) for row in candidate_pairs(prints, MatchSettings(min_votes=1)).tolist()}
    assert found == expected
    assert {tuple(row) for row in candidate_pairs(prints, MatchSettings()).tolist()} == expected - {
        (1, 2, -10),
        (2, 3, 10),
    }
    # the same near code that is no key at 1 in 2 (so not looked up by a file sampling 1 in 2)
    while True:
        other = int(rng.integers(low, high)) & ~3
        if other and not _is_key_at_1_in_2(other):
            break
    posting[20] = other
    prints[2] = _near_only(rng, 150, {10: (other, 0)})
    found = {tuple(row) for row in candidate_pairs(prints[:3], MatchSettings(min_votes=1)).tolist()}
    assert found == set()


def test_bit_error_limit_by_hand():
    settings = MatchSettings()
    expected = {1_000: 0.30, 64: 0.30, 32: 0.5 - 0.2 * 2**0.5, 16: 0.1, 4: -0.3, 1: -1.1, 0: -1.1}
    assert {f: round(bit_error_limit(f, settings), 9) for f in expected} == {
        f: round(v, 9) for f, v in expected.items()
    }


def test_aligned_error_by_hand():
    a = np.array([5, QUIET, 7, 8], dtype=np.uint32)
    b = np.array([5, 9, 6], dtype=np.uint32)
    # positions 0 and 2 are loud in both: 0 bits and 1 bit (7 ^ 6) differ, of 64
    assert aligned_error(a, b, 0) == (1 / 64, 2)
    assert aligned_error(a, b, 3) == (1.0, 0)  # no overlap
    assert aligned_error(a, b, -4) == (1.0, 0)
    assert aligned_error(a[1:2], b[1:2], 0) == (1.0, 0)  # overlap, all quiet
    assert aligned_error(a, b, -1) == (6 / 64, 2)  # a[1] quiet; 7 ^ 9 and 8 ^ 6 are 3 bits each


def test_verify_looks_one_hop_either_side():
    rng = np.random.default_rng(20)
    a = _random_codes(rng, 100)
    b = a[3:]  # b's code at p - 3 is a's at p
    settings = MatchSettings()
    for offset in (-2, -3, -4):
        assert verify(a, b, offset, settings) == (-3, 0.0, 97), offset
    for offset in (-1, -5):
        assert verify(a, b, offset, settings) is None, offset


def test_cover_boundary_is_inclusive():
    """30 shared codes of 50 non-quiet ones in the shorter file is exactly 60 %: accepted."""
    rng = np.random.default_rng(21)
    shared = _random_codes(rng, 30)
    a = np.r_[shared, _random_codes(rng, 20)]
    b = np.r_[_random_codes(rng, 20), shared]
    (match,) = find_matches([a, b])
    assert (match.offset, match.frames, match.bit_error) == (20, 30, 0.0)


def test_a_near_code_at_a_files_first_position_counts_for_that_file():
    """The probing file's code 0 is one unreliable bit (bit 0, flipped by its next code) off the
    other file's code 20: the vote is the probing file's, at offset -20."""
    rng = np.random.default_rng(22)
    posting = rng.integers(1 << 20, 1 << 32, size=40, dtype=np.uint64).astype(np.uint32)
    posting[20] = _target(rng, 1 << 30, 1 << 31)
    probing = _random_codes(rng, 150)
    probing[0] = posting[20] ^ np.uint32(1)
    probing[1] = probing[0] ^ np.uint32(1 | 1 << 8)
    found = {tuple(row) for row in candidate_pairs([posting, probing], MatchSettings(min_votes=1)).tolist()}
    assert found == {(0, 1, -20)}


def test_verify_keeps_the_candidate_offset_on_a_tie():
    """With two bits changing per frame, the copy is 1 bit off the original at its own frame and
    at the next one: a tie (1/32 both), and the candidate's own offset is kept."""
    original, copy = _drifting_pair(np.random.default_rng(7), 120, changes=2)
    assert aligned_error(original, copy, 0)[0] == aligned_error(original, copy, 1)[0] == 1 / 32
    assert verify(original, copy, 0, MatchSettings()) == (0, 1 / 32, 120)
