"""Turn a query's audio or video (a file, or an array with its rate) into model inputs.

A query clip is cut and sampled as the library's own windows are (`QuerySampling`, from the index
settings the library recorded): at most one window long, its frames picked at the library's fps
or its frames per window. Decoding is the media layer's, imported lazily: the query layer needs
it only for media queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pe_search.errors import MediaError
from pe_search.media.frame_pick import pe_frame_indices, window_frame_times
from pe_search.media.rate import PE_FRAMES_PER_WINDOW, PE_WINDOW_SECONDS, SAMPLE_RATE

if TYPE_CHECKING:  # imports torch: loaded with the models
    from pe_search.models.video_preprocessing import FramePreprocessing

MAX_QUERY_FRAME_PIXELS = 7680 * 4320
"""The largest video frame a query decodes (8K UHD, 33 megapixels). Query frames are scaled to
the model's input size while FFmpeg converts them, but FFmpeg's decoder still holds each frame
full size: a 100 KB file of 16384x16384 frames would cost gigabytes."""


FULL_DECODE_PIXELS = 1920 * 1080
"""Query frames up to Full HD are decoded full size and resized by the checkpoint's own processor
(exactly as before); larger ones are scaled to the model's input size by FFmpeg while it converts
them (an area average, close to the processor's antialiased resize but not bit-equal), so a 4K
or 8K clip never holds its frames full size as RGB."""


def _decode_size(preprocess: FramePreprocessing):
    """`iter_video_frames`' size for query frames: FFmpeg scales frames above Full HD."""

    def size(height: int, width: int) -> tuple[int, int] | None:
        return preprocess.decode_size(height, width) if height * width > FULL_DECODE_PIXELS else None

    return size


def check_frame_size(width: int | None, height: int | None, name: str) -> None:
    """Refuse a query video whose frames are larger than MAX_QUERY_FRAME_PIXELS."""
    if width and height and width * height > MAX_QUERY_FRAME_PIXELS:
        raise MediaError(
            name,
            f"its {width}x{height} frames are larger than a query video may be "
            f"({MAX_QUERY_FRAME_PIXELS / 1e6:.0f} megapixels): scale it down first",
        )


@dataclass(frozen=True)
class QuerySampling:
    """How a query clip is cut and sampled: as the library's windows are. The defaults are the
    indexer's, for a library that has recorded no settings yet (nothing indexed to search)."""

    window: float = PE_WINDOW_SECONDS  # seconds of the query clip used (the first window)
    frames_per_window: int | None = (
        PE_FRAMES_PER_WINDOW  # frames spread over the clip as PE's sampler spreads them ...
    )
    fps: float | None = None  # ... or one frame every 1/fps seconds

    @classmethod
    def of(cls, recorded: dict | None) -> QuerySampling:
        """The sampling of a library's recorded index settings (`LibraryStore.index_settings`)."""
        if not recorded:
            return cls()
        fps = recorded.get("fps")
        frames = None if fps is not None else recorded.get("frames_per_window")
        return cls(float(recorded.get("window") or cls.window), frames, fps)


def query_audio(audio, max_seconds: float = QuerySampling.window) -> np.ndarray:
    """A path, or (samples, rate): mono float32 at 48 kHz, at most `max_seconds` long."""
    if isinstance(audio, (str, Path)):
        from pe_search.media.audio import read_audio
        from pe_search.media.probe import probe

        info = probe(audio)
        if not info.has_audio:
            raise MediaError(audio, "has no audio stream to query with")
        samples = read_audio(audio, 0.0, max_seconds)
    else:
        samples, rate = audio
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:  # (samples, channels) or (channels, samples): average the shorter axis
            samples = samples.mean(axis=int(np.argmin(samples.shape)))
        if int(rate) != SAMPLE_RATE:
            from pe_search.media.resample import resample_array

            samples = resample_array(samples, int(rate))
        samples = samples[: int(max_seconds * SAMPLE_RATE)]
    name = str(audio) if isinstance(audio, (str, Path)) else "audio array"
    if samples.size == 0:
        raise MediaError(name, "no audio samples")
    if not np.isfinite(samples).all():  # a file's are checked as it is decoded
        raise MediaError(name, "the audio holds NaN or infinite samples: nothing can match it")
    return samples


def query_video(
    video, preprocess: FramePreprocessing | None, sampling: QuerySampling | None = None
) -> np.ndarray:
    """A path, or (frames uint8 (T, H, W, 3), fps): its first window's frames picked as the
    library picks them (`sampling`), preprocessed."""
    sampling = sampling or QuerySampling()
    max_seconds = sampling.window
    if preprocess is None:
        raise MediaError("video query", "the library's model has no video preprocessing configuration")
    if isinstance(video, (str, Path)):
        from pe_search.media.probe import probe
        from pe_search.media.video import iter_video_frames

        info = probe(video)
        if not info.has_video:
            raise MediaError(video, "has no video stream to query with")
        check_frame_size(info.width, info.height, str(video))
        end = min(info.duration or max_seconds, max_seconds)
        times = window_frame_times(
            0.0,
            end,
            fps=sampling.fps,
            frames_per_window=sampling.frames_per_window,
            frame_rate=info.frame_rate,
        )
        frames = iter_video_frames(video, times, size=_decode_size(preprocess))
        rgb = np.stack([frame.rgb for frame in frames])
    else:
        frames, fps = video
        frames = np.asarray(frames)
        count = min(len(frames), int(max_seconds * fps) or 1)
        if sampling.fps is not None:  # one frame every 1/fps seconds, as the indexer samples
            times = window_frame_times(0.0, count / fps, fps=sampling.fps)
            picks = [min(count - 1, int(round(t * fps))) for t in times]
        else:
            picks = pe_frame_indices(count, sampling.frames_per_window or 1)
        rgb = frames[sorted(set(picks))]
    if len(rgb) == 0:
        raise MediaError(str(video) if isinstance(video, (str, Path)) else "video array", "no frames")
    return preprocess(np.ascontiguousarray(rgb)).numpy()
