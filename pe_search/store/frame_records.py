"""What the frame family hands across its boundary: a block's row, a space's status, the policy
it is opened with, and the error a write with the wrong frame codes raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from pe_search.errors import PeSearchError
from pe_search.store.frame_codes import PQ_TRAIN_MIN


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
