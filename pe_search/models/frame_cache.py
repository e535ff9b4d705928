"""Vision-model outputs remembered by frame content, so a frame runs through the ViT once.

Overlapping clip windows (30 s every 15 s) sample the same frames where their frame grids
line up (the indexer samples one grid per file, see `indexer.segments.frame_grid`), and the
per-frame ViT is nearly all of the video tower's cost. The cache is keyed by a digest of the
preprocessed pixels, so a hit is the same input by construction and the embedding is what the
plain path computes on the same frames; a frame seen twice in one batch also runs once.

It is bounded (least recently used out first): the indexer sends a file's windows in order,
so a shared frame is asked for again within a batch or two.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

DEFAULT_CAPACITY = 2048  # frames; an entry is one vision output row (~1-2k floats)


class FrameFeatureCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.entries: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(frame: torch.Tensor) -> bytes:
        """Digest of one preprocessed frame's values, shape and dtype."""
        array = np.ascontiguousarray(frame.detach().cpu().numpy())
        digest = hashlib.blake2b(array.view(np.uint8).reshape(-1), digest_size=20)
        digest.update(repr((array.shape, array.dtype.str)).encode())
        return digest.digest()

    def run(self, frames: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """`compute(frames)` row by row, calling it only on frames not seen before (once each)."""
        keys = [self.key(frame) for frame in frames]
        rows: dict[bytes, torch.Tensor | None] = {}
        missing: list[int] = []
        for index, key in enumerate(keys):
            if key in rows:
                self.hits += 1
                continue
            cached = self.entries.get(key)
            if cached is not None:
                self.entries.move_to_end(key)
                self.hits += 1
            else:
                missing.append(index)
                self.misses += 1
            rows[key] = cached
        if missing:
            computed = compute(frames[missing])
            for index, row in zip(missing, computed, strict=True):
                rows[keys[index]] = row = row.clone()
                self._put(keys[index], row)
        return torch.stack([rows[key] for key in keys])

    def _put(self, key: bytes, row: torch.Tensor) -> None:
        self.entries[key] = row
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every frame and zero the counters."""
        self.entries.clear()
        self.hits = self.misses = 0
