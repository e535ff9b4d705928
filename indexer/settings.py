"""How an indexing run cuts and samples media. One frozen object, sent to decode workers."""

from __future__ import annotations

from dataclasses import dataclass, field

from pe_search.video_preprocessing import FramePreprocessing

DEFAULT_MODEL = "facebook/pe-av-small"
DEFAULT_FRAME_MODEL = "facebook/pe-a-frame-small"


@dataclass(frozen=True)
class IndexSettings:
    window: float = 30.0  # seconds: the length the PE models were trained on
    hop: float = 15.0  # 50 % overlap
    fps: float | None = None  # sample video frames at this rate ...
    frames_per_window: int | None = 16  # ... or about N per window (one grid per file, see segments)
    frame_chunk: float = 30.0  # PE-A-Frame runs on non-overlapping chunks of this length
    audio_frames: bool = True  # compute 40 ms audio frame vectors (needs a frame model)
    frame_preprocessing: FramePreprocessing | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.window <= 0 or self.hop <= 0:
            raise ValueError("--window and --hop must be positive")
        if self.hop > self.window:
            raise ValueError("--hop must not exceed --window (gaps would go unindexed)")
        if self.fps is not None and self.frames_per_window is not None:
            object.__setattr__(self, "frames_per_window", None)
        if self.fps is None and self.frames_per_window is None:
            raise ValueError("give --fps or --frames-per-window")
