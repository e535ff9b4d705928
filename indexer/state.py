"""What changed on disk since the last run: unchanged, modified, moved, new, gone.

A file is unchanged when its size and mtime match what the library recorded; when they do not,
its content hash, which covers every byte, decides (a touched but identical file is not
re-encoded; an edit anywhere in it is). A new path whose hash matches a recorded file that is no
longer on disk is a move: its vectors are kept.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer.reader import FileJob
from indexer.walk import IgnoredFile, MediaCandidate
from pe_search.store import SEARCHABLE_STATUSES, LibraryStore

_SETTLED = (*SEARCHABLE_STATUSES, "failed", "ignored", "sidecar")  # statuses an unchanged file keeps

# Libraries indexed before every byte was hashed recorded files over 16 MiB by 16 evenly spaced
# 1 MiB samples ("sha256s:"); such a record is still matched to recognise a moved file.
SAMPLED_HASH_LIMIT = 16 << 20
SAMPLES = 16
SAMPLE_SIZE = 1 << 20


def content_hash(path: str | Path) -> str:
    """A content identity for change and move detection: sha256 of the size and every byte.

    Hashing the whole file is what lets a same-size edit anywhere be seen (samples miss an edit
    between them, and the new mtime recorded would then hide it for good). It runs only for new
    files and files whose size or mtime changed (docs/benchmarks.md gives its cost)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        digest = hashlib.file_digest(handle, lambda: hashlib.sha256(f"{size}:".encode()))
    return f"sha256:{digest.hexdigest()}"


def sampled_hash(path: str | Path) -> str | None:
    """The identity earlier versions recorded for a file over 16 MiB (None for a smaller one,
    whose identity was already `content_hash`); used only to recognise a move in such a library."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= SAMPLED_HASH_LIMIT:
            return None
        digest = hashlib.sha256(f"{size}:".encode())
        step = (size - SAMPLE_SIZE) / (SAMPLES - 1)
        for index in range(SAMPLES):
            handle.seek(int(index * step))
            digest.update(handle.read(SAMPLE_SIZE))
    return f"sha256s:{digest.hexdigest()}"


def file_signature(path: str | Path, follow: bool = True) -> tuple[int, float]:
    """(size, mtime) as recorded for the cheap unchanged check (of the link itself, not `follow`ed)."""
    stat = os.stat(path, follow_symlinks=follow)
    return stat.st_size, stat.st_mtime


@dataclass
class Plan:
    """What a run has to do, decided before anything is decoded."""

    encode: list[FileJob] = field(default_factory=list)  # new or changed files
    unchanged: list[str] = field(default_factory=list)
    still_failed: list[tuple[str, str]] = field(
        default_factory=list
    )  # unchanged and failed before: (path, reason)
    touched: list[FileJob] = field(default_factory=list)  # same content, new mtime: just record it
    moves: list[tuple[str, FileJob]] = field(default_factory=list)  # (old path, the file now)
    removals: list[str] = field(default_factory=list)  # in the library, gone from disk
    broken: list[tuple[FileJob, str]] = field(default_factory=list)  # links to no file: (job, reason)
    # New or changed non-media: (job, what, status "ignored" or "sidecar").
    ignored: list[tuple[FileJob, str, str]] = field(default_factory=list)
    still_ignored: int = 0  # unchanged non-media files
    still_sidecars: int = 0  # unchanged subtitles and text beside media

    def count(self, status: str) -> int:
        """Non-media files of this status ("ignored" or "sidecar"), unchanged or not."""
        still = self.still_sidecars if status == "sidecar" else self.still_ignored
        return still + sum(1 for _, _, s in self.ignored if s == status)


def _unchanged(row, size: int, mtime: float) -> bool:
    return row is not None and row.size == size and row.mtime == mtime and row.status in _SETTLED


def plan_changes(
    candidates: Sequence[MediaCandidate],
    store: LibraryStore,
    roots: Sequence[str | Path],
    prune: bool = True,
    ignored: Sequence[IgnoredFile] = (),
) -> Plan:
    """Compare what is on disk under `roots` with what the library holds."""
    plan = Plan()
    claimed: set[str] = set()  # library paths taken over by a move
    for other in ignored:
        path = str(other.path)
        size, mtime = file_signature(path, follow=other.path.exists())
        row = store.find_media(path)
        if _unchanged(row, size, mtime) and row.status == other.status:
            if other.status == "sidecar":
                plan.still_sidecars += 1
            else:
                plan.still_ignored += 1
        else:
            plan.ignored.append((FileJob(path, size, mtime, ""), other.what, other.status))
    for candidate in candidates:
        path = str(candidate.path)
        size, mtime = file_signature(path, follow=candidate.problem is None)
        row = store.find_media(path)
        if _unchanged(row, size, mtime) and (candidate.problem is None or row.status == "failed"):
            plan.unchanged.append(path)
            if row.status == "failed":
                plan.still_failed.append((path, row.error or "failed"))
            continue
        if candidate.problem is not None:
            plan.broken.append((FileJob(path, size, mtime, ""), candidate.problem))
            continue
        digest = content_hash(path)
        job = FileJob(path, size, mtime, digest)
        if row is not None:
            if row.content_hash == digest and row.status in _SETTLED:
                plan.touched.append(job)
            else:
                plan.encode.append(job)
            continue
        origin = _moved_from(store, digest, claimed) or _moved_from_sampled(store, path, size, claimed)
        if origin is not None:
            claimed.add(origin.path)
            plan.moves.append((origin.path, job))
        else:
            plan.encode.append(job)
    if prune:
        for root in roots:
            root = Path(root).expanduser().resolve()
            prefix = str(root) if root.is_file() else str(root).rstrip(os.sep) + os.sep
            gone = [] if os.path.lexists(root) else [store.find_media(str(root))]  # a deleted file
            for media in [*(m for m in gone if m is not None), *store.iter_media(path_prefix=prefix)]:
                if media.path not in claimed and not os.path.lexists(media.path):
                    plan.removals.append(media.path)
    return plan


def _moved_from(store: LibraryStore, digest: str | None, claimed: set[str]):
    """A searchable recorded file of this content whose path is gone (and not yet claimed)."""
    if digest is None:
        return None
    return next(
        (
            m
            for m in store.find_media_by_hash(digest)
            if m.status in SEARCHABLE_STATUSES and m.path not in claimed and not Path(m.path).exists()
        ),
        None,
    )


def _moved_from_sampled(store: LibraryStore, path: str, size: int, claimed: set[str]):
    """A move recorded under the sampled identity of earlier versions (files over 16 MiB)."""
    if size <= SAMPLED_HASH_LIMIT:
        return None
    return _moved_from(store, sampled_hash(path), claimed)
