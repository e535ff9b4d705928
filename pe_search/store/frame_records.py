"""What the frame family hands across its boundary: a block's row, a space's status, the policy
it is opened with, and the error a write with the wrong frame codes raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pe_search.errors import PeSearchError
from pe_search.store.frame_codes import PQ_TRAIN_MIN

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy.orm import Session

    from pe_search.store.frame_slice import FrameSlice


class FrameCodesError(PeSearchError, ValueError):
    """A write asked for frame codes the library does not use (or no such codes)."""


@dataclass(frozen=True)
class FrameBlockInfo:
    """One block's row: which file and space, where it lies, how many frames over which time."""

    media_id: int
    space: str
    offset: int
    nbytes: int
    count: int
    start: float
    end: float
    encoding: str


@dataclass(frozen=True)
class FrameDamage:
    """A block whose frames are lost: which file and space, and what is wrong (one line)."""

    media_id: int
    space: str
    reason: str
    generation: int | None  # of the block file it was found in (None: no frame_files row)


@dataclass(frozen=True)
class FrameSpaceStatus:
    """A frame space on disk: live frames and bytes, and the dead bytes compaction would reclaim."""

    space: str
    codes: str  # what the library asked for: sq8 or pq
    frames: int
    blocks: int
    live_bytes: int
    dead_bytes: int  # freed blocks still in the file (reclaimable)
    file_bytes: int
    encodings: dict[str, int] = field(default_factory=dict)  # blocks per encoding


@dataclass
class FramePolicy:
    """When to compact on its own, and how much a PQ codebook is trained on."""

    compact_share: float = 0.5  # dead share of the file past which a commit compacts
    compact_min_bytes: int = 64 << 20  # ... once at least this many bytes are dead
    pq_train_min: int = PQ_TRAIN_MIN


@runtime_checkable
class FrameFamily(Protocol):
    """The frame family's verbs, as `VectorIndex` is the clip family's: write a file's frames,
    remove them, read a slice (whose `scan(query, cutoff)` scores it), read many in one snapshot,
    count and report. `FrameStore` is the one implementation; the rest of the store uses only these."""

    def write(
        self,
        session: Session,
        media_id: int,
        space: str,
        starts: np.ndarray,
        ends: np.ndarray,
        vectors: np.ndarray,
        dim: int,
        codes: str,
    ) -> FrameBlockInfo: ...

    def remove(self, session: Session, media_id: int, space: str | None = None) -> list[str]: ...

    def read(
        self,
        session: Session,
        media_id: int,
        space: str,
        start: float | None = None,
        end: float | None = None,
    ) -> FrameSlice | None: ...

    def read_many(
        self, session: Session, space: str, media_ids: list[int] | None = None
    ) -> list[tuple[FrameBlockInfo, Callable[..., FrameSlice]]]: ...

    def counts(self, session: Session) -> dict[str, int]: ...

    def status(self, session: Session) -> dict[str, FrameSpaceStatus]: ...
