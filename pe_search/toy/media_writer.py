"""Write media files with PyAV: what the demo's generated folder and the tests' fixtures are made of.

Signals are numpy arrays shaped (channels, samples) or (samples,) in [-1, 1]; videos are
sequences of (rgb uint8, time seconds) pairs, so a variable frame rate is as easy to write as a
constant one. The codec follows the file's extension (`AUDIO_CODECS` / `VIDEO_CODECS`); every
codec named here is one PyAV's bundled FFmpeg can encode (it has no vorbis encoder).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pe_search.media.rate import SAMPLE_RATE

AUDIO_CODECS = {
    ".wav": "pcm_s16le",
    ".flac": "flac",
    ".m4a": "aac",
    ".mp3": "libmp3lame",
    ".ogg": "libopus",
    ".opus": "libopus",
    ".webm": "libopus",
    ".mp4": "aac",
    ".mkv": "flac",
    ".mka": "flac",
    ".mov": "aac",
}
VIDEO_CODECS = {".webm": "libvpx-vp9", ".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264"}
# Time base for written video: fine enough for irregular (variable frame rate) timestamps.
VIDEO_TIME_BASE = Fraction(1, 1000)


def _audio_frames(signal: np.ndarray, rate: int, block: int = 4096) -> Iterable[av.AudioFrame]:
    layout = "mono" if signal.shape[0] == 1 else "stereo"
    for i in range(0, signal.shape[1], block):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(signal[:, i : i + block], dtype=np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = i
        frame.time_base = Fraction(1, rate)
        yield frame


def _add_audio_stream(container: av.container.OutputContainer, codec: str, rate: int, channels: int):
    stream = container.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
    if codec in ("aac", "libopus", "libmp3lame"):
        stream.bit_rate = 96_000 * channels
    return stream


def write_audio(
    path: str | Path, signal: np.ndarray, rate: int, codec: str | None = None, cover: np.ndarray | None = None
) -> Path:
    """Encode `signal` (channels, samples) or (samples,) at `rate` into `path`; the codec follows the
    extension unless given. `cover` (rgb uint8) adds cover art: a JPEG 'attached picture' stream,
    which is a video stream to FFmpeg but not video."""
    path = Path(path)
    signal = np.atleast_2d(np.asarray(signal, dtype=np.float32))
    codec = codec or AUDIO_CODECS[path.suffix]
    with av.open(str(path), "w") as container:
        stream = _add_audio_stream(container, codec, rate, signal.shape[0])
        if cover is not None:
            art = container.add_stream("mjpeg")
            art.height, art.width = cover.shape[:2]
            art.pix_fmt = "yuvj420p"
            art.disposition = av.stream.Disposition.attached_pic
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(cover), format="rgb24")
            picture = picture.reformat(format="yuvj420p")
            picture.pts = 0
            container.mux(art.encode(picture))
            container.mux(art.encode(None))
        for frame in _audio_frames(signal, rate):
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_video(
    path: str | Path,
    frames: Iterable[tuple[np.ndarray, float]],
    *,
    audio: np.ndarray | None = None,
    audio_rate: int = SAMPLE_RATE,
    codec: str | None = None,
    gop: int = 12,
) -> Path:
    """Encode (rgb uint8 (H, W, 3), time seconds) pairs into `path`, with an optional audio track.

    Times may be irregular (variable frame rate); they are stored at millisecond resolution.
    `gop` is the keyframe interval, small so that seeking has keyframes to land on.
    """
    path = Path(path)
    frames = iter(frames)
    first, first_time = next(frames)
    height, width = first.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec or VIDEO_CODECS[path.suffix], rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = VIDEO_TIME_BASE
        stream.codec_context.time_base = VIDEO_TIME_BASE
        stream.codec_context.gop_size = gop
        if stream.codec_context.name == "libx264":
            stream.codec_context.options = {"preset": "ultrafast", "crf": "18"}
        elif stream.codec_context.name == "libvpx-vp9":
            stream.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        audio_stream = None
        if audio is not None:
            audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
            audio_stream = _add_audio_stream(container, AUDIO_CODECS[path.suffix], audio_rate, audio.shape[0])

        def encode_video(rgb: np.ndarray, time: float) -> None:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = round(time / VIDEO_TIME_BASE)
            frame.time_base = VIDEO_TIME_BASE
            container.mux(stream.encode(frame))

        encode_video(first, first_time)
        for rgb, time in frames:
            encode_video(rgb, time)
        container.mux(stream.encode(None))
        if audio_stream is not None:
            for frame in _audio_frames(audio, audio_rate):
                container.mux(audio_stream.encode(frame))
            container.mux(audio_stream.encode(None))
    return path
