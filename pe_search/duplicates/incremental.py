"""Matching that keeps what it learnt, so a run after adding files looks only at what is new.

matching.py's lookup over the whole library, split so that each vote is made where one of its two
files is new. A run keeps in the library (store: duplicate_books.py) the verified pairs, the sorted
lookup keys of every file (`keys` book) and the codes of short files with their unreliable bits
(`codes` book). The next run matches the new files D against everything:

- keys of D against keys of D (the sorted loop of matching.py) and against the kept keys;
- near codes of D's short files against every key;
- kept short files' near codes against D's keys, found from the other side: a near code is a code
  with one or two of its unreliable bits flipped, so each key of D looks up the codes within two
  bits of it in the `codes` book and checks the flipped bits are unreliable ones there.

Votes are counted per pair and offset as matching.py counts them, pairs are verified by the same
alignment, and the kept pairs of files that did not change are reused. A key shared by more than
`max_postings` files is no evidence; adding or removing files can move a key across that line,
which changes votes between two old files: the files holding such a key, and the short files
whose near codes reach it, are matched again as if new. So a run after changes gives the pairs a
run from scratch gives (tests/test_duplicates_incremental.py). A removed or changed file's pairs
and postings go (its slot is dropped; its postings stay in the book, dead, until a compaction).

Pairs are ordered by media id (a < b); an empty library state, or other match settings or
fingerprint version, starts from scratch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from pe_search.duplicates import audio_fingerprint
from pe_search.duplicates.audio_fingerprint import QUIET
from pe_search.duplicates.matching import (
    PROBE_BATCH,
    MatchSettings,
    is_key_at,
    near_codes,
    unreliable_bits,
    verify,
)
from pe_search.store import (
    DuplicateUpdate,
    FingerprintEntry,
    LibraryStore,
    Postings,
    SavedDuplicates,
    SlotRows,
)

KEYS, CODES = "keys", "codes"
FORMAT = 1  # bump when what the books hold changes
FILES_PER_PASS = 20_000  # files whose codes are joined at once
MAX_SEGMENTS = 8  # more segments than this in a book, or ...
MAX_DEAD_SHARE = 0.25  # ... this share of dead postings: the run writes the book afresh
_SIDE, _OFFSET_BIAS = 1 << 24, 1 << 15
_BLOCK = 1 << 23  # postings converted or gathered at once
_BALL = np.array(
    [1 << i for i in range(32)] + [(1 << i) | (1 << j) for i in range(32) for j in range(i + 1, 32)],
    dtype=np.uint32,
)  # every code within two bits of a key, by xor


@dataclass(frozen=True)
class PairMatch:
    """Files `a` < `b` (media ids) hold the same recording: b's code at p + offset is a's at p."""

    offset: int
    bit_error: float
    frames: int


@dataclass(frozen=True)
class Matched:
    """A run's verified pairs by (a, b) media ids, how many files it matched (new or again), and
    what to keep for the next run."""

    pairs: dict[tuple[int, int], PairMatch]
    matched_files: int
    update: DuplicateUpdate


def settings_digest(settings: MatchSettings) -> str:
    text = json.dumps([asdict(settings), audio_fingerprint.VERSION, FORMAT], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def share_bits(loud: np.ndarray, settings: MatchSettings) -> np.ndarray:
    """matching.share_bits_of for many files at once."""
    bits = np.zeros(loud.shape, dtype=np.int64)
    for level in range(1, settings.key_share_bits + 1):
        bits += (loud >> level) >= settings.dense_keys
    return bits


# ------------------------------------------------------------------------------------ the new files
@dataclass
class _Prints:
    """The files matched in this run, in media id order (file i takes the i-th new slot): only
    the codes of short files are held (the near-code lookup and the `codes` book need them;
    verification reads the few candidates again), so memory follows the keys, not the codes."""

    local: np.ndarray  # each file's position among all live files (by media id)
    codes: dict[int, np.ndarray]  # short files' codes, by file
    loud: np.ndarray
    bits: np.ndarray

    def short(self, settings: MatchSettings) -> np.ndarray:
        return np.flatnonzero(self.loud < settings.probe_below)

    def short_codes(self, slots: np.ndarray, settings: MatchSettings) -> Postings:
        """The codes of the short files a near code can come from (not quiet, at most
        `max_unreliable` unreliable bits), with those bits, sorted by code."""
        short = self.short(settings)
        parts = []
        for first in range(0, short.size, FILES_PER_PASS):
            chosen = short[first : first + FILES_PER_PASS]
            joined, begins, owner = _joined([self.codes[int(i)] for i in chosen])
            masks = unreliable_bits(joined)
            usable = np.flatnonzero((joined != QUIET) & (np.bitwise_count(masks) <= settings.max_unreliable))
            file = owner[usable]
            parts.append(
                Postings(
                    joined[usable], slots[chosen[file]].astype(np.uint32),
                    (usable - begins[file]).astype(np.uint16), masks[usable].astype(np.uint32),
                )
            )  # fmt: skip
        return _merge(parts) if parts else _empty(masks=True)


@dataclass
class _Read:
    """Files read in passes: which were found (some may have gone since they were listed), how
    many non-quiet codes each has, their lookup keys (unsorted parts, slot = index in `ids`) and
    the codes of the short ones (by index)."""

    ids: list[int]
    loud: np.ndarray
    keys: list[Postings]
    short: dict[int, np.ndarray]


def _read(
    read_codes: Callable[[list[int]], dict[int, np.ndarray]], ids: list[int], settings: MatchSettings
) -> _Read:
    """Read the codes of `ids` `FILES_PER_PASS` files at a time, keeping only their keys (at
    each file's level, matching.keys_of) and the codes of short files."""
    found: list[int] = []
    louds, parts = [], []
    short: dict[int, np.ndarray] = {}
    for first in range(0, len(ids), FILES_PER_PASS):
        got = read_codes(ids[first : first + FILES_PER_PASS])
        chunk = [m for m in ids[first : first + FILES_PER_PASS] if m in got]
        if not chunk:
            continue
        codes = [got.pop(m) for m in chunk]
        del got
        base = len(found)
        found += chunk
        loud = np.array([int(np.count_nonzero(c != QUIET)) for c in codes], dtype=np.int64)
        louds.append(loud)
        joined, begins, owner = _joined(codes)
        picked = np.flatnonzero((joined != QUIET) & is_key_at(joined, share_bits(loud, settings)[owner]))
        file = owner[picked]
        parts.append(
            Postings(
                joined[picked], (file + base).astype(np.uint32), (picked - begins[file]).astype(np.uint16)
            )
        )
        del joined, begins, owner, picked, file
        for index in np.flatnonzero(loud < settings.probe_below).tolist():
            short[base + index] = codes[index]
    loud = np.concatenate(louds) if louds else np.zeros(0, dtype=np.int64)
    return _Read(found, loud, parts, short)


def _together(reads: list[_Read], first_slot: int) -> tuple[list[int], np.ndarray, list[Postings], dict]:
    """Reads joined in media id order: (ids, loud, key parts with slots from `first_slot` on in
    that order, short codes by position in it)."""
    ids = [m for r in reads for m in r.ids]
    order = np.argsort(np.array(ids, dtype=np.int64), kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    parts: list[Postings] = []
    short: dict[int, np.ndarray] = {}
    base = 0
    for r in reads:
        for part in r.keys:
            part.slots[:] = (rank[part.slots.astype(np.int64) + base] + first_slot).astype(np.uint32)
            parts.append(part)
        short |= {int(rank[base + i]): c for i, c in r.short.items()}
        base += len(r.ids)
    loud = np.concatenate([r.loud for r in reads])[order] if reads else np.zeros(0, np.int64)
    return [ids[i] for i in order.tolist()], loud, parts, short


def _joined(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes joined with a quiet code after each file (so neighbours never cross files), where
    each begins, and the file of each joined position."""
    sizes = np.array([c.size + 1 for c in codes])
    begins = np.cumsum(sizes) - sizes
    joined = np.zeros(int(sizes.sum()), dtype=np.uint32)
    for begin, c in zip(begins.tolist(), codes, strict=True):
        joined[begin : begin + c.size] = c
    return joined, begins, np.repeat(np.arange(sizes.size), sizes)


def _empty(masks: bool = False) -> Postings:
    return Postings(
        np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros(0, np.uint16),
        np.zeros(0, np.uint32) if masks else None,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ a kept book
class _Book:
    """A book's segments as kept, read through a mask of the slots alive."""

    def __init__(self, segments: list[Postings]) -> None:
        self.segments = segments
        self._bitmap: _Bitmap | None = None

    def bitmap(self) -> _Bitmap:
        """Every value the book holds (alive or not), made on first use."""
        if self._bitmap is None:
            self._bitmap = _Bitmap(*(s.values for s in self.segments))
        return self._bitmap

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    def find(
        self, values: np.ndarray, alive: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(which value, slot, position, mask) of every posting of an alive slot equal to one of
        `values` (distinct)."""
        which, slots, positions, masks = [], [], [], []
        for segment in self.segments:
            lo = np.searchsorted(segment.values, values, side="left")
            hi = np.searchsorted(segment.values, values, side="right")
            index, at = _ranges(lo, hi)
            keep = alive[segment.slots[at]]
            which.append(index[keep])
            slots.append(segment.slots[at[keep]].astype(np.int64))
            positions.append(segment.positions[at[keep]].astype(np.int64))
            if segment.masks is not None:
                masks.append(segment.masks[at[keep]])
        if not which:
            none = np.zeros(0, np.int64)
            return none, none, none, None
        return (
            np.concatenate(which), np.concatenate(slots), np.concatenate(positions),
            np.concatenate(masks) if masks else None,
        )  # fmt: skip

    def count(self, values: np.ndarray, alive: np.ndarray) -> np.ndarray:
        which = self.find(values, alive)[0]
        return np.bincount(which, minlength=values.size)

    def with_slots(self, wanted: np.ndarray) -> np.ndarray:
        """The values of every posting of these slots (a bool mask by slot)."""
        return np.concatenate([s.values[wanted[s.slots]] for s in self.segments] or [np.zeros(0, np.uint32)])

    def alive_postings(self, alive: np.ndarray) -> list[Postings]:
        out = []
        for s in self.segments:
            keep = alive[s.slots]
            out.append(
                Postings(
                    s.values[keep],
                    s.slots[keep],
                    s.positions[keep],
                    None if s.masks is None else s.masks[keep],
                )
            )
        return out


class _Bitmap:
    """Which uint32 values are in a set: one bit per value (512 MB), for a first test of many
    near codes against the keys (or of the keys' two-bit neighbours against the short codes).
    Made from sorted arrays: the bits of each byte are or-ed over its run of values (a reduce over
    runs, not a scattered `bitwise_or.at`, which took 4 s for 40 M values)."""

    def __init__(self, *sorted_values: np.ndarray) -> None:
        self.bits = np.zeros(1 << 29, dtype=np.uint8)
        for values in sorted_values:
            for lo in range(0, values.size, _BLOCK):
                block = values[lo : lo + _BLOCK]
                byte = block >> 3
                starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]]) if block.size else byte[:0]
                bits = np.bitwise_or.reduceat(np.left_shift(1, block & 7).astype(np.uint8), starts)
                self.bits[byte[starts]] |= bits

    def has(self, values: np.ndarray) -> np.ndarray:
        return (self.bits[values >> 3] >> (values & 7).astype(np.uint8)) & 1 == 1


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): (range number, index) of every index in them."""
    count = hi - lo
    total = int(count.sum())
    index = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)
    return np.repeat(np.arange(lo.size), count), index.astype(np.int64)


def _ball_hits(
    keys: np.ndarray, book: _Book, alive: np.ndarray, level: np.ndarray, settings: MatchSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(which key, slot, position) of every code in `book` (short files' codes of alive slots)
    that one of its files' near codes turns into `keys[which]`: the key is within two bits of the
    code, those bits are unreliable there, and the key is a lookup key at that file's level."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    step = max(1, 4_000_000 // _BALL.size)
    present = book.bitmap()
    for first in range(0, keys.size, step):
        chunk = keys[first : first + step]
        near = (chunk[:, None] ^ _BALL[None, :]).reshape(-1)
        kept = np.flatnonzero(present.has(near))  # most of a key's neighbours are no short code
        near, which, flips = near[kept], kept // _BALL.size, _BALL[kept % _BALL.size]
        distinct, inverse = np.unique(near, return_inverse=True)
        hit, slots, positions, masks = book.find(distinct, alive)
        if not hit.size:
            continue
        # every (near value, posting) hit back to the keys that made the near value
        order = np.argsort(inverse, kind="stable")
        sorted_inverse = inverse[order]
        lo = np.searchsorted(sorted_inverse, hit, side="left")
        hi = np.searchsorted(sorted_inverse, hit, side="right")
        posting, at = _ranges(lo, hi)
        source = order[at]
        key_index, flip = which[source], flips[source]
        mask, slot = masks[posting], slots[posting]
        ok = (flip & ~mask) == 0
        ok &= is_key_at(chunk[key_index], level[slot])
        found.append((key_index[ok] + first, slot[ok], positions[posting][ok]))
    if not found:
        none = np.zeros(0, np.int64)
        return none, none, none
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------ votes
def _pack(first: np.ndarray, second: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """One int64 per vote: the pair ordered (a < b, local indexes) and b's offset from a."""
    first, second, offset = first.astype(np.int64), second.astype(np.int64), offset.astype(np.int64)
    swap = first > second
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    offset = np.where(swap, -offset, offset)
    other = first != second
    return (first[other] << 40) | (second[other] << 16) | (offset[other] + _OFFSET_BIAS)


def _candidates(votes: list[np.ndarray], settings: MatchSettings) -> np.ndarray:
    """(m, 3) rows (a, b, offset): pairs with at least `min_votes` at one offset, at their
    best-voted one (ties: the largest offset), as matching.candidate_pairs chooses."""
    if not votes:
        return np.zeros((0, 3), dtype=np.int64)
    packed, counts = np.unique(np.concatenate(votes), return_counts=True)
    strong = counts >= settings.min_votes
    packed, counts = packed[strong], counts[strong]
    if not packed.size:
        return np.zeros((0, 3), dtype=np.int64)
    pair = packed >> 16
    best = np.lexsort((counts, pair))
    last = np.r_[pair[best][1:] != pair[best][:-1], True]
    chosen = packed[best][last]
    return np.stack([chosen >> 40, (chosen >> 16) & (_SIDE - 1), (chosen & 0xFFFF) - _OFFSET_BIAS], axis=1)


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if values.size else np.zeros(0, np.int64)
    return starts, np.diff(np.r_[starts, values.size])


def _votes(
    prints: _Prints,
    new: Postings,
    local_of_slot: np.ndarray,
    old_keys: _Book,
    old_codes: _Book,
    alive: np.ndarray,
    level_of_slot: np.ndarray,
    settings: MatchSettings,
) -> list[np.ndarray]:
    """Every vote with at least one file of `prints` in it (`new`: their keys, by slot)."""
    votes: list[np.ndarray] = []
    # per run of equal new keys, int32 (at a million files, 80 M runs: int64 columns and a
    # per-batch sum of them were 2.5 GB of the peak)
    starts, sizes = _runs(new.values)
    starts, sizes = starts.astype(np.int32), sizes.astype(np.int32)
    distinct = new.values[starts]
    total = sizes  # postings of each value, new and kept
    if old_keys.segments:
        total = sizes + old_keys.count(distinct, alive).astype(np.int32)
    usable_run = total <= settings.max_postings
    usable = np.repeat(usable_run, sizes)
    # 12 bytes a key here (int32 files and positions), not 20: at a million files, 100 M keys
    value, position = new.values[usable], new.positions[usable].astype(np.int32)
    file = _gathered(local_of_slot.astype(np.int32), new.slots[usable])
    # keys of the new files against each other (matching.candidate_pairs' loop)
    for gap in range(1, min(settings.max_postings, max(value.size, 1))):
        same = np.flatnonzero(value[gap:] == value[:-gap])
        if not same.size:
            break
        votes.append(_pack(file[same], file[same + gap], position[same + gap] - position[same]))
    del value, position, file, usable
    # ... and against the kept keys
    if old_keys.segments:
        keys_in = distinct[usable_run]
        which, slots, positions, _ = old_keys.find(keys_in, alive)
        run_start, run_size = starts[usable_run][which], sizes[usable_run][which]
        mine, at = _ranges(run_start, run_start + run_size)
        votes.append(
            _pack(
                local_of_slot[new.slots[at]], local_of_slot[slots[mine]],
                positions[mine] - new.positions[at].astype(np.int64),
            )
        )  # fmt: skip
    # near codes of the new short files against every key
    short = prints.short(settings)
    present = _Bitmap(distinct) if short.size and not old_keys.segments else None
    for first in range(0, short.size, PROBE_BATCH):
        chosen = short[first : first + PROBE_BATCH]
        votes.append(
            _probe(
                prints,
                chosen,
                new,
                (starts, sizes, distinct, total, present),
                old_keys,
                local_of_slot,
                alive,
                settings,
            )
        )
    # near codes of the kept short files against the new keys
    if old_codes.segments:
        keys_in = distinct[usable_run]
        which, slots, positions = _ball_hits(keys_in, old_codes, alive, level_of_slot, settings)
        run_start, run_size = starts[usable_run][which], sizes[usable_run][which]
        mine, at = _ranges(run_start, run_start + run_size)
        votes.append(
            _pack(
                local_of_slot[slots[mine]], local_of_slot[new.slots[at]],
                new.positions[at].astype(np.int64) - positions[mine],
            )
        )  # fmt: skip
    return votes


def _probe(
    prints: _Prints,
    chosen: np.ndarray,
    new: Postings,
    runs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Bitmap | None],
    old_keys: _Book,
    local_of_slot: np.ndarray,
    alive: np.ndarray,
    settings: MatchSettings,
) -> np.ndarray:
    """Votes of the near codes of the files `chosen` (positions in `prints`) on every key.
    `runs`: the new keys' runs (starts, sizes, values), the postings of each value new and kept,
    and a bitmap of the new values (a run from scratch: most near codes hit no key)."""
    starts, sizes, distinct, run_total, present = runs
    joined, begins, _ = _joined([prints.codes[i] for i in chosen])
    probe, at = near_codes(joined, settings.max_unreliable)
    owner = np.searchsorted(begins, at, side="right") - 1
    kept = is_key_at(probe, prints.bits[chosen][owner])
    if present is not None:
        kept &= present.has(probe)
    at = (at - begins[owner])[kept]
    probe, owner = probe[kept], owner[kept]
    me = prints.local[chosen][owner]
    votes = []
    # how many alive postings each probed value has, new and kept: a stop-key is no evidence
    total = np.zeros(probe.size, dtype=np.int64)
    new_run = np.zeros(probe.size, dtype=np.int64)
    in_new = np.zeros(probe.size, dtype=bool)
    if starts.size:
        new_run = np.minimum(np.searchsorted(distinct, probe), starts.size - 1)
        in_new = distinct[new_run] == probe
        total[in_new] = run_total[new_run[in_new]]
    if old_keys.segments:
        distinct_probe, inverse = np.unique(probe, return_inverse=True)
        old_which, old_slots, old_positions, _ = old_keys.find(distinct_probe, alive)
        only_old = np.bincount(old_which, minlength=distinct_probe.size)
        total = np.where(in_new, total, only_old[inverse])
    usable = (total > 0) & (total <= settings.max_postings)
    # hits on the new keys
    hit = in_new & usable
    run = new_run[hit]
    lo = starts[run]
    mine, posting = _ranges(lo, lo + sizes[run])
    source = np.flatnonzero(hit)[mine]
    votes.append(
        _pack(
            me[source], local_of_slot[new.slots[posting]],
            new.positions[posting].astype(np.int64) - at[source],
        )
    )  # fmt: skip
    # hits on the kept keys
    if old_keys.segments:
        usable_value = np.zeros(distinct_probe.size, dtype=bool)
        usable_value[inverse[usable]] = True
        keep = usable_value[old_which]
        old_which, old_slots, old_positions = old_which[keep], old_slots[keep], old_positions[keep]
        order = np.argsort(inverse, kind="stable")
        sorted_inverse = inverse[order]
        lo = np.searchsorted(sorted_inverse, old_which, side="left")
        hi = np.searchsorted(sorted_inverse, old_which, side="right")
        posting, index = _ranges(lo, hi)
        source = order[index]
        votes.append(
            _pack(me[source], local_of_slot[old_slots[posting]], old_positions[posting] - at[source])
        )
    return np.concatenate(votes)


# -------------------------------------------------------------------------------------------- run
def match_kind(
    store: LibraryStore,
    kind: str,
    settings: MatchSettings,
    damaged: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Matched:
    """The verified pairs among the fingerprinted files of one kind, matching only what changed
    since the run whose state the store keeps, and that state updated for the next run."""
    digest = settings_digest(settings)
    current = {}
    for entry in store.fingerprint_entries((kind,)):
        if entry.code_bytes % 4:
            if damaged is not None:
                damaged(entry.path)
        elif entry.version == audio_fingerprint.VERSION and entry.code_bytes:
            current[entry.media_id] = entry
    saved = store.saved_duplicates(kind)
    reset = saved is None or saved.settings != digest
    if reset:
        saved = SavedDuplicates(kind, digest, 0, _no_slots(), np.zeros((0, 5)))
    slots = saved.slots
    same = np.array(
        [
            (e := current.get(int(m))) is not None
            and (e.content_hash, e.version, e.code_bytes) == (h, int(v), int(b))
            for m, h, v, b in zip(
                slots.media_ids, slots.hashes, slots.versions, slots.code_bytes, strict=True
            )
        ],
        dtype=bool,
    )
    size = int(saved.next_slot)
    was_alive = np.zeros(size, dtype=bool)
    was_alive[slots.slots] = True
    alive = np.zeros(size, dtype=bool)
    alive[slots.slots[same]] = True
    level_of_slot = np.zeros(size, dtype=np.int64)
    level_of_slot[slots.slots] = slots.share_bits
    media_of_slot = np.full(size, -1, dtype=np.int64)
    media_of_slot[slots.slots] = slots.media_ids
    old_keys = _Book(store.duplicate_segments(kind, KEYS) if not reset and slots.slots.size else [])
    old_codes = _Book(store.duplicate_segments(kind, CODES) if not reset and slots.slots.size else [])
    new_ids = sorted(set(current) - set(slots.media_ids[same].tolist()))
    reads = [_read(store.fingerprint_codes, new_ids, settings)]
    if progress is not None:
        progress(len(current))

    # Keys that crossed the stop-key line: their holders and probers are matched again.
    removed = was_alive & ~alive
    if old_keys.segments and (reads[0].ids or removed.any()):
        fresh_values = np.sort(np.concatenate([p.values for p in reads[0].keys] or [np.zeros(0, np.uint32)]))
        changed = np.unique(np.concatenate([fresh_values, old_keys.with_slots(removed)]))
        before = old_keys.count(changed, was_alive)
        after = old_keys.count(changed, alive) + _count_in(fresh_values, changed)
        flipped = changed[(before > settings.max_postings) != (after > settings.max_postings)]
        if flipped.size:
            holders = old_keys.find(flipped, alive)[1]
            probers = np.zeros(0, dtype=np.int64)
            if old_codes.segments:
                probers = _ball_hits(flipped, old_codes, alive, level_of_slot, settings)[1]
            again = np.unique(np.concatenate([holders, probers])).astype(np.int64)
            alive[again] = False
            reads.append(_read(store.fingerprint_codes, media_of_slot[again].tolist(), settings))
    new_ids, loud, parts, short = _together(reads, size)
    del reads

    kept_slots = np.flatnonzero(alive)
    live_media = np.concatenate([media_of_slot[kept_slots], np.array(new_ids, dtype=np.int64)])
    new_slots = np.arange(size, size + len(new_ids), dtype=np.int64)
    all_slots = np.concatenate([kept_slots, new_slots])
    order = np.argsort(live_media, kind="stable")
    local_of_slot = np.full(size + len(new_ids), -1, dtype=np.int64)
    local_of_slot[all_slots[order]] = np.arange(order.size)
    media_of_local = live_media[order]
    alive = np.r_[alive, np.zeros(len(new_ids), dtype=bool)]
    prints = _Prints(local_of_slot[new_slots], short, loud, share_bits(loud, settings))
    level_of_slot = np.r_[level_of_slot, prints.bits]
    new_keys = _merge(parts)
    votes = _votes(prints, new_keys, local_of_slot, old_keys, old_codes, alive, level_of_slot, settings)
    candidates = _candidates(votes, settings)
    del votes

    codes = {new_ids[i]: c for i, c in short.items()}
    codes |= store.fingerprint_codes(set(media_of_local[candidates[:, :2].reshape(-1)].tolist()) - set(codes))
    pairs: dict[tuple[int, int], PairMatch] = {}
    for a, b, offset in candidates.tolist():
        first, second = int(media_of_local[a]), int(media_of_local[b])
        if first not in codes or second not in codes:  # gone since it was listed
            continue
        found = verify(codes[first], codes[second], offset, settings)
        if found is not None:
            pairs[(first, second)] = PairMatch(found[0], found[1], found[2])
    matched = set(new_ids)
    gone = set(media_of_slot[was_alive & ~alive[:size]].tolist())
    dropped = matched | gone
    for a, b, offset, error, frames in saved.pairs.tolist():
        if int(a) not in dropped and int(b) not in dropped:
            pairs[(int(a), int(b))] = PairMatch(int(offset), error, int(frames))

    update = _update(
        kind, digest, reset, size, new_slots, [current[m] for m in new_ids], prints, new_keys,
        was_alive & ~alive[:size], dropped, pairs, matched, old_keys, old_codes, alive, settings,
    )  # fmt: skip
    return Matched(pairs, len(new_ids), update)


def _count_in(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """How often each of `wanted` (sorted, distinct) occurs in sorted `values`."""
    return np.searchsorted(values, wanted, side="right") - np.searchsorted(values, wanted, side="left")


def _no_slots() -> SlotRows:
    none = np.zeros(0, dtype=np.int64)
    return SlotRows(none, none, [], none, none, none)


def _update(
    kind: str,
    digest: str,
    reset: bool,
    size: int,
    new_slots: np.ndarray,
    entries: list[FingerprintEntry],
    prints: _Prints,
    new_keys: Postings,
    removed: np.ndarray,
    dropped: set[int],
    pairs: dict[tuple[int, int], PairMatch],
    matched: set[int],
    old_keys: _Book,
    old_codes: _Book,
    alive: np.ndarray,
    settings: MatchSettings,
) -> DuplicateUpdate:
    """What to keep: the new slots and their postings, the pairs of the files matched now."""
    new_codes = prints.short_codes(new_slots, settings)
    added = SlotRows(
        new_slots, np.array([e.media_id for e in entries], dtype=np.int64), [e.content_hash for e in entries],
        np.array([e.version for e in entries], dtype=np.int64),
        np.array([e.code_bytes for e in entries], dtype=np.int64), prints.bits,
    )  # fmt: skip
    segments = {KEYS: new_keys, CODES: new_codes}
    compacted = None
    dead = old_keys.size - sum(int(np.count_nonzero(alive[s.slots])) for s in old_keys.segments)
    if not reset and (
        len(old_keys.segments) + 1 > MAX_SEGMENTS or dead > MAX_DEAD_SHARE * max(old_keys.size, 1)
    ):
        compacted = {
            KEYS: _merge(old_keys.alive_postings(alive[:size]) + [new_keys]),
            CODES: _merge(old_codes.alive_postings(alive[:size]) + [new_codes]),
        }
        segments = {}
    new_pairs = [
        (a, b, match.offset, match.bit_error, match.frames)
        for (a, b), match in pairs.items()
        if a in matched or b in matched
    ]
    return DuplicateUpdate(
        kind=kind, settings=digest, next_slot=size + len(entries), reset=reset,
        removed_slots=np.flatnonzero(removed), added=added,
        segments={book: p for book, p in segments.items() if p.size}, dropped_media=np.array(sorted(dropped)),
        pairs=new_pairs, compacted=compacted,
    )  # fmt: skip


def _merge(parts: list[Postings]) -> Postings:
    """The parts joined and sorted by value (equal values in the parts' order). Takes the parts
    out of `parts` as it copies them, and sorts one uint64 per posting in place (the value over
    the posting's index) instead of an argsort and gathers: about 22 bytes a posting at the peak
    (the joined arrays, the packed sort and the order), where a whole-array argsort and gather took
    twice that."""
    kept = [p for p in parts if p.size]
    parts.clear()
    if not kept:
        return _empty()
    total = sum(p.size for p in kept)
    values = np.empty(total, dtype=np.uint32)
    slots = np.empty(total, dtype=np.uint32)
    positions = np.empty(total, dtype=np.uint16)
    masks = None if kept[0].masks is None else np.empty(total, dtype=np.uint32)
    at = 0
    for index in range(len(kept)):
        part, kept[index] = kept[index], None  # type: ignore[call-overload]
        end = at + part.size
        values[at:end], slots[at:end], positions[at:end] = part.values, part.slots, part.positions
        if masks is not None:
            masks[at:end] = part.masks
        at = end
        del part
    packed = np.empty(total, dtype=np.uint64)
    for lo in range(0, total, _BLOCK):
        hi = min(total, lo + _BLOCK)
        packed[lo:hi] = (values[lo:hi].astype(np.uint64) << np.uint64(32)) | np.arange(
            lo, hi, dtype=np.uint64
        )
    packed.sort()
    order = np.empty(total, dtype=np.uint32)
    for lo in range(0, total, _BLOCK):
        hi = min(total, lo + _BLOCK)
        values[lo:hi] = packed[lo:hi] >> np.uint64(32)
        order[lo:hi] = packed[lo:hi] & np.uint64(0xFFFFFFFF)
    del packed
    return Postings(
        values, _gathered(slots, order), _gathered(positions, order),
        None if masks is None else _gathered(masks, order),
    )  # fmt: skip


def _gathered(array: np.ndarray, order: np.ndarray) -> np.ndarray:
    """array[order], a block at a time (fancy indexing makes an int64 copy of its index)."""
    out = np.empty(order.size, dtype=array.dtype)
    for lo in range(0, order.size, _BLOCK):
        out[lo : lo + _BLOCK] = array[order[lo : lo + _BLOCK]]
    return out
