"""What a file contains, from its headers (nothing is decoded).

`ProbedMedia` is the media layer's view of a file; the store's `MediaInfo` is a library row.
`probe` is the one function of that name: `file_info.file_info` (what a duplicate group shows)
is a different, never-raising look at a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import av

from pe_search.media.containers import audio_stream, declared_duration, open_media, video_stream
from pe_search.media.damage import DamageLog


@dataclass(frozen=True)
class ProbedMedia:
    """What a file contains, from its headers (nothing is decoded)."""

    path: str
    duration: float | None  # seconds; None when the container does not say
    has_audio: bool
    has_video: bool  # cover art (an attached picture) does not count as video
    audio_codec: str | None  # None when absent, or when no decoder knows the codec
    video_codec: str | None
    sample_rate: int | None
    channels: int | None
    width: int | None
    height: int | None
    frame_rate: float | None  # average; variable frame rate video is timed by its timestamps, not this
    container: str


def probe(path: str | os.PathLike[str], damage: DamageLog | None = None) -> ProbedMedia:
    """Describe a file from its headers. Raises MediaError if it is not readable media; with
    `damage`, a file cut short is described (and noted there) as far as its headers go."""
    with open_media(path, damage) as container:
        return media_info(path, container)


def media_info(path: str | os.PathLike[str], container: av.container.InputContainer) -> ProbedMedia:
    """`probe` of a container already open (the indexer reads its tags and sound in the same open)."""
    audio, video = audio_stream(container), video_stream(container)
    duration = container.duration / av.time_base if container.duration is not None else None
    if duration is None:
        durations = [d for s in (audio, video) if s is not None and (d := declared_duration(s))]
        duration = max(durations, default=None)
    audio_context = audio.codec_context if audio is not None else None
    video_context = video.codec_context if video is not None else None
    rate = (video.average_rate or video.guessed_rate) if video is not None else None
    return ProbedMedia(
        path=str(path),
        duration=duration,
        has_audio=audio is not None,
        has_video=video is not None,
        audio_codec=audio_context.name if audio_context is not None else None,
        video_codec=video_context.name if video_context is not None else None,
        sample_rate=audio_context.sample_rate if audio_context is not None else None,
        channels=audio_context.channels if audio_context is not None else None,
        width=video_context.width if video_context is not None else None,
        height=video_context.height if video_context is not None else None,
        frame_rate=float(rate) if rate else None,
        container=container.format.name,
    )
