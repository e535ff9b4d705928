"""Decode one media file into what the encoder needs, window by window, in bounded memory.

Runs in a decode worker (or in process). For a file it yields, in order: `FileStarted`, then
`WindowPayload`s (clip-level windows with their audio and preprocessed frames) and
`FrameChunkPayload`s (non-overlapping audio chunks for PE-A-Frame), then `FileDecoded` with the
counts and the file's side data (text entries, audio fingerprint: `side_data.side_data`), or
`FileFailed` with the reason at any point.

A file is opened once for its headers, its tags and the first minutes of its sound (the audio
fingerprint's own decode, `_open_once`), then once per stream for decoding: the writer opens
nothing. A file that decodes only in part (cut short,
corrupt packets, NaN samples) is sent for what decodes, and `FileDecoded.partial` says why. Audio is decoded once, front to back,
through a rolling buffer that holds at most about one window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from indexer.segments import clip_windows, frame_grid, frame_grid_step
from indexer.settings import IndexSettings
from indexer.side_data import SideData, side_data
from indexer.transcribe import SpeechPayload, speech_payload
from pe_search.duplicates import audio_fingerprint
from pe_search.errors import MediaError
from pe_search.media.audio import audio_spans, iter_audio
from pe_search.media.containers import open_media
from pe_search.media.damage import DamageLog
from pe_search.media.fingerprint_audio import mono_of
from pe_search.media.frame_pick import window_frame_times
from pe_search.media.probe import ProbedMedia, media_info
from pe_search.media.rate import SAMPLE_RATE
from pe_search.media.tags import tags_of
from pe_search.media.timecode import SourceTimecode, timecode_of
from pe_search.media.video import iter_video_frames


@dataclass(frozen=True)
class FileJob:
    path: str
    size: int
    mtime: float
    content_hash: str


@dataclass
class FileStarted:
    job: FileJob
    info: ProbedMedia
    duration: float


@dataclass
class WindowPayload:
    path: str
    index: int
    start: float
    end: float
    audio: np.ndarray | None  # mono float32 48 kHz
    # (T, 3, H, W) float32, as numpy: torch tensors would cross processes as shared-memory
    # handles that die with the worker
    frames: np.ndarray | None = field(default=None, repr=False)
    frame_times: tuple[float, ...] = ()  # each frame's own presentation time

    @property
    def kind(self) -> str:
        """Which streams the window carries: "audio_video", "audio" or "video"."""
        if self.audio is not None and self.frames is not None:
            return "audio_video"
        return "audio" if self.audio is not None else "video"


@dataclass
class FrameChunkPayload:
    path: str
    start: float
    audio: np.ndarray


@dataclass
class FileDecoded:
    path: str
    windows: int
    chunks: int
    duration: float
    partial: str | None = None  # why only part of the file decoded (None: all of it did)
    side: SideData | None = None  # text and audio fingerprint, for the writer to store


@dataclass
class FileFailed:
    path: str
    reason: str


Payload = FileStarted | WindowPayload | FrameChunkPayload | SpeechPayload | FileDecoded | FileFailed


def read_file(job: FileJob, settings: IndexSettings) -> Iterator[Payload]:
    """Everything the encoder needs from `job.path`; never raises for a bad file."""
    try:
        yield from _read(job, settings)
    except MediaError as error:
        yield FileFailed(job.path, error.reason)
    except (OSError, ValueError, RuntimeError) as error:  # a decoder surprise: record it, go on
        yield FileFailed(job.path, f"could not decode: {error}".splitlines()[0])


def _read(job: FileJob, settings: IndexSettings) -> Iterator[Payload]:
    damage = DamageLog()
    info, tags, codes, timecode = _open_once(job.path, damage)
    if not info.has_audio and not info.has_video:
        raise MediaError(job.path, "no audio or video stream")
    duration = info.duration if info.duration else _measure_duration(job.path, info, DamageLog())
    if duration <= 0:
        raise MediaError(job.path, "no media in the file (zero duration)")
    yield FileStarted(job, info, duration)
    if settings.speech is not None:  # before the windows: the encode half transcribes as it goes
        yield speech_payload(job.path, info.has_audio, settings.speech_gate)
    if settings.speech_only:  # transcribing a file whose vectors stay as they are
        yield FileDecoded(job.path, 0, 0, duration)
        return
    windows = clip_windows(duration, settings.window, settings.hop)
    chunks = []
    if info.has_audio and settings.audio_frames:
        starts = np.arange(0.0, duration, settings.frame_chunk)
        chunks = [(float(s), float(min(s + settings.frame_chunk, duration))) for s in starts]
    audio_requests = [("window", i, w.start, w.end) for i, w in enumerate(windows)] if info.has_audio else []
    audio_requests += [("chunk", i, s, e) for i, (s, e) in enumerate(chunks)]
    spans = audio_spans(job.path, audio_requests, damage) if info.has_audio else iter(())
    frames = _FrameSource(job.path, windows, info, settings, damage) if info.has_video else None

    window_audio: dict[int, np.ndarray] = {}
    sent_windows = sent_chunks = 0
    next_window = 0

    def ready_windows(final: bool) -> Iterator[WindowPayload]:
        nonlocal next_window, sent_windows
        while next_window < len(windows) and (not info.has_audio or next_window in window_audio or final):
            window = windows[next_window]
            audio = window_audio.pop(next_window, None)
            if info.has_audio and (audio is None or audio.size == 0):
                next_window += 1  # the declared duration overstated the audio: nothing left
                continue
            pixels, times = frames.window(next_window) if frames is not None else (None, ())
            end = window.start + audio.size / SAMPLE_RATE if audio is not None else window.end
            yield WindowPayload(job.path, next_window, window.start, end, audio, pixels, times)
            sent_windows += 1
            next_window += 1

    for kind, index, start, samples in spans:
        if kind == "chunk":
            if samples.size:
                yield FrameChunkPayload(job.path, start, samples)
                sent_chunks += 1
        else:
            window_audio[index] = samples
            yield from ready_windows(final=False)
    yield from ready_windows(final=True)
    if sent_windows == 0:
        raise MediaError(job.path, damage.reason or "no decodable media in the file")
    side = side_data(job.path, tags, codes, info.has_audio, duration, timecode)
    yield FileDecoded(job.path, sent_windows, sent_chunks, duration, damage.reason, side)


def _open_once(
    path: str, damage: DamageLog
) -> tuple[ProbedMedia, list[tuple[str, str]], np.ndarray | None, SourceTimecode | None]:
    """One open of the file: its headers, its tags, its source timecode and its audio
    fingerprint's codes (None: no sound, or none that decodes). A file cut short gets neither tags nor codes, as the media
    layer's own `read_tags` and `fingerprint_file` refuse it."""
    with open_media(path, damage) as container:
        info = media_info(path, container)
        complete = not damage.notes  # what the check before opening found
        tags = tags_of(container) if complete else []
        timecode = timecode_of(container) if complete else None
        codes = None
        if info.has_audio and complete:
            try:
                sound = mono_of(path, container, audio_fingerprint.SAMPLE_RATE, audio_fingerprint.MAX_SECONDS)
            except MediaError:
                sound = None
            codes = audio_fingerprint.fingerprint_sound(sound)
    return info, tags, codes, timecode


def _measure_duration(path: str, info: ProbedMedia, damage: DamageLog) -> float:
    """Containers that do not state a duration: count the decoded audio (or take the last frame)."""
    if info.has_audio:
        return sum(chunk.samples.size for chunk in iter_audio(path, damage=damage)) / SAMPLE_RATE
    last = 0.0
    for frame in iter_video_frames(path, [float(2**31)], damage=damage):
        last = frame.time
    return last


def _frame_times(windows, info: ProbedMedia, settings: IndexSettings) -> list[list[float]]:
    """One window: PE's own frame sampler. Overlapping windows: one grid per file, so a frame two
    windows share is decoded and encoded once (`segments.frame_grid`)."""
    if len(windows) == 1:
        w = windows[0]
        return [
            window_frame_times(
                w.start,
                w.end,
                fps=settings.fps,
                frames_per_window=settings.frames_per_window,
                frame_rate=info.frame_rate,
            )
        ]
    if settings.fps is not None:
        step = 1.0 / settings.fps
    else:
        step = frame_grid_step(settings.window, settings.hop, settings.frames_per_window)
    return frame_grid(windows, step)


class _FrameSource:
    """Frames for each window, decoded once in time order and preprocessed once per frame."""

    def __init__(
        self, path: str, windows, info: ProbedMedia, settings: IndexSettings, damage: DamageLog
    ) -> None:
        self.path = path
        self.preprocess = settings.frame_preprocessing
        if self.preprocess is None:
            raise ValueError("video needs the checkpoint's frame preprocessing")
        self.requested = _frame_times(windows, info, settings)
        times = sorted({t for window_times in self.requested for t in window_times})
        self.frames = iter_video_frames(path, times, damage=damage)
        self.cache: dict[float, tuple[float, np.ndarray]] = {}

    def window(self, index: int) -> tuple[np.ndarray, tuple[float, ...]]:
        wanted = self.requested[index]
        while wanted and wanted[-1] not in self.cache:
            frame = next(self.frames, None)
            if frame is None:
                break
            pixels = self.preprocess(frame.rgb[None].copy())[0].numpy()
            self.cache[frame.requested] = (frame.time, pixels)
        present = [t for t in wanted if t in self.cache]
        if not present:
            raise MediaError(self.path, f"no video frame decoded for {wanted[0]:.2f} s")
        pixels = np.stack([self.cache[t][1] for t in present])
        times = tuple(self.cache[t][0] for t in present)
        later = (
            self.requested[index + 1][0]
            if index + 1 < len(self.requested) and self.requested[index + 1]
            else None
        )
        for t in [t for t in self.cache if later is None or t < later]:
            del self.cache[t]
        return pixels, times
