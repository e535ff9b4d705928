"""Which fingerprints hold the same recording: candidate lookup by shared codes, then alignment.

No pairwise scan. A sample of each file's codes, chosen by value (so a trimmed copy samples the
same codes as its original, wherever its frames start), goes into one sorted posting list; two
files that share codes at a consistent time offset become a candidate pair, at that offset. A
candidate is accepted when its codes, aligned at that offset (and one hop either side), differ in
at most `max_bit_error` of their bits over enough of the shorter file. Copies keep most bits
(measured: under 0.2 for every transformation in docs/duplicates.md); two different recordings
differ in about half, however alike they sound.

Short files (a few seconds) need more from the lookup: a lossy copy keeps 88-98 % of the bits,
so only a few of its 32-bit codes survive whole, and a short file has few codes. So a file with
few codes samples its keys more densely (the sampling levels are nested: a sparse file's keys are
among a dense one's), and also looks up near codes, as Haitsma and Kalker do: its codes with one
or two of their least reliable bits flipped. Which bits are unreliable is read from the codes
themselves: frames overlap 15/16, so a bit that differs from the neighbouring frames' is one
whose energy difference sits near zero, the bits a codec flips. Over few frames two unrelated
sounds can agree by chance more often, so a short alignment must meet a stricter bit error.

Cost: sorting the postings (n files x codes per file x `key_share`, at least `dense_keys` per
file), one binary search per near code of the short files, and one aligned comparison per
candidate pair; codes so common that more than `max_postings` files share them (silence-like
patterns) are skipped as lookup keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.duplicates.audio_fingerprint import QUIET

_MIX = np.uint32(0x9E3779B1)  # Knuth's multiplicative hash: which codes are sampled as keys
OFFSET_BIAS = 1 << 19
MAX_FILES = 1 << 20
PROBE_BATCH = 4096  # files whose near codes are made and looked up at once


@dataclass(frozen=True)
class MatchSettings:
    """The defaults are the settings docs/duplicates.md measures."""

    key_share_bits: int = 3  # 1 code in 2**bits is a lookup key
    dense_keys: int = 64  # ... but a file with few codes keeps at least about this many keys
    probe_below: int = 256  # files with fewer non-quiet codes (6 s) also look up near codes
    max_unreliable: int = 8  # near codes flip 1-2 of a code's unreliable bits, if it has at most this many
    max_postings: int = 64  # a key shared by more files than this is no evidence
    min_votes: int = 2  # shared keys at one offset that make a candidate
    max_bit_error: float = 0.30  # accepted bit error rate of the aligned codes ...
    full_frames: int = 64  # ... over at least this many frames (1.5 s); over fewer, a stricter one
    min_frames: int = 20  # at least this many aligned, non-quiet codes (0.46 s)
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


def _is_key(codes: np.ndarray, share_bits: int) -> np.ndarray:
    """Whether each code is sampled at 1 in 2**share_bits; nested: a key at more bits is a key at fewer."""
    if not share_bits:
        return np.ones(codes.shape, dtype=bool)
    return (codes.astype(np.uint32) * _MIX) >> np.uint32(32 - share_bits) == 0


def keys_of(codes: np.ndarray, share_bits: int) -> np.ndarray:
    """Positions of the codes sampled as lookup keys (by value, so shift-invariant)."""
    return np.flatnonzero((codes != QUIET) & _is_key(codes, share_bits))


def share_bits_of(loud: int, settings: MatchSettings) -> int:
    """How sparsely a file with `loud` non-quiet codes samples its keys: 1 in 2**bits, at most
    `key_share_bits`, and fewer bits (denser) while that leaves under `dense_keys` keys."""
    bits = 0
    while bits < settings.key_share_bits and loud >> (bits + 1) >= settings.dense_keys:
        bits += 1
    return bits


def unreliable_bits(codes: np.ndarray) -> np.ndarray:
    """Per code, the bits that differ from the previous or the next frame's code (quiet
    neighbours and the ends count as agreeing)."""
    codes = codes.astype(np.uint32)
    loud = codes != QUIET
    out = np.zeros_like(codes)
    step = np.where(loud[1:] & loud[:-1], codes[1:] ^ codes[:-1], 0).astype(np.uint32)
    out[1:] |= step
    out[:-1] |= step
    return out


def near_codes(codes: np.ndarray, max_unreliable: int) -> tuple[np.ndarray, np.ndarray]:
    """(variants, positions): each non-quiet code with one or two of its unreliable bits flipped,
    for codes with at most `max_unreliable` of them."""
    codes = codes.astype(np.uint32)
    flags = unreliable_bits(codes)
    usable = np.flatnonzero((codes != QUIET) & (np.bitwise_count(flags) <= max_unreliable))
    bits = np.unpackbits(flags[usable].astype("<u4").view(np.uint8), bitorder="little").reshape(-1, 32)
    rows, columns = np.nonzero(bits)  # sorted by row, then bit
    where = usable[rows]
    flipped = codes[where] ^ np.left_shift(np.uint32(1), columns.astype(np.uint32))
    variants, positions = [flipped], [where]
    for gap in range(1, max_unreliable):
        same = rows[gap:] == rows[:-gap]
        if not same.any():
            break
        # flipped[i] has one bit flipped; xor with the code gives that bit, so this flips both
        variants.append((flipped[:-gap] ^ flipped[gap:] ^ codes[where[gap:]])[same])
        positions.append(where[:-gap][same])
    variant, position = np.concatenate(variants), np.concatenate(positions)
    keep = variant != QUIET
    return variant[keep], position[keep]


def _pack(first: np.ndarray, second: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """One int64 per vote: the pair ordered (a < b) and b's offset from a."""
    swap = first > second
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    offset = np.where(swap, -offset, offset)
    other = first != second
    return (first[other] << 40) | (second[other] << 20) | (offset[other] + OFFSET_BIAS)


def candidate_pairs(prints: list[np.ndarray], settings: MatchSettings) -> np.ndarray:
    """(m, 3) int64 rows (a, b, offset), a < b, each pair once at its best-voted offset."""
    if len(prints) >= MAX_FILES:
        raise ValueError(f"at most {MAX_FILES - 1} fingerprints at once")
    keys, files, positions = [], [], []
    probing, probe_bits = [], []
    for index, codes in enumerate(prints):
        loud = int(np.count_nonzero(codes != QUIET))
        share_bits = share_bits_of(loud, settings)
        picked = keys_of(codes, share_bits)
        keys.append(codes[picked])
        files.append(np.full(picked.size, index, dtype=np.int32))
        positions.append(picked.astype(np.int32))
        if loud < settings.probe_below:
            probing.append(index)
            probe_bits.append(share_bits)
    if not keys:
        return np.zeros((0, 3), dtype=np.int64)
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    key, file, position = key[order], np.concatenate(files)[order], np.concatenate(positions)[order]
    # Runs of equal keys; drop stop-keys. Singletons stay: a near code may find them.
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, key.size])
    usable = np.repeat(sizes <= settings.max_postings, sizes)
    key, file, position = key[usable], file[usable], position[usable]
    votes = []
    for gap in range(1, min(settings.max_postings, max(key.size, 1))):
        same = np.flatnonzero(key[gap:] == key[:-gap])
        if not same.size:
            break
        first, second = file[same].astype(np.int64), file[same + gap].astype(np.int64)
        votes.append(_pack(first, second, position[same + gap].astype(np.int64) - position[same]))
    for first in range(0, len(probing) if key.size else 0, PROBE_BATCH):  # batches bound the memory
        batch = probing[first : first + PROBE_BATCH]
        votes.append(
            _probe_votes(
                (key, file, position),
                [prints[i] for i in batch],
                batch,
                probe_bits[first : first + PROBE_BATCH],
                settings,
            )
        )
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


def _probe_votes(
    postings: tuple[np.ndarray, np.ndarray, np.ndarray],
    prints: list[np.ndarray],
    indexes: list[int],
    share_bits: list[int],
    settings: MatchSettings,
) -> np.ndarray:
    """Votes of the near codes of `prints` (the files `indexes`, each sampled at its own
    `share_bits`) that equal a key of the sorted `postings` (key, file, position): one per (near
    code, posting) hit. All files at once: a quiet code between two files keeps them apart."""
    key, file, position = postings
    sizes = np.array([p.size + 1 for p in prints])
    joined = np.zeros(int(sizes.sum()), dtype=np.uint32)
    begins = np.cumsum(sizes) - sizes
    for begin, codes in zip(begins.tolist(), prints, strict=True):
        joined[begin : begin + codes.size] = codes
    probe, at = near_codes(joined, settings.max_unreliable)
    owner = np.searchsorted(begins, at, side="right") - 1
    kept = is_key_at(probe, np.asarray(share_bits)[owner])
    present = np.zeros(1 << 24, dtype=bool)  # a cheap first test: is any key in this code's bucket?
    present[key >> 8] = True
    kept &= present[probe >> 8]
    probe, owner, at = probe[kept], owner[kept], at[kept]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    run_sizes = np.diff(np.r_[starts, key.size])
    run = np.minimum(np.searchsorted(key[starts], probe), starts.size - 1)
    hit = key[starts[run]] == probe
    run, owner, at = run[hit], owner[hit], at[hit]
    count = run_sizes[run]
    posting = np.repeat(starts[run] - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    first = np.repeat(np.asarray(indexes, dtype=np.int64)[owner], count)
    offset = position[posting].astype(np.int64) - np.repeat(at - begins[owner], count)
    return _pack(first, file[posting].astype(np.int64), offset)


def is_key_at(codes: np.ndarray, share_bits: np.ndarray) -> np.ndarray:
    """`_is_key` with a level per code."""
    mixed = codes.astype(np.uint32) * _MIX
    return (mixed.astype(np.uint64) >> (32 - share_bits).astype(np.uint64)) == 0


def bit_error_limit(frames: int, settings: MatchSettings) -> float:
    """The accepted bit error over `frames` aligned codes: `max_bit_error` over `full_frames` or
    more; over fewer, as far from 0.5 (unrelated sound) as the spread of chance agreement grows,
    by sqrt(full_frames / frames)."""
    if frames >= settings.full_frames:
        return settings.max_bit_error
    return 0.5 - (0.5 - settings.max_bit_error) * float(np.sqrt(settings.full_frames / max(frames, 1)))


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
    if frames < settings.min_frames or frames < settings.min_cover * loud:
        return None
    if error > bit_error_limit(frames, settings):
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
