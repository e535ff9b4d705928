"""What duplicate grouping keeps between runs (tables of migration 0011_duplicate_pairs), so a run
after adding files matches only those (pe_search/duplicates/incremental.py).

The store does not interpret the arrays: postings are sorted uint32 values with their slots and
positions (and, for short files' codes, their unreliable bits), kept in chunks of at most
`CHUNK` rows so no blob nears SQLite's limit, each written in its own transaction under a staged
name that the run's last transaction renames (`staged_name`). Also here: the light listings a run of a million
files needs (no ORM objects, no fingerprint blobs) and the codes of a chosen few files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from pe_search.store.schema import (
    AudioFingerprint,
    DuplicatePair,
    DuplicatePostings,
    DuplicateSlot,
    DuplicateState,
    MediaFile,
)

CHUNK = 4_000_000  # postings per row (about 40 MB)
IDS_PER_QUERY = 900  # SQLite's bound-parameter limit is 999 on old builds
SLOTS_PER_INSERT = 50_000  # slot rows built and inserted at once (a row dict is ~1 KB of Python)


def staged_name(book: str) -> str:
    """A book's chunks are written under this name (invisible to readers) a chunk per transaction,
    and renamed to the book in the run's last one. The same length as the book's name, so SQLite
    rewrites each renamed row in place (a same-size row overwrites only the pages that changed:
    the row's first page, not its blobs) and the rename costs no second copy in the WAL."""
    return book.upper()


_KIND = case((MediaFile.has_video, "video"), else_="audio")  # media_kind(), in SQL


KEYS, CODES = "keys", "codes"  # the books


@dataclass(frozen=True)
class GroupedMedia:
    """Every indexed file of the kinds asked for, by path: what content-hash grouping needs."""

    ids: list[int]
    paths: list[str]
    kinds: list[str]
    hashes: list[str | None]


@dataclass(frozen=True)
class FingerprintEntry:
    """One indexed file's stored fingerprint, without its codes: which one it is (hash, version,
    size) tells a run whether the copy it matched before is still the file's."""

    media_id: int
    path: str
    kind: str
    content_hash: str | None
    version: int
    code_bytes: int


@dataclass(frozen=True)
class Postings:
    """Sorted `values` (uint32) with their `slots` (uint32), `positions` (uint16) and, for short
    files' codes, `masks` (uint32 unreliable bits)."""

    values: np.ndarray
    slots: np.ndarray
    positions: np.ndarray
    masks: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class SlotRows:
    """Fingerprints the postings hold, as columns."""

    slots: np.ndarray
    media_ids: np.ndarray
    hashes: list[str | None]
    versions: np.ndarray
    code_bytes: np.ndarray
    share_bits: np.ndarray


@dataclass(frozen=True)
class SavedDuplicates:
    """What the last run of one kind left: its settings digest, the next slot, the slots held and
    the verified pairs (a < b media ids, offset, bit error, frames)."""

    kind: str
    settings: str
    next_slot: int
    slots: SlotRows
    pairs: np.ndarray  # (n, 5) float64: a, b, offset, bit_error, frames


@dataclass(frozen=True)
class DuplicateUpdate:
    """One run's changes to what is kept for `kind` (`LibraryStore.keep_duplicates`: the new
    postings staged a chunk per transaction, the rest in one last transaction). `reset` clears
    everything first (other settings, or the first run)."""

    kind: str
    settings: str
    next_slot: int
    reset: bool
    removed_slots: np.ndarray
    added: SlotRows
    segments: dict[str, Postings]  # book -> the new segment (empty ones are skipped)
    dropped_media: np.ndarray  # pairs of these files go
    pairs: list[tuple[int, int, int, float, int]]
    compacted: dict[str, Postings] | None = None  # book -> replaces every segment of it


def grouped_media(
    connection: Connection, kinds: tuple[str, ...], paired: Iterable[int] | None = None
) -> GroupedMedia:
    """Indexed files of these kinds by path. With `paired` (media ids of matched files), only the
    files a group can hold: those whose content hash another such file shares, and those ids (at a
    million files, most files are in no group, and listing them all cost seconds)."""
    base = select(MediaFile.id, MediaFile.path, _KIND, MediaFile.content_hash).where(
        MediaFile.status == "indexed", _KIND.in_(list(kinds))
    )
    if paired is None:
        rows = connection.execute(base.order_by(MediaFile.path)).all()
    else:
        shared = (
            select(MediaFile.content_hash)
            .where(MediaFile.status == "indexed", _KIND.in_(list(kinds)), MediaFile.content_hash != "")
            .group_by(MediaFile.content_hash)
            .having(func.count() > 1)
        )
        rows = list(connection.execute(base.where(MediaFile.content_hash.in_(shared))))
        ids = sorted(set(int(i) for i in paired) - {r[0] for r in rows})
        for first in range(0, len(ids), IDS_PER_QUERY):
            rows += connection.execute(base.where(MediaFile.id.in_(ids[first : first + IDS_PER_QUERY]))).all()
        rows.sort(key=lambda r: r[1])
    return GroupedMedia(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    )


def fingerprint_entries(connection: Connection, kinds: tuple[str, ...]) -> list[FingerprintEntry]:
    """Every indexed file's fingerprint of these kinds, without codes, by media id."""
    query = (
        select(
            MediaFile.id, MediaFile.path, _KIND, AudioFingerprint.content_hash, AudioFingerprint.version,
            func.length(AudioFingerprint.codes),
        )
        .join(AudioFingerprint, AudioFingerprint.media_file_id == MediaFile.id)
        .where(MediaFile.status == "indexed", _KIND.in_(list(kinds)))
        .order_by(MediaFile.id)
    )  # fmt: skip
    return [FingerprintEntry(*row) for row in connection.execute(query)]


def codes_of(connection: Connection, media_ids: Iterable[int]) -> dict[int, np.ndarray]:
    """The stored codes of these files (uint32), those whose blob is whole codes."""
    ids = sorted(set(int(i) for i in media_ids))
    found: dict[int, np.ndarray] = {}
    for first in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[first : first + IDS_PER_QUERY]
        query = select(AudioFingerprint.media_file_id, AudioFingerprint.codes).where(
            AudioFingerprint.media_file_id.in_(chunk)
        )
        for media_id, blob in connection.execute(query):
            if len(blob) % 4 == 0:
                found[media_id] = np.frombuffer(blob, dtype="<u4")
    return found


def saved(connection: Connection, kind: str) -> SavedDuplicates | None:
    state = connection.execute(select(DuplicateState).where(DuplicateState.kind == kind)).first()
    if state is None:
        return None
    rows = connection.execute(
        select(
            DuplicateSlot.slot, DuplicateSlot.media_file_id, DuplicateSlot.content_hash,
            DuplicateSlot.version, DuplicateSlot.code_bytes, DuplicateSlot.share_bits,
        )
        .where(DuplicateSlot.kind == kind)
        .order_by(DuplicateSlot.slot)
    ).all()  # fmt: skip
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 6
    slots = SlotRows(
        np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype=np.int64), list(columns[2]),
        np.array(columns[3], dtype=np.int64), np.array(columns[4], dtype=np.int64),
        np.array(columns[5], dtype=np.int64),
    )  # fmt: skip
    pairs = connection.execute(
        select(
            DuplicatePair.a,
            DuplicatePair.b,
            DuplicatePair.offset,
            DuplicatePair.bit_error,
            DuplicatePair.frames,
        )
        .join(MediaFile, MediaFile.id == DuplicatePair.a)
        .where(_KIND.in_([kind]))
    ).all()
    return SavedDuplicates(
        kind, state.settings, state.next_slot, slots, np.array(pairs, dtype=np.float64).reshape(-1, 5)
    )


def segments(connection: Connection, kind: str, book: str) -> list[Postings]:
    """Every segment of a book, each whole: its chunks copied into arrays sized first, so reading
    holds the book once (joining the chunks' bytes held it twice: 3 GB at a million files)."""
    where = (DuplicatePostings.kind == kind, DuplicatePostings.book == book)
    sizes = connection.execute(
        select(
            DuplicatePostings.segment, func.sum(func.length(DuplicatePostings.positions)) / 2,
            func.max(DuplicatePostings.masks.is_not(None)),
        )
        .where(*where)
        .group_by(DuplicatePostings.segment)
        .order_by(DuplicatePostings.segment)
    ).all()  # fmt: skip
    out: dict[int, Postings] = {}
    for segment, count, masked in sizes:
        count = int(count)
        out[segment] = Postings(
            np.empty(count, "<u4"), np.empty(count, "<u4"), np.empty(count, "<u2"),
            np.empty(count, "<u4") if masked else None,
        )  # fmt: skip
    filled = dict.fromkeys(out, 0)
    rows = connection.execute(
        select(
            DuplicatePostings.segment, DuplicatePostings.values, DuplicatePostings.slots,
            DuplicatePostings.positions, DuplicatePostings.masks,
        )
        .where(*where)
        .order_by(DuplicatePostings.id)  # a segment's chunks are written in order; no sorter copy
    )  # fmt: skip
    for segment, values, slots, positions, masks in rows:
        into, at = out[segment], filled[segment]
        end = at + len(positions) // 2
        into.values[at:end] = np.frombuffer(values, "<u4")
        into.slots[at:end] = np.frombuffer(slots, "<u4")
        into.positions[at:end] = np.frombuffer(positions, "<u2")
        if into.masks is not None:
            into.masks[at:end] = np.frombuffer(masks, "<u4")
        filled[segment] = end
    return list(out.values())


def apply(session: Session, change: DuplicateUpdate) -> None:
    """The run's last transaction: state, slots and pairs, and the staged chunks taken in."""
    kind = change.kind
    staged = list(change.compacted or change.segments)
    if change.reset:
        session.execute(
            delete(DuplicatePostings).where(
                DuplicatePostings.kind == kind, DuplicatePostings.book.in_([KEYS, CODES])
            )
        )
        session.execute(delete(DuplicateSlot).where(DuplicateSlot.kind == kind))
        media = select(MediaFile.id).where(_KIND.in_([kind]))
        session.execute(delete(DuplicatePair).where(DuplicatePair.a.in_(media)))
        session.execute(delete(DuplicateState).where(DuplicateState.kind == kind))
        session.add(DuplicateState(kind=kind, settings=change.settings, next_slot=change.next_slot))
    else:
        session.execute(
            update(DuplicateState).where(DuplicateState.kind == kind).values(next_slot=change.next_slot)
        )
    removed = [int(s) for s in change.removed_slots]
    for first in range(0, len(removed), IDS_PER_QUERY):
        session.execute(
            delete(DuplicateSlot).where(
                DuplicateSlot.kind == kind, DuplicateSlot.slot.in_(removed[first : first + IDS_PER_QUERY])
            )
        )
    dropped = [int(m) for m in change.dropped_media]
    for first in range(0, len(dropped), IDS_PER_QUERY):
        chunk = dropped[first : first + IDS_PER_QUERY]
        session.execute(delete(DuplicatePair).where(DuplicatePair.a.in_(chunk) | DuplicatePair.b.in_(chunk)))
    added = change.added
    for first in range(0, added.slots.size, SLOTS_PER_INSERT):
        part = slice(first, first + SLOTS_PER_INSERT)
        session.execute(
            insert(DuplicateSlot),
            [
                {"slot": int(s), "kind": kind, "media_file_id": int(m), "content_hash": h, "version": int(v),
                 "code_bytes": int(c), "share_bits": int(b)}
                for s, m, h, v, c, b in zip(
                    added.slots[part].tolist(), added.media_ids[part].tolist(), added.hashes[part],
                    added.versions[part].tolist(), added.code_bytes[part].tolist(),
                    added.share_bits[part].tolist(), strict=True,
                )
            ],
        )  # fmt: skip
    if change.pairs:
        session.execute(
            insert(DuplicatePair),
            [{"a": a, "b": b, "offset": o, "bit_error": e, "frames": f} for a, b, o, e, f in change.pairs],
        )
    for book in change.compacted or {}:
        session.execute(
            delete(DuplicatePostings).where(DuplicatePostings.kind == kind, DuplicatePostings.book == book)
        )
    for book in staged:  # the chunks stage() wrote in earlier transactions become the book's
        session.execute(
            update(DuplicatePostings)
            .where(DuplicatePostings.kind == kind, DuplicatePostings.book == staged_name(book))
            .values(book=book)
        )


def chunk_bounds(values: np.ndarray) -> list[tuple[int, int]]:
    """[begin, end) of each chunk of a sorted book: at most `CHUNK` postings, except that a run of
    equal values stays in one chunk."""
    bounds, begin = [], 0
    while begin < values.size:
        end = min(values.size, begin + CHUNK)
        if end < values.size:
            end = int(np.searchsorted(values, values[end - 1], side="right"))
        bounds.append((begin, end))
        begin = end
    return bounds


def discard_staged(session: Session, kind: str) -> None:
    """Drop chunks staged by a run that did not reach its last transaction (killed, or failed)."""
    session.execute(
        delete(DuplicatePostings).where(
            DuplicatePostings.kind == kind,
            DuplicatePostings.book.in_([staged_name(KEYS), staged_name(CODES)]),
        )
    )


def next_segment(session: Session, kind: str, book: str) -> int:
    """A segment number no chunk of the book (kept or staged) has."""
    last = session.scalar(
        select(func.max(DuplicatePostings.segment)).where(
            DuplicatePostings.kind == kind, DuplicatePostings.book.in_([book, staged_name(book)])
        )
    )
    return 0 if last is None else last + 1


def stage(
    session: Session, kind: str, book: str, segment: int, postings: Postings, begin: int, end: int
) -> None:
    """Write postings[begin:end] as one staged chunk of a segment of `book`."""
    session.add(
        DuplicatePostings(
            kind=kind, book=staged_name(book), segment=segment,
            values=postings.values[begin:end].astype("<u4").tobytes(),
            slots=postings.slots[begin:end].astype("<u4").tobytes(),
            positions=postings.positions[begin:end].astype("<u2").tobytes(),
            masks=None if postings.masks is None else postings.masks[begin:end].astype("<u4").tobytes(),
        )
    )  # fmt: skip
    session.flush()


def segment_count(connection: Connection, kind: str, book: str) -> int:
    return (
        connection.scalar(
            select(func.count(func.distinct(DuplicatePostings.segment))).where(
                DuplicatePostings.kind == kind, DuplicatePostings.book == book
            )
        )
        or 0
    )
