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
from pe_search.media.damage import DamageLog

MAX_BAD_PACKETS = 50  # packets that fail to decode are skipped, up to this many per file
# What FFmpeg raises for a packet it cannot decode. Some decoders (AAC) answer a corrupt packet with
# a bare -1, which is AVERROR(EPERM): PyAV raises PermissionError for it, though nothing was denied.
_BAD_PACKET_ERRORS = (av.error.InvalidDataError, av.error.UndefinedError, av.error.PermissionError)
# Demuxers that read images: FFmpeg opens pictures as one-frame video, but they are not footage.
_IMAGE_FORMAT_SUFFIX = "_pipe"
_IMAGE_FORMATS = {"image2", "gif", "apng", "webp_pipe", "tiff_pipe"}
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
        # FFmpeg's AVERROR(EPERM) is a bare -1 that decoders also return for corrupt data: only an
        # open that the operating system refused is a permission problem.
        if opening and not os.access(path, os.R_OK):
            return "permission denied"
        return "corrupt or truncated media data"
    detail = getattr(error, "strerror", None) or str(error)
    return f"FFmpeg cannot read it ({detail})"


@contextmanager
def open_media(
    path: str | os.PathLike[str], damage: DamageLog | None = None
) -> Iterator[av.container.InputContainer]:
    """Open with PyAV; any FFmpeg error while the container is in use becomes a MediaError.

    With `damage`, a file cut short is opened anyway (what decodes is kept; see `DamageLog`)."""
    p = check_file(path, damage)
    try:
        container = av.open(str(p), options=dict(_OPEN_OPTIONS), metadata_errors="ignore")
    except av.error.FFmpegError as error:
        # A file cut short fails to open for the reason the check found, not as "unrecognised".
        reason = damage.notes[0] if damage is not None and damage.notes else _reason(error, p, opening=True)
        raise MediaError(p, reason) from None
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


def is_image_format(container: av.container.InputContainer) -> bool:
    """Whether FFmpeg read the file as a still picture (png_pipe, image2, ...), not as footage."""
    names = set(container.format.name.split(","))
    return bool(names & _IMAGE_FORMATS) or any(n.endswith(_IMAGE_FORMAT_SUFFIX) for n in names)


def check_complete(
    path: Path,
    stream: av.stream.Stream,
    decoded_end: float,
    origin: float,
    damage: DamageLog | None = None,
) -> None:
    """After decoding to the end: fail (or, with `damage`, note) if the stream stopped well short
    of its declared length."""
    declared = declared_duration(stream)
    if declared is None:
        return
    start = float(stream.start_time * stream.time_base) - origin if stream.start_time is not None else 0.0
    expected_end = start + declared
    if expected_end - decoded_end > max(0.5, 0.05 * expected_end):
        reason = f"truncated: {stream.type} stops at {decoded_end:.2f} s of a declared {expected_end:.2f} s"
        if damage is None:
            raise MediaError(path, reason)
        damage.note(reason)


def decoded_frames(
    path: Path,
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    damage: DamageLog | None = None,
) -> Iterator[av.frame.Frame]:
    """Frames of one stream. A packet that fails to decode is skipped (one glitch must not lose a
    two-hour file); too many mean the file is broken. With `damage`, skipped packets are counted
    there, and data the demuxer cannot read past ends the stream (what came before is kept)."""
    codec_context = stream.codec_context
    bad = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as error:
            if damage is None:
                raise
            damage.note(f"{_reason(error, path, opening=False)}: {stream.type} stops there")
            return
        try:
            frames = codec_context.decode(packet)
        except _BAD_PACKET_ERRORS:
            bad += 1
            if damage is not None:
                damage.skipped_packet(stream.type)
            if bad > MAX_BAD_PACKETS:
                raise MediaError(
                    path, f"corrupt {stream.type} data ({bad} packets failed to decode)"
                ) from None
            continue
        yield from frames


def require_decoder(path: Path, stream: av.stream.Stream) -> None:
    if stream.codec_context is None:
        raise MediaError(path, f"unsupported {stream.type} codec (no decoder in this FFmpeg build)")
