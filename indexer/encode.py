"""The encoding stage: payloads from many files batched by modality, run through the models.

Windows of the same streams are grouped (audio+video, audio only, video only, PE-A-Frame
chunks) and encoded `batch_size` at a time; the encoder itself orders a batch by length and
never pads the DAC front end, so mixing files costs nothing in exactness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from indexer.reader import FrameChunkPayload, WindowPayload
from pe_search.models.model_set import ModelSet


@dataclass
class EncodedWindow:
    path: str
    index: int
    start: float
    end: float
    vectors: dict[str, np.ndarray]  # space -> (dim,)
    frame_times: tuple[float, ...] = ()
    frame_vectors: np.ndarray | None = field(default=None, repr=False)  # (frames, dim), video_frame space


@dataclass
class EncodedChunk:
    path: str
    start: float
    vectors: np.ndarray = field(repr=False)  # (frames, dim), one per 40 ms, audio_frame space


class BatchEncoder:
    def __init__(self, models: ModelSet, batch_size: int = 8) -> None:
        self.models = models
        self.batch_size = batch_size
        self.groups: dict[str, list] = {"audio_video": [], "audio": [], "video": [], "chunk": []}
        self._run: dict[str, Callable[[list], list]] = {
            "audio_video": self._audio_video,
            "audio": self._audio,
            "video": self._video,
            "chunk": self._chunks,
        }

    def add(self, payload: WindowPayload | FrameChunkPayload) -> list[EncodedWindow | EncodedChunk]:
        """Queue a payload; returns whatever a now-full batch produced."""
        key = "chunk" if isinstance(payload, FrameChunkPayload) else payload.kind
        self.groups[key].append(payload)
        if len(self.groups[key]) >= self.batch_size:
            return self._encode(key)
        return []

    def flush(self) -> list[EncodedWindow | EncodedChunk]:
        return [result for key in self.groups for result in self._encode(key)]

    def drop(self, path: str) -> None:
        """Forget queued payloads of a file that failed part way."""
        for key, group in self.groups.items():
            self.groups[key] = [p for p in group if p.path != path]

    def _encode(self, key: str) -> list:
        batch, self.groups[key] = self.groups[key], []
        return self._run[key](batch) if batch else []

    # One method per group; each falls back to what the clip model can compute.
    def _audio_video(self, batch: list[WindowPayload]) -> list[EncodedWindow]:
        clip = self.models.clip
        if "audio_video" not in clip.embeddings:
            return self._audio(batch) if "audio" in clip.embeddings else self._video(batch)
        out = clip.embed_audio_video([p.audio for p in batch], [p.frames for p in batch], with_frames=True)
        return [
            _window(p, {s: out[s][i] for s in ("audio", "video", "audio_video")}, out["video_frame"][i])
            for i, p in enumerate(batch)
        ]

    def _audio(self, batch: list[WindowPayload]) -> list[EncodedWindow]:
        if "audio" not in self.models.clip.embeddings:
            return [_window(p, {}) for p in batch]
        vectors = self.models.clip.embed_audio([p.audio for p in batch])
        return [_window(p, {"audio": vectors[i]}) for i, p in enumerate(batch)]

    def _video(self, batch: list[WindowPayload]) -> list[EncodedWindow]:
        if "video" not in self.models.clip.embeddings:
            return [_window(p, {}) for p in batch]
        clips, frames = self.models.clip.embed_video_and_frames([p.frames for p in batch])
        return [_window(p, {"video": clips[i]}, frames[i]) for i, p in enumerate(batch)]

    def _chunks(self, batch: list[FrameChunkPayload]) -> list[EncodedChunk]:
        if self.models.frames is None:
            return []
        frames = self.models.frames.embed_audio_frames([p.audio for p in batch])
        return [EncodedChunk(p.path, p.start, f) for p, f in zip(batch, frames, strict=True)]


def _window(payload: WindowPayload, vectors: dict, frame_vectors: np.ndarray | None = None) -> EncodedWindow:
    times = payload.frame_times if frame_vectors is not None else ()
    return EncodedWindow(
        payload.path, payload.index, payload.start, payload.end, vectors, times, frame_vectors
    )
