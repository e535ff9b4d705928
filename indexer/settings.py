"""How an indexing run cuts and samples media. One frozen object, sent to decode workers.

A library records the settings it was indexed with (`LibraryStore.index_settings`): a later run
that names none of them reuses them, and one that names others is refused (windows of two
lengths in one library would rank against each other unevenly) unless it rebuilds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pe_search.errors import Option, PeSearchError, cli_spelling
from pe_search.media.rate import PE_FRAMES_PER_WINDOW, PE_WINDOW_SECONDS
from pe_search.models.speech import SpeechSource
from pe_search.models.video_preprocessing import FramePreprocessing
from pe_search.store import DEFAULT_FRAME_CODES, FRAME_CODES

DEFAULT_WINDOW = PE_WINDOW_SECONDS
DEFAULT_FRAMES_PER_WINDOW = PE_FRAMES_PER_WINDOW
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
    frame_codes: str = DEFAULT_FRAME_CODES  # how frame vectors are coded in their blocks: f32, sq8 or pq
    audio_frames: bool = True  # compute 40 ms audio frame vectors (needs a frame model)
    frame_preprocessing: FramePreprocessing | None = field(default=None, compare=False)
    # Transcription (issue 26; recorded apart from these, indexer/transcribe.py): the speech model
    # (None: no transcripts), whether the speech gate cuts out what is not speech, and whether the
    # run only transcribes (files whose vectors stay as they are).
    speech: SpeechSource | None = field(default=None, compare=False)
    speech_gate: bool = field(default=True, compare=False)
    speech_only: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        window, hop = Option("window"), Option("hop")
        if self.window <= 0 or self.hop <= 0:
            raise InvalidIndexSettings("{0} and {1} must be positive", options=(window, hop))
        if self.hop > self.window:
            raise InvalidIndexSettings(
                "{0} must not exceed {1} (gaps would go unindexed)", options=(hop, window), value=self.hop
            )
        if self.fps is not None and self.frames_per_window is not None:
            object.__setattr__(self, "frames_per_window", None)
        if self.fps is None and self.frames_per_window is None:
            raise InvalidIndexSettings(
                "give {0} or {1}", options=(Option("fps"), Option("frames_per_window"))
            )
        if self.frame_codes not in FRAME_CODES:
            raise InvalidIndexSettings(
                f"{{0}} must be one of {', '.join(FRAME_CODES)}", options=(Option("frame_codes"),)
            )

    def recorded(self) -> dict:
        """What the library keeps of these settings (what decides where vectors fall)."""
        return {name: getattr(self, name) for name in RECORDED}


def settings_options(recorded: dict) -> list[Option]:
    """Recorded settings as the options that give them."""
    options = [Option("window", f"{recorded['window']:g}"), Option("hop", f"{recorded['hop']:g}")]
    if recorded.get("fps") is not None:
        options.append(Option("fps", f"{recorded['fps']:g}"))
    else:
        options.append(Option("frames_per_window", str(recorded["frames_per_window"])))
    chunk = recorded.get("frame_chunk", IndexSettings.frame_chunk)
    if chunk != IndexSettings.frame_chunk:  # no CLI option: set through Library.index(frame_chunk=...)
        options.append(Option("frame_chunk", f"{chunk:g}", cli=False))
    codes = recorded.get("frame_codes", DEFAULT_FRAME_CODES)
    if codes != DEFAULT_FRAME_CODES:
        options.append(Option("frame_codes", codes))
    return options


def describe(recorded: dict) -> str:
    """Settings as the command-line options that give them."""
    return " ".join(cli_spelling(option) for option in settings_options(recorded))


class InvalidIndexSettings(PeSearchError, ValueError):
    """Window, hop or frame sampling values that cannot be used (a window of 0, a hop past it)."""


class IndexSettingsMismatch(PeSearchError):
    """A run asks for other windows or frame sampling than the library was indexed with."""

    def __init__(self, stored: dict, asked: dict) -> None:
        self.stored, self.asked = stored, asked
        was, now = settings_options(stored), settings_options(asked)
        options = [*was, *now, Option("rebuild", switch=True)]
        slots = [f"{{{i}}}" for i in range(len(options))]
        super().__init__(
            f"this library was indexed with {' '.join(slots[: len(was)])}, "
            f"not {' '.join(slots[len(was) : -1])}",
            "leave those options out to use the library's, "
            f"or add {slots[-1]} to encode every file again with the new ones",
            options=options,
            value=asked,
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
