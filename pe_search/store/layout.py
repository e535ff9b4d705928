"""Where things live inside a library directory, and which directory the user means.

DIR/library.db            SQLite (WAL): media files, segments, vector ids, model, index state
DIR/writer.lock           held (flock) by the one process allowed to write
DIR/vectors/SPACE.f32     full-precision vectors, row i = vector id i (durable, append-only)
DIR/vectors/SPACE.index   the FAISS index of the space (replaced atomically, may lag)
DIR/frames/SPACE.GEN.blocks  frame vectors, one block per (file, space) (append-only; GEN grows
                          with each compaction)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

LIBRARY_ENV = "PE_SEARCH_LIBRARY"
DEFAULT_LIBRARY = "pe-library"

_SPACE_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


def resolve_library_dir(option: str | None) -> Path:
    """The library the user means: `--library DIR`, else $PE_SEARCH_LIBRARY, else ./pe-library."""
    value = option or os.environ.get(LIBRARY_ENV) or DEFAULT_LIBRARY
    return Path(value).expanduser().absolute()


def check_space_name(space: str) -> str:
    """Space names become file names: keep them to letters, digits, '_' and '-'."""
    if not _SPACE_NAME.match(space):
        raise ValueError(f"invalid space name {space!r}: use letters, digits, '_' or '-' (at most 32)")
    return space


@dataclass(frozen=True)
class LibraryLayout:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "library.db"

    @property
    def lock(self) -> Path:
        return self.root / "writer.lock"

    @property
    def vectors_dir(self) -> Path:
        return self.root / "vectors"

    def vector_file(self, space: str) -> Path:
        return self.vectors_dir / f"{check_space_name(space)}.f32"

    def index_file(self, space: str) -> Path:
        return self.vectors_dir / f"{check_space_name(space)}.index"

    @property
    def frames_dir(self) -> Path:
        return self.root / "frames"

    def block_file(self, space: str, generation: int) -> Path:
        return self.frames_dir / f"{check_space_name(space)}.{generation}.blocks"

    def exists(self) -> bool:
        return self.database.is_file()
