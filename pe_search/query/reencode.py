"""Exact float32 vectors for the few 40 ms frames a compact code cannot decide: their audio chunk is
decoded and encoded again, exactly as the indexer did (same chunk bounds, same decode), so a
library keeps a quarter of float32's size and still gives float32's spans.

Only the frames whose coded score lies within the code's error bound of a cut come here; with a
real model that is a frame or two at some span edges, each costing one chunk's encoding (cached).
A file that is gone or changed since indexing cannot be re-encoded: the caller then keeps the
code's decision and says the answer is approximate."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from pe_search.errors import PeSearchError
from pe_search.media.damage import DamageLog
from pe_search.models.catalogue import CATALOGUE
from pe_search.store import FrameSlice, LibraryStore, MediaInfo

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.encoder import PeEncoder

CACHED_CHUNKS = 8  # encoded chunks kept (a 30 s chunk of 1024-d frames is 3 MB)
REENCODED_SPACES = CATALOGUE.reencoded_spaces()  # the frame spaces whose vectors come from audio chunks


class ChunkReencoder:
    """`ExactFrames` for `audio_frame`: the library's frame model on the file's own audio."""

    def __init__(self, store: LibraryStore, encoder: PeEncoder, frame_chunk: float) -> None:
        self.store = store
        self.encoder = encoder
        self.frame_chunk = frame_chunk
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def for_library(cls, store: LibraryStore, encoder: PeEncoder | None) -> ChunkReencoder | None:
        """None when the library did not record how it chunked audio for the frame model."""
        chunk = (store.index_settings() or {}).get("frame_chunk")
        if encoder is None or not chunk:
            return None
        return cls(store, encoder, float(chunk))

    def __call__(self, frames: FrameSlice, positions: np.ndarray) -> np.ndarray | None:
        if frames.space not in REENCODED_SPACES or not len(positions):
            return None
        media = self.store.get_media(frames.media_id)
        if media is None or not media.duration or not _unchanged(media):
            return None
        times = frames.starts[positions]
        chunk_starts = np.arange(0.0, media.duration, self.frame_chunk)  # as the indexer cut them
        chunk_of = np.searchsorted(chunk_starts, times + 1e-9, side="right") - 1
        vectors = np.empty((len(positions), frames.dim), np.float32)
        try:
            for chunk, embedded in self._chunks(media, chunk_starts, np.unique(chunk_of)):
                rows = np.flatnonzero(chunk_of == chunk)
                at = np.rint((times[rows] - chunk_starts[chunk]) / self.encoder.frame_seconds).astype(
                    np.int64
                )
                if embedded.shape[1] != frames.dim or at.max() >= len(embedded):
                    return None  # not the audio the block was made from
                vectors[rows] = embedded[at]
        except (OSError, ValueError, RuntimeError, PeSearchError):
            return None  # unreadable now: the code decides
        return vectors

    def _chunks(self, media: MediaInfo, chunk_starts: np.ndarray, wanted: np.ndarray):
        """(chunk number, its frames) for the `wanted` chunks, from the cache or one decode."""
        missing = []
        for chunk in wanted.tolist():
            with self._lock:
                cached = self._cache.get((media.id, chunk))
                if cached is not None:
                    self._cache.move_to_end((media.id, chunk))
            if cached is not None:
                yield chunk, cached
            else:
                missing.append(chunk)
        if not missing:
            return
        requests = [
            (
                "chunk",
                c,
                float(chunk_starts[c]),
                float(min(chunk_starts[c] + self.frame_chunk, media.duration)),
            )
            for c in missing
        ]
        from pe_search.media.audio import audio_spans  # PyAV: only when frames are re-encoded

        for _, chunk, _, samples in audio_spans(media.path, requests, DamageLog()):
            if not samples.size:
                raise ValueError("no audio where the chunk was")
            embedded = self.encoder.embed_audio_frames([samples])[0]
            with self._lock:
                self._cache[(media.id, chunk)] = embedded
                while len(self._cache) > CACHED_CHUNKS:
                    self._cache.popitem(last=False)
            yield chunk, embedded


def _unchanged(media: MediaInfo) -> bool:
    """The file still has the size and mtime it was indexed with (the indexer's own cheap check,
    of the file or of the link to it)."""
    for follow in (True, False):
        try:
            stat = os.stat(media.path, follow_symlinks=follow)
        except OSError:
            continue
        if stat.st_size == media.size and stat.st_mtime == media.mtime:
            return True
    return False
