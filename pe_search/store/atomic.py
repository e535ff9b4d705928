"""Replace a file so that a reader sees the old content or the new, never a part of it.

Write `NAME.tmp`, fsync it, rename it over `NAME`, fsync the directory (the faiss `contrib`
checkpoint pattern). A crash before the rename leaves the old file and a stray `.tmp`, which the
next writer overwrites. `crash_at` lets a test stop the sequence at a named step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pe_search import crash_points

STEPS = ("written", "synced")


class SimulatedCrash(RuntimeError):
    """Raised by `atomic_write(..., crash_at=step)` to stand for a process killed at that step."""


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_path(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def atomic_write(path: Path, write: Callable[[BinaryIO], None], crash_at: str | None = None) -> None:
    """Call `write(file)` on a temporary file, then atomically put it at `path`."""
    if crash_at is not None and crash_at not in STEPS:
        raise ValueError(f"crash_at must be one of {STEPS}")
    tmp = temporary_path(path)
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        if crash_at == "written":
            raise SimulatedCrash(f"crash after writing {tmp}")
        crash_points.reached("index-save")
        os.fsync(handle.fileno())
    if crash_at == "synced":
        raise SimulatedCrash(f"crash before renaming {tmp}")
    os.replace(tmp, path)
    fsync_dir(path.parent)
