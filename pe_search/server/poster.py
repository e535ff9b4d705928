"""A still of a video at a given time, decoded with PyAV (the media layer's decoder) and encoded as
JPEG with PyAV's MJPEG encoder: no imaging library needed."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from pe_search.errors import MediaError
from pe_search.media.probe import probe
from pe_search.media.video import iter_video_frames

MAX_WIDTH = 480
JPEG_QUALITY_SCALE = 3  # ffmpeg's qscale: 2 (best) .. 31


def poster_jpeg(path: str, at: float) -> bytes:
    """The frame shown at `at` seconds (the last one when `at` is past the end), as JPEG bytes."""
    info = probe(path)
    if not info.has_video:
        raise MediaError(path, "has no picture to show")
    if info.duration is not None:
        at = min(max(at, 0.0), max(info.duration - 0.05, 0.0))
    frames = list(iter_video_frames(path, [at]))
    if not frames:
        raise MediaError(path, f"has no frame at {at:.2f} s")
    return _jpeg(frames[0].rgb)


def _jpeg(rgb: np.ndarray) -> bytes:
    height, width = rgb.shape[:2]
    if width > MAX_WIDTH:
        height, width = round(height * MAX_WIDTH / width), MAX_WIDTH
    width, height = width - width % 2, height - height % 2
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(width=width, height=height, format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qscale": str(JPEG_QUALITY_SCALE)}
    encoder.flags |= av.codec.context.Flags.qscale
    frame.pts = 0
    packets = [*encoder.encode(frame), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)
