"""How an indexing run cuts and samples media. One frozen object, sent to decode workers.

A library records the settings it was indexed with (`LibraryStore.index_settings`): a later run
that names none of them reuses them, and one that names others is refused (windows of two
lengths in one library would rank against each other unevenly) unless it rebuilds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pe_search.errors import PeSearchError
from pe_search.store.frame_codes import DEFAULT_FRAME_CODES, FRAME_CODES
from pe_search.video_preprocessing import FramePreprocessing

DEFAULT_MODEL = "facebook/pe-av-small"
DEFAULT_FRAME_MODEL = "facebook/pe-a-frame-small"
DEFAULT_WINDOW = 30.0  # seconds: the length the PE models were trained on
DEFAULT_FRAMES_PER_WINDOW = 16
RECORDED = ("window", "hop", "fps", "frames_per_window", "frame_chunk", "frame_codes")


@dataclass(frozen=True)
class IndexSettings:
    window: float = DEFAULT_WINDOW
    hop: float = DEFAULT_WINDOW / 2  # 50 % overlap
    fps: float | None = None  # sample video frames at this rate ...
    frames_per_window: int | None = (
        DEFAULT_FRAMES_PER_WINDOW  # ... or about N per window (one grid per file, see segments)
    )
    frame_chunk: float = 30.0  # PE-A-Frame runs on non-overlapping chunks of this length
    frame_codes: str = DEFAULT_FRAME_CODES  # how frame vectors are coded in their blocks: sq8 or pq
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
        if self.frame_codes not in FRAME_CODES:
            raise ValueError(f"--frame-codes must be one of {', '.join(FRAME_CODES)}")

    def recorded(self) -> dict:
        """What the library keeps of these settings (what decides where vectors fall)."""
        return {name: getattr(self, name) for name in RECORDED}


def describe(recorded: dict) -> str:
    """Settings as the command-line options that give them."""
    words = [f"--window {recorded['window']:g}", f"--hop {recorded['hop']:g}"]
    if recorded.get("fps") is not None:
        words.append(f"--fps {recorded['fps']:g}")
    else:
        words.append(f"--frames-per-window {recorded['frames_per_window']}")
    chunk = recorded.get("frame_chunk", IndexSettings.frame_chunk)
    if chunk != IndexSettings.frame_chunk:  # no CLI option: set through Library.index(frame_chunk=...)
        words.append(f"frame_chunk={chunk:g}")
    codes = recorded.get("frame_codes", DEFAULT_FRAME_CODES)
    if codes != DEFAULT_FRAME_CODES:
        words.append(f"--frame-codes {codes}")
    return " ".join(words)


class IndexSettingsMismatch(PeSearchError):
    """A run asks for other windows or frame sampling than the library was indexed with."""

    def __init__(self, stored: dict, asked: dict) -> None:
        self.stored, self.asked = stored, asked
        super().__init__(
            f"this library was indexed with {describe(stored)}, not {describe(asked)}: leave those "
            "options out to use the library's, or add --rebuild to encode every file again with the new ones"
        )


def settings_for_library(
    store,
    *,
    window: float | None = None,
    hop: float | None = None,
    fps: float | None = None,
    frames_per_window: int | None = None,
    frame_chunk: float | None = None,
    frame_codes: str | None = None,
    rebuild: bool = False,
    **fixed,
) -> IndexSettings:
    """The run's settings: those given, else the library's, else the defaults; recorded in the
    library. Other settings than the library's raise IndexSettingsMismatch, or with `rebuild`
    drop every encoding so that each file is encoded again. ValueError for impossible values."""
    stored = store.index_settings()
    if stored is not None:  # recorded before frame codes were: their frames are coded sq8
        stored = {"frame_codes": DEFAULT_FRAME_CODES, **stored}
    base = stored or {}
    if window is None:
        window = base.get("window", DEFAULT_WINDOW)
        hop = hop if hop is not None else base.get("hop", window / 2)
    elif hop is None:
        hop = window / 2
    if fps is None and frames_per_window is None:
        fps = base.get("fps")
        frames_per_window = base.get("frames_per_window", DEFAULT_FRAMES_PER_WINDOW) if fps is None else None
    if frame_chunk is None:
        frame_chunk = base.get("frame_chunk", IndexSettings.frame_chunk)
    if frame_codes is None:
        frame_codes = base.get("frame_codes", DEFAULT_FRAME_CODES)
    settings = IndexSettings(window, hop, fps, frames_per_window, frame_chunk, frame_codes, **fixed)
    asked = settings.recorded()
    if stored == asked:
        if store.index_settings() != asked:
            store.record_index_settings(asked)  # add the frame code to an older record
        return settings
    if stored is not None and not rebuild:
        raise IndexSettingsMismatch(stored, asked)
    reason = f"index settings changed ({describe(stored)} -> {describe(asked)})" if stored else None
    store.record_index_settings(asked, reason=reason)
    return settings
