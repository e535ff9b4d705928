"""Duplicate groups of a library: exact copies (same content hash) and copies in other forms (same
audio fingerprint, matching.py), files of one kind at a time, and which file of each to keep.

    groups = find_duplicates(store, kind="audio")

Matches the fingerprints new since the last run against all (incremental.py: candidates by shared
codes, each aligned once), and joins the verified pairs and equal content hashes into groups
(union-find). Audio and video
files are grouped separately: a video and the sound track extracted from it are not the same file
for a user tidying a library. Silent video is grouped by content hash only (there is no picture
fingerprint yet).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pe_search.duplicates import audio_fingerprint
from pe_search.duplicates.incremental import PairMatch, match_kind
from pe_search.duplicates.matching import Match, MatchSettings, find_matches
from pe_search.media.file_info import FileInfo, file_info
from pe_search.store import LibraryBusyError, LibraryReadOnlyError, LibraryStore

KINDS = ("audio", "video")
SAME_DURATION_S = 0.25  # durations closer than this count as equal when choosing what to keep


@dataclass(frozen=True)
class Member:
    """A file to group: its content hash and fingerprint codes (None: no sound)."""

    media_id: int
    path: str
    kind: str
    content_hash: str | None
    codes: np.ndarray | None


@dataclass(frozen=True)
class DuplicateFile:
    path: str
    kind: str
    duration: float | None
    format: str | None
    codec: str | None
    bit_rate: int | None
    sample_rate: int | None
    channels: int | None
    size: int | None
    exists: bool
    keep: bool
    how: str  # "kept", "exact copy", "same recording"
    bit_error: float | None  # of its fingerprint against the kept file's, when compared
    offset_seconds: float | None  # where in the kept file this one's sound begins; > 0: its start was cut


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str
    files: tuple[DuplicateFile, ...]  # the one to keep first
    keep: str
    reason: str


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_members(
    members: list[Member], settings: MatchSettings | None = None
) -> tuple[list[list[int]], dict]:
    """Groups (positions in `members`, each of 2+) and the verified pairs {(a, b): Match}."""
    joined = _joined_by_content_hash(members)
    printed = [i for i, m in enumerate(members) if m.codes is not None and m.codes.size]
    pairs = {}
    for match in find_matches([members[i].codes for i in printed], settings):
        a, b = printed[match.a], printed[match.b]
        joined.union(a, b)
        pairs[(a, b)] = match
    return _groups_of(joined, len(members)), pairs


def choose_keep(infos: list[FileInfo], paths: list[str]) -> tuple[int, str]:
    """Which file to keep: one that exists, the longest (a trimmed copy lost something), then
    lossless over lossy, then the highest bit rate, sample rate and channel count, then by path."""

    def rank(i: int):
        info = infos[i]
        duration = round((info.duration or 0.0) / SAME_DURATION_S)
        return (
            info.exists,
            duration,
            info.lossless,
            info.bit_rate or 0,
            info.sample_rate or 0,
            info.channels or 0,
        )

    order = sorted(range(len(infos)), key=lambda i: (tuple(-x for x in rank(i)), paths[i]))
    best = order[0]
    reasons = []
    others = [infos[i] for i in order[1:]]
    info = infos[best]
    if any(
        round((o.duration or 0) / SAME_DURATION_S) < round((info.duration or 0) / SAME_DURATION_S)
        for o in others
    ):
        reasons.append("longest (others are trimmed)")
    if info.lossless and any(not o.lossless for o in others):
        reasons.append(f"lossless ({info.codec})")
    if not reasons and any((o.bit_rate or 0) < (info.bit_rate or 0) for o in others):
        reasons.append("highest bit rate")
    return best, ", ".join(reasons) or "equal copies: the first by path"


def find_duplicates(
    store: LibraryStore,
    kind: str | None = None,
    settings: MatchSettings | None = None,
    progress: Callable[[int], None] | None = None,
    damaged: Callable[[str], None] | None = None,
) -> list[DuplicateGroup]:
    """Every duplicate group of the library (of one kind if given), largest groups first.

    Fingerprints are matched incrementally (incremental.py): only files new or changed since the
    last run are looked up, and a store open for writing keeps what this run learnt for the next.
    A file whose stored fingerprint is damaged is left out of fingerprint matching (it can still
    be an exact copy by content hash) and its path given to `damaged`, so one bad row costs one
    file, not the whole report."""
    settings = settings or MatchSettings()
    kinds = (kind,) if kind else KINDS
    groups = []
    for group_kind in kinds:
        matched = match_kind(store, group_kind, settings, damaged=damaged, progress=progress)
        if not store.readonly:
            store.keep_duplicates(matched.update)
        media = store.grouped_media((group_kind,), paired={m for pair in matched.pairs for m in pair})
        members = [
            Member(media_id, path, group_kind, content_hash, None)
            for media_id, path, content_hash in zip(media.ids, media.paths, media.hashes, strict=True)
        ]
        found, pairs = group_matched(members, matched.pairs)
        groups += [_describe(group_kind, [members[i] for i in g], g, pairs) for g in found]
    groups.sort(key=lambda g: (-len(g.files), g.keep))
    return groups


@contextmanager
def open_for_duplicates(library_dir: str | Path) -> Iterator[LibraryStore]:
    """The library open for writing, so `find_duplicates` keeps what it learns for the next run;
    open for reading while another process writes to it (or its disk is read-only): the run then
    matches what changed since the last kept run, and keeps nothing."""
    try:
        store = LibraryStore.open(library_dir, create=False)
    except (LibraryBusyError, LibraryReadOnlyError):
        store = LibraryStore.open(library_dir, readonly=True)
    with store:
        yield store


def group_matched(
    members: list[Member], matched: dict[tuple[int, int], PairMatch]
) -> tuple[list[list[int]], dict[tuple[int, int], Match]]:
    """Groups (positions in `members`, each of 2+) of equal content hashes and verified pairs
    (by media ids), and those pairs by positions, as `group_members` gives them."""
    joined = _joined_by_content_hash(members)
    position = {member.media_id: i for i, member in enumerate(members)}
    pairs = {}
    for (first, second), match in matched.items():
        a, b = position.get(first), position.get(second)
        if a is None or b is None:
            continue
        offset = match.offset if a < b else -match.offset  # b's code at p + offset is a's at p
        a, b = min(a, b), max(a, b)
        joined.union(a, b)
        pairs[(a, b)] = Match(a, b, offset, match.bit_error, match.frames)
    return _groups_of(joined, len(members)), pairs


def _joined_by_content_hash(members: list[Member]) -> _UnionFind:
    """A union-find over `members` with every set of equal content hashes already joined."""
    joined = _UnionFind(len(members))
    by_hash: dict[str, int] = {}
    for i, member in enumerate(members):
        if member.content_hash:
            first = by_hash.setdefault(member.content_hash, i)
            if first != i:
                joined.union(first, i)
    return joined


def _groups_of(joined: _UnionFind, count: int) -> list[list[int]]:
    """The sets of two or more positions that `joined` holds."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(count):
        groups[joined.find(i)].append(i)
    return [g for g in groups.values() if len(g) > 1]


def _describe(kind: str, members: list[Member], positions: list[int], pairs: dict) -> DuplicateGroup:
    infos = [file_info(m.path) for m in members]
    keep, reason = choose_keep(infos, [m.path for m in members])
    kept = members[keep]
    files = []
    for i in [keep, *[j for j in range(len(members)) if j != keep]]:
        member, info = members[i], infos[i]
        how, bit_error, offset = "kept", None, None
        if i != keep:
            if member.content_hash and member.content_hash == kept.content_hash:
                how = "exact copy"
            else:
                how = "same recording"
                a, b = sorted((positions[keep], positions[i]))
                match = pairs.get((a, b))
                if match is not None:
                    bit_error = round(match.bit_error, 4)
                    # b's code at p + offset is a's at p
                    shift = match.offset if a == positions[keep] else -match.offset
                    offset = round(-shift * audio_fingerprint.HOP_SECONDS, 3)
        files.append(
            DuplicateFile(
                path=member.path, kind=kind, duration=info.duration, format=info.format, codec=info.codec,
                bit_rate=info.bit_rate, sample_rate=info.sample_rate, channels=info.channels, size=info.size,
                exists=info.exists, keep=i == keep, how=how, bit_error=bit_error, offset_seconds=offset,
            )
        )  # fmt: skip
    return DuplicateGroup(kind, tuple(files), kept.path, reason)
