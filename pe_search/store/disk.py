"""The disk under a library: full or read-only. Writing a library on a full or read-only disk
fails deep inside SQLite, FAISS or a positioned write with an OS error; `disk_errors` turns such
a failure into the one-line error that says what to do, and `disk_full` lets readers open the
database without the shared-memory file SQLite could not grow there."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from pe_search.errors import PeSearchError
from pe_search.store.errors import LibraryDiskFullError, LibraryReadOnlyError

FULL_BELOW = 1 << 20  # free bytes under which a disk counts as full (SQLite's -shm grows by 32 KiB)
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def _statvfs(path: Path) -> os.statvfs_result | None:
    for place in (path, *path.parents):  # the library folder may not exist yet
        try:
            return os.statvfs(place)
        except OSError:
            continue
    return None


def disk_full(path: str | Path) -> bool:
    """Whether the disk holding `path` has less than `FULL_BELOW` bytes free for this user."""
    stat = _statvfs(Path(path))
    return stat is not None and stat.f_bavail * stat.f_frsize < FULL_BELOW


def read_only(path: str | Path) -> bool:
    """Whether the file system holding `path` is mounted read-only."""
    stat = _statvfs(Path(path))
    return stat is not None and bool(stat.f_flag & os.ST_RDONLY)


def disk_problem(library_dir: str | Path, error: BaseException) -> PeSearchError | None:
    """The user's error `error` stands for, when it came from the library's disk being full or
    read-only; None for anything else (a bug, or another disk: it propagates as it is)."""
    root = Path(library_dir)
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, OSError):
        inside = cause.filename is None or Path(os.fsdecode(cause.filename)).is_relative_to(root)
        if cause.errno == errno.EROFS and inside:
            return LibraryReadOnlyError(root)
        if cause.errno in _FULL_ERRNOS and (inside or disk_full(root)):
            return LibraryDiskFullError(root)
        return None
    if isinstance(cause, sqlite3.OperationalError | sqlite3.DatabaseError):
        if read_only(root):  # "attempt to write a readonly database", "unable to open ..."
            return LibraryReadOnlyError(root)
        if "database or disk is full" in str(cause) or disk_full(root):  # also "disk I/O error"
            return LibraryDiskFullError(root)
    return None


@contextmanager
def disk_errors(library_dir: str | Path) -> Iterator[None]:
    """Around writing a library: a full or read-only disk raises its one-line error, chained to
    the OS or SQLite error for whoever wants the detail."""
    try:
        yield
    except (OSError, sqlite3.Error, DBAPIError) as error:
        problem = disk_problem(library_dir, error)
        if problem is None:
            raise
        raise problem from error
