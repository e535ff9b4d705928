"""Opening media with PyAV: the container, its audio and video streams, their timelines, and every
FFmpeg error while a file is in use turned into a `MediaError` that names the file and the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.container

from pe_search.errors import MediaError
from pe_search.media.check import check_file, looks_like_text

MAX_BAD_PACKETS = 50  # packets that fail to decode are skipped, up to this many per file
# Only local files: a playlist or concat list disguised as media must not make FFmpeg open URLs.
_OPEN_OPTIONS = {"protocol_whitelist": "file"}


def _reason(error: Exception, path: Path, opening: bool) -> str:
    """A user-facing reason for an FFmpeg error."""
    if isinstance(error, av.error.DecoderNotFoundError):
        return "unsupported codec (this FFmpeg build has no decoder for it)"
    if isinstance(error, av.error.InvalidDataError):
        if opening:
            if looks_like_text(path):
                return "not a media file (it contains text)"
            return "not a media file FFmpeg can read (unrecognised or corrupt data)"
        return "corrupt or truncated media data"
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, PermissionError):
        return "permission denied"
    detail = getattr(error, "strerror", None) or str(error)
    return f"FFmpeg cannot read it ({detail})"


@contextmanager
def open_media(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """Open with PyAV; any FFmpeg error while the container is in use becomes a MediaError."""
    p = check_file(path)
    try:
        container = av.open(str(p), options=dict(_OPEN_OPTIONS), metadata_errors="ignore")
    except av.error.FFmpegError as error:
        raise MediaError(p, _reason(error, p, opening=True)) from None
    if not container.streams.audio and not container.streams.video:
        container.close()
        # FFmpeg reads some text formats (subtitles, playlists): none of them is media to index.
        raise MediaError(
            p, "not a media file (it contains text)" if looks_like_text(p) else "no audio or video stream"
        )
    try:
        yield container
    except av.error.FFmpegError as error:
        raise MediaError(p, _reason(error, p, opening=False)) from None
    finally:
        container.close()


def timeline_origin(container: av.container.InputContainer) -> float:
    """Time zero of the file's timeline: the container's start time (seconds)."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    return next((s for s in streams if s.disposition & av.stream.Disposition.default), None) or next(
        iter(streams), None
    )


def audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    streams = list(container.streams.audio)
    return next((s for s in streams if s.disposition & av.stream.Disposition.default), None) or next(
        iter(streams), None
    )


def declared_duration(stream: av.stream.Stream) -> float | None:
    """The stream's own duration from the headers (Matroska keeps it as a DURATION tag)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
    return None


def check_complete(path: Path, stream: av.stream.Stream, decoded_end: float, origin: float) -> None:
    """After decoding to the end: fail if the stream stopped well short of its declared length."""
    declared = declared_duration(stream)
    if declared is None:
        return
    start = float(stream.start_time * stream.time_base) - origin if stream.start_time is not None else 0.0
    expected_end = start + declared
    if expected_end - decoded_end > max(0.5, 0.05 * expected_end):
        raise MediaError(
            path,
            f"truncated: {stream.type} stops at {decoded_end:.2f} s of a declared {expected_end:.2f} s",
        )


def decoded_frames(
    path: Path, container: av.container.InputContainer, stream: av.stream.Stream
) -> Iterator[av.frame.Frame]:
    """Frames of one stream. A packet that fails to decode is skipped (one glitch must not lose a
    two-hour file); too many mean the file is broken."""
    codec_context = stream.codec_context
    bad = 0
    for packet in container.demux(stream):
        try:
            frames = codec_context.decode(packet)
        except (av.error.InvalidDataError, av.error.UndefinedError):
            bad += 1
            if bad > MAX_BAD_PACKETS:
                raise MediaError(
                    path, f"corrupt {stream.type} data ({bad} packets failed to decode)"
                ) from None
            continue
        yield from frames


def require_decoder(path: Path, stream: av.stream.Stream) -> None:
    if stream.codec_context is None:
        raise MediaError(path, f"unsupported {stream.type} codec (no decoder in this FFmpeg build)")
