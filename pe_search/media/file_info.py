"""What a duplicate group shows of each file: container, codec, duration, bit rate (read with PyAV)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import av

from pe_search.errors import MediaError
from pe_search.media.containers import open_media

LOSSLESS_CODECS = frozenset({"flac", "alac", "wavpack", "tta", "ape", "mlp", "truehd"})


@dataclass(frozen=True)
class FileInfo:
    exists: bool
    size: int | None = None
    format: str | None = None  # container, as FFmpeg names it (e.g. "flac", "mov,mp4,m4a,3gp,3g2,mj2")
    codec: str | None = None  # the audio codec, else the video codec
    duration: float | None = None
    bit_rate: int | None = None  # bits per second, the container's (all streams)
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def lossless(self) -> bool:
        return self.codec is not None and (self.codec in LOSSLESS_CODECS or self.codec.startswith("pcm_"))


def file_info(path: str) -> FileInfo:
    """Size, container, codec, duration and bit rate of a file. Never raises: a file that is gone or
    unreadable says so."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return FileInfo(exists=False)
    try:
        with open_media(path) as container:
            audio = container.streams.audio[0] if container.streams.audio else None
            video = container.streams.video[0] if container.streams.video else None
            stream = audio or video
            duration = container.duration / av.time_base if container.duration else None
            bit_rate = container.bit_rate or (int(size * 8 / duration) if duration else None)
            return FileInfo(
                exists=True,
                size=size,
                format=container.format.name,
                codec=stream.codec_context.codec.canonical_name if stream is not None else None,
                duration=duration,
                bit_rate=bit_rate,
                sample_rate=audio.rate if audio is not None else None,
                channels=audio.channels if audio is not None else None,
            )
    except MediaError:
        return FileInfo(exists=True, size=size)
