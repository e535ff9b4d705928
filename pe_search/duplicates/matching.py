"""Which fingerprints hold the same recording: candidate lookup by shared codes, then alignment.

No pairwise scan. A sample of each file's codes, chosen by value (so a trimmed copy samples the
same codes as its original, wherever its frames start), goes into one sorted posting list; two
files that share codes at a consistent time offset become a candidate pair, at that offset. A
candidate is accepted when its codes, aligned at that offset (and one hop either side), differ in
at most `max_bit_error` of their bits over enough of the shorter file. Copies keep most bits
(measured: under 0.2 for every transformation in docs/duplicates.md); two different recordings
differ in about half, however alike they sound.

Cost: sorting the postings (n files x codes per file x `key_share`) and one aligned comparison
per candidate pair; codes so common that more than `max_postings` files share them (silence-like
patterns) are skipped as lookup keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.duplicates.audio_fingerprint import QUIET

_MIX = np.uint32(0x9E3779B1)  # Knuth's multiplicative hash: which codes are sampled as keys
OFFSET_BIAS = 1 << 19
MAX_FILES = 1 << 20


@dataclass(frozen=True)
class MatchSettings:
    """The defaults are the settings docs/duplicates.md measures."""

    key_share_bits: int = 3  # 1 code in 2**bits is a lookup key
    max_postings: int = 64  # a key shared by more files than this is no evidence
    min_votes: int = 2  # shared keys at one offset that make a candidate
    max_bit_error: float = 0.30  # accepted bit error rate of the aligned codes
    min_frames: int = 43  # at least this many aligned, non-quiet codes (1 s)
    min_cover: float = 0.6  # ... and this share of the shorter file's non-quiet codes


@dataclass(frozen=True)
class Match:
    """Files `a` < `b` (positions in the list given) hold the same recording: b's code at
    position p + offset is a's code at p."""

    a: int
    b: int
    offset: int
    bit_error: float
    frames: int


def keys_of(codes: np.ndarray, share_bits: int) -> np.ndarray:
    """Positions of the codes sampled as lookup keys (by value, so shift-invariant)."""
    mixed = (codes.astype(np.uint32) * _MIX) >> np.uint32(32 - share_bits) if share_bits else None
    keep = codes != QUIET
    if mixed is not None:
        keep &= mixed == 0
    return np.flatnonzero(keep)


def candidate_pairs(prints: list[np.ndarray], settings: MatchSettings) -> np.ndarray:
    """(m, 3) int64 rows (a, b, offset), a < b, each pair once at its best-voted offset."""
    if len(prints) >= MAX_FILES:
        raise ValueError(f"at most {MAX_FILES - 1} fingerprints at once")
    keys, files, positions = [], [], []
    for index, codes in enumerate(prints):
        picked = keys_of(codes, settings.key_share_bits)
        keys.append(codes[picked])
        files.append(np.full(picked.size, index, dtype=np.int32))
        positions.append(picked.astype(np.int32))
    if not keys:
        return np.zeros((0, 3), dtype=np.int64)
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    key, file, position = key[order], np.concatenate(files)[order], np.concatenate(positions)[order]
    # Runs of equal keys; drop singletons and stop-keys.
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, key.size])
    usable = np.repeat((sizes >= 2) & (sizes <= settings.max_postings), sizes)
    key, file, position = key[usable], file[usable], position[usable]
    votes = []
    for gap in range(1, min(settings.max_postings, max(key.size, 1))):
        same = np.flatnonzero(key[gap:] == key[:-gap])
        if not same.size:
            break
        first, second = file[same].astype(np.int64), file[same + gap].astype(np.int64)
        offset = position[same + gap].astype(np.int64) - position[same]
        swap = first > second
        first, second = np.where(swap, second, first), np.where(swap, first, second)
        offset = np.where(swap, -offset, offset)
        other = first != second
        votes.append((first[other] << 40) | (second[other] << 20) | (offset[other] + OFFSET_BIAS))
    if not votes:
        return np.zeros((0, 3), dtype=np.int64)
    packed, counts = np.unique(np.concatenate(votes), return_counts=True)
    strong = counts >= settings.min_votes
    packed, counts = packed[strong], counts[strong]
    if not packed.size:  # keys shared, but no pair reached the vote count
        return np.zeros((0, 3), dtype=np.int64)
    pair = packed >> 20
    best = np.lexsort((counts, pair))  # by pair, then votes: the last of each pair is its best offset
    last = np.r_[pair[best][1:] != pair[best][:-1], True]
    chosen = packed[best][last]
    return np.stack(
        [chosen >> 40, (chosen >> 20) & (MAX_FILES - 1), (chosen & (MAX_FILES - 1)) - OFFSET_BIAS], axis=1
    )


def aligned_error(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int]:
    """Bit error rate of a[p] vs b[p + offset] over positions where neither is quiet, and how
    many positions that was."""
    first = max(0, -offset)
    last = min(a.size, b.size - offset)
    if last <= first:
        return 1.0, 0
    x, y = a[first:last], b[first + offset : last + offset]
    loud = (x != QUIET) & (y != QUIET)
    count = int(loud.sum())
    if not count:
        return 1.0, 0
    errors = int(np.bitwise_count(x[loud] ^ y[loud]).sum())
    return errors / (32 * count), count


def verify(
    a: np.ndarray, b: np.ndarray, offset: int, settings: MatchSettings
) -> tuple[int, float, int] | None:
    """(offset, bit error, frames) of the best alignment near `offset` if it passes, else None."""
    best: tuple[float, int, int] | None = None
    for shift in (offset, offset - 1, offset + 1):
        error, frames = aligned_error(a, b, shift)
        if best is None or error < best[0]:
            best = (error, frames, shift)
    error, frames, shift = best
    loud = min(int((a != QUIET).sum()), int((b != QUIET).sum()))
    if error > settings.max_bit_error or frames < settings.min_frames or frames < settings.min_cover * loud:
        return None
    return shift, error, frames


def find_matches(prints: list[np.ndarray], settings: MatchSettings | None = None) -> list[Match]:
    """Every verified pair among `prints` (uint32 code arrays)."""
    settings = settings or MatchSettings()
    matches = []
    for a, b, offset in candidate_pairs(prints, settings).tolist():
        found = verify(prints[a], prints[b], offset, settings)
        if found is not None:
            shift, error, frames = found
            matches.append(Match(a, b, shift, error, frames))
    return matches
