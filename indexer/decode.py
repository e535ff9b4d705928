"""Decode audio and video for indexing: mono 48 kHz float32 audio in sample-exact chunks, and RGB
frames picked by their presentation timestamps.

Why it is built this way:
- Every position is an index on one timeline per file: sample `n` of the 48 kHz output is at
  `n / SAMPLE_RATE` seconds, and a video frame is at `pts * time_base`, both measured from the
  container's start time. Audio and video of one file therefore line up, and variable frame rate
  video cannot drift (nothing is derived from a nominal frame rate).
- Audio is decoded and resampled as a stream, so memory is bounded by one chunk whatever the file's
  length. Resampling starts on a sample where the input and output grids meet, which makes the
  output independent of where decoding started: a late window read after a seek equals the same
  span of a decode from the start.
- Every problem with the input file becomes a `MediaError` naming the file and the reason; errors
  that are bugs in this code are left to propagate.
"""

from __future__ import annotations

import bisect
import math
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np
import soundfile

from pe_search.errors import MediaError

SAMPLE_RATE = 48_000
"""Output rate of all audio: what PE-AV's audio tower expects."""

_SOUNDFILE_SUFFIXES = {".wav", ".flac"}
_SOUNDFILE_BLOCK = 1 << 16  # frames per soundfile read
_SEEK_MIN_SECONDS = 10.0  # below this start time, decoding from the beginning is cheap enough
_AUDIO_PREROLL_SECONDS = 1.0  # decoded and discarded before `start` after a seek (codec/resampler warm-up)
_VIDEO_SEEK_GAP_SECONDS = 4.0  # decode through gaps shorter than this rather than seek
_TIME_EPSILON = 1e-6  # float slack when comparing a frame time with a requested time
_MAX_BAD_PACKETS = 50  # packets that fail to decode are skipped, up to this many per file
# Raw elementary streams: no index, and timestamps after a seek are estimates, so never seek in them.
_NO_SEEK_FORMATS = {"mp3", "aac", "ac3", "eac3", "dts", "truehd", "mlp", "amr"}
# Only local files: a playlist or concat list disguised as media must not make FFmpeg open URLs.
_OPEN_OPTIONS = {"protocol_whitelist": "file"}


@dataclass(frozen=True)
class MediaInfo:
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


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """A span of mono 48 kHz audio. `offset` is the index of its first sample on the file's 48 kHz
    timeline (so `start == offset / SAMPLE_RATE` exactly, with no float accumulation)."""

    start: float
    samples: np.ndarray  # float32, 1-D
    offset: int

    @property
    def end(self) -> float:
        return (self.offset + self.samples.size) / SAMPLE_RATE


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """The frame on screen at `requested`: `time` is its own presentation time from the stream."""

    time: float
    requested: float
    rgb: np.ndarray = field(repr=False)  # uint8 (H, W, 3), read-only


# ------------------------------------------------------------------------------------------- opening


def _check_file(path: str | os.PathLike[str]) -> Path:
    """Reject what is not a readable, non-empty, complete file before FFmpeg sees it."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not a media file")
    if not p.is_file():
        raise MediaError(p, "not a regular file")
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            head = f.read(64)
    except PermissionError:
        raise MediaError(p, "permission denied") from None
    except OSError as error:
        raise MediaError(p, f"cannot be read ({error.strerror or error})") from None
    if size == 0:
        raise MediaError(p, "empty file (0 bytes)")
    reason = _truncation(p, head, size)
    if reason:
        raise MediaError(p, f"truncated: {reason}")
    return p


def _truncation(path: Path, head: bytes, size: int) -> str | None:
    """Headers that declare more data than the file holds: the file was cut short.

    Checked for RIFF/WAVE (FFmpeg and libsndfile silently play the remainder), ISO BMFF (mp4, m4a,
    mov) and Matroska/WebM, whose top-level structures carry their sizes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _riff_truncation(path, size)
    if head[4:8] == b"ftyp":
        return _bmff_truncation(path, size)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _ebml_truncation(path, size)
    return None


def _riff_truncation(path: Path, size: int) -> str | None:
    with path.open("rb") as f:
        f.seek(12)
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed WAV: the size was never filled in
                    return None
                missing = f.tell() + chunk_size - size
                return (
                    f"the WAV data chunk is {missing} bytes short of its declared size"
                    if missing > 0
                    else None
                )
            f.seek(chunk_size + (chunk_size & 1), os.SEEK_CUR)


def _bmff_truncation(path: Path, size: int) -> str | None:
    boxes = set()
    with path.open("rb") as f:
        position = 0
        while position + 8 <= size:
            f.seek(position)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:  # extends to the end of the file
                box_size = size - position
            if box_size < 8:
                return None  # not a box structure we understand; let FFmpeg judge
            boxes.add(box_type)
            if position + box_size > size:
                return f"the '{box_type.decode('latin-1')}' box runs past the end of the file"
            position += box_size
    # Media data without the index that locates it (HEIF images index theirs in 'meta' instead).
    if b"mdat" in boxes and not boxes & {b"moov", b"moof", b"meta"}:
        return "no 'moov' index (the file was cut short or never finished writing)"
    return None


def _ebml_truncation(path: Path, size: int) -> str | None:
    with path.open("rb") as f:
        data = f.read(4096)
    position = 0
    for expected_id in (b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"):  # EBML header, then Segment
        if data[position : position + 4] != expected_id:
            return None
        length, value, unknown = _ebml_vint(data, position + 4)
        if length == 0:
            return None
        position += 4 + length
        if expected_id == b"\x18\x53\x80\x67":
            if not unknown and position + value > size:
                return "the Matroska segment runs past the end of the file"
            return None
        position += value
    return None


def _ebml_vint(data: bytes, position: int) -> tuple[int, int, bool]:
    """(length, value, all-ones 'unknown size' marker) of the EBML variable-length integer."""
    if position >= len(data) or data[position] == 0:
        return 0, 0, False
    length = 9 - data[position].bit_length()
    if position + length > len(data):
        return 0, 0, False
    value = data[position] & ((1 << (8 - length)) - 1)
    for byte in data[position + 1 : position + length]:
        value = (value << 8) | byte
    return length, value, value == (1 << (7 * length)) - 1


def _reason(error: Exception, path: Path, opening: bool) -> str:
    """A user-facing reason for an FFmpeg error."""
    if isinstance(error, av.error.DecoderNotFoundError):
        return "unsupported codec (this FFmpeg build has no decoder for it)"
    if isinstance(error, av.error.InvalidDataError):
        if opening:
            if _looks_like_text(path):
                return "not a media file (it contains text)"
            return "not a media file FFmpeg can read (unrecognised or corrupt data)"
        return "corrupt or truncated media data"
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, PermissionError):
        return "permission denied"
    detail = getattr(error, "strerror", None) or str(error)
    return f"FFmpeg cannot read it ({detail})"


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096)
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a multi-byte character cut by the 4096-byte read
    return True


@contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """Open with PyAV; any FFmpeg error while the container is in use becomes a MediaError."""
    p = _check_file(path)
    try:
        container = av.open(str(p), options=dict(_OPEN_OPTIONS), metadata_errors="ignore")
    except av.error.FFmpegError as error:
        raise MediaError(p, _reason(error, p, opening=True)) from None
    if not container.streams.audio and not container.streams.video:
        container.close()
        # FFmpeg reads some text formats (subtitles, playlists): none of them is media to index.
        raise MediaError(
            p, "not a media file (it contains text)" if _looks_like_text(p) else "no audio or video stream"
        )
    try:
        yield container
    except av.error.FFmpegError as error:
        raise MediaError(p, _reason(error, p, opening=False)) from None
    finally:
        container.close()


def _origin(container: av.container.InputContainer) -> float:
    """Time zero of the file's timeline: the container's start time (seconds)."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    return next((s for s in streams if s.disposition & av.stream.Disposition.default), None) or next(
        iter(streams), None
    )


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    streams = list(container.streams.audio)
    return next((s for s in streams if s.disposition & av.stream.Disposition.default), None) or next(
        iter(streams), None
    )


def _declared_duration(stream: av.stream.Stream) -> float | None:
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


def _check_complete(path: Path, stream: av.stream.Stream, decoded_end: float, origin: float) -> None:
    """After decoding to the end: fail if the stream stopped well short of its declared length."""
    declared = _declared_duration(stream)
    if declared is None:
        return
    start = float(stream.start_time * stream.time_base) - origin if stream.start_time is not None else 0.0
    expected_end = start + declared
    if expected_end - decoded_end > max(0.5, 0.05 * expected_end):
        raise MediaError(
            path,
            f"truncated: {stream.type} stops at {decoded_end:.2f} s of a declared {expected_end:.2f} s",
        )


def _decoded_frames(
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
            if bad > _MAX_BAD_PACKETS:
                raise MediaError(
                    path, f"corrupt {stream.type} data ({bad} packets failed to decode)"
                ) from None
            continue
        yield from frames


def _require_decoder(path: Path, stream: av.stream.Stream) -> None:
    if stream.codec_context is None:
        raise MediaError(path, f"unsupported {stream.type} codec (no decoder in this FFmpeg build)")


# --------------------------------------------------------------------------------------------- probe


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe a file from its headers. Raises MediaError if it is not readable media."""
    with _open(path) as container:
        audio, video = _audio_stream(container), _video_stream(container)
        duration = container.duration / av.time_base if container.duration is not None else None
        if duration is None:
            durations = [d for s in (audio, video) if s is not None and (d := _declared_duration(s))]
            duration = max(durations, default=None)
        audio_context = audio.codec_context if audio is not None else None
        video_context = video.codec_context if video is not None else None
        rate = (video.average_rate or video.guessed_rate) if video is not None else None
        return MediaInfo(
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


# --------------------------------------------------------------------------------------------- audio


@dataclass
class _Block:
    """Mono float32 samples at `rate`. `index` is the position of the first sample on the file's
    timeline at `rate` when the source knows it (the first block, or after a seek)."""

    rate: int
    samples: np.ndarray
    index: int | None = None


def _to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Average the channels, as float32 in [-1, 1] with FFmpeg's integer scaling (x / 2**(bits-1))."""
    array = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar:
        array = array.reshape(-1, channels).T
    if array.dtype == np.uint8:
        array = (array.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(2 ** (8 * array.dtype.itemsize - 1))
    return array.mean(axis=0, dtype=np.float32) if channels > 1 else array[0].astype(np.float32, copy=False)


class _Resampler:
    """Mono float32 at `rate` in, 48 kHz out, stream-wise. The output does not depend on how the input
    is split into blocks; 48 kHz input passes through untouched."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._pushed = 0
        self._resampler = (
            None if rate == SAMPLE_RATE else av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self._resampler is None or samples.size == 0:
            return samples if self._resampler is None else samples[:0]
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = self.rate
        frame.time_base = Fraction(1, self.rate)
        frame.pts = self._pushed
        self._pushed += samples.size
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32, copy=False)


def _soundfile_blocks(path: Path, start: float) -> Iterator[_Block] | None:
    """libsndfile reader for WAV/FLAC (fast, exact seeking), or None if libsndfile cannot open it."""
    if path.suffix.lower() not in _SOUNDFILE_SUFFIXES:
        return None
    try:
        sound = soundfile.SoundFile(str(path))
    except RuntimeError:  # soundfile.LibsndfileError: not a format libsndfile reads; PyAV will judge
        return None

    def blocks() -> Iterator[_Block]:
        with sound:
            rate = sound.samplerate
            index = 0
            if start > _SEEK_MIN_SECONDS and sound.seekable():
                index = max(0, math.floor((start - _AUDIO_PREROLL_SECONDS) * rate))
                index -= index % _grid_period(rate)
                sound.seek(index)
            try:
                while True:
                    data = sound.read(_SOUNDFILE_BLOCK, dtype="float32", always_2d=True)
                    if data.shape[0] == 0:
                        return
                    yield _Block(rate, data.mean(axis=1, dtype=np.float32), index)
                    index = None
            except (soundfile.LibsndfileError, RuntimeError) as error:
                raise MediaError(path, f"corrupt or truncated audio data ({error})") from None

    return blocks()


def _pyav_blocks(path: Path, start: float, allow_seek: bool = True) -> Iterator[_Block]:
    """PyAV reader for every other container; seeks for a late start where timestamps are exact."""
    with _open(path) as container:
        stream = _audio_stream(container)
        if stream is None:
            raise MediaError(path, "no audio stream")
        _require_decoder(path, stream)
        origin = _origin(container)
        seek = (
            allow_seek
            and start > _SEEK_MIN_SECONDS
            and container.format.name not in _NO_SEEK_FORMATS
            and _addresses_samples(stream)
        )
        if seek:
            target = start - _AUDIO_PREROLL_SECONDS + origin
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
        first = True
        end = 0.0
        for frame in _decoded_frames(path, container, stream):
            if frame.samples == 0:
                continue
            samples = _to_mono(frame)
            index = None
            if first:
                time = float(frame.pts * frame.time_base) - origin if frame.pts is not None else 0.0
                if seek and time > start:
                    raise _SeekOvershoot
                index = round(time * frame.sample_rate)
                end = time
                first = False
            end += frame.samples / frame.sample_rate
            yield _Block(frame.sample_rate, samples, index)
        _check_complete(path, stream, end, origin)


def _addresses_samples(stream: av.audio.stream.AudioStream) -> bool:
    """Whether timestamps resolve single samples, so a position after a seek is exact. Matroska's
    millisecond timestamps do not: there audio is decoded from the start instead."""
    rate = stream.codec_context.sample_rate
    return bool(rate) and stream.time_base is not None and stream.time_base <= Fraction(1, rate)


class _SeekOvershoot(Exception):
    """A seek landed after the requested start: decode from the beginning instead."""


def _grid_period(rate: int) -> int:
    """Input samples between points where the input and 48 kHz grids coincide."""
    return rate // math.gcd(rate, SAMPLE_RATE)


def _mono_48k(blocks: Iterator[_Block]) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, samples) at 48 kHz on the file's timeline, from blocks at the source rate."""
    resampler: _Resampler | None = None
    position = 0  # 48 kHz index of the next output sample
    skip = 0  # input samples still to drop to reach a grid point
    for block in blocks:
        samples = block.samples
        if resampler is None or block.rate != resampler.rate:
            if resampler is not None:  # the rate changed mid-stream: finish the old one, carry on
                tail = resampler.flush()
                yield position, tail
                position += tail.size
                index = position * block.rate // SAMPLE_RATE
            else:
                index = block.index or 0
            period = _grid_period(block.rate)
            aligned = -(-index // period) * period
            skip = aligned - index
            if resampler is None:
                position = aligned * SAMPLE_RATE // block.rate
            resampler = _Resampler(block.rate)
        if skip:
            dropped = min(skip, samples.size)
            samples, skip = samples[dropped:], skip - dropped
        out = resampler.push(samples)
        if out.size:
            yield position, out
            position += out.size
    if resampler is not None:
        tail = resampler.flush()
        if tail.size:
            yield position, tail


def _source(path: Path, start: float, allow_seek: bool = True) -> Iterator[_Block]:
    return _soundfile_blocks(path, start if allow_seek else 0.0) or _pyav_blocks(path, start, allow_seek)


def iter_audio(
    path: str | os.PathLike[str], chunk_seconds: float = 30.0, start: float = 0.0, end: float | None = None
) -> Iterator[AudioChunk]:
    """Mono 48 kHz float32 audio of [start, end) in chunks of `chunk_seconds` (the last may be shorter).

    Chunk k begins at sample round(start * 48000) + k * round(chunk_seconds * 48000) of the file's
    timeline, so chunks concatenate to exactly the same samples as one read of the whole span.
    Only about one chunk is held in memory. Raises MediaError for unusable files.
    """
    if chunk_seconds <= 0:
        raise ValueError("chunk_seconds must be positive")
    first = round(max(start, 0.0) * SAMPLE_RATE)
    last = round(end * SAMPLE_RATE) if end is not None else None
    if last is not None and last <= first:
        _check_file(path)
        return
    chunk = round(chunk_seconds * SAMPLE_RATE)
    p = _check_file(path)
    try:
        yield from _chunks(_mono_48k(_source(p, first / SAMPLE_RATE)), first, last, chunk)
    except _SeekOvershoot:
        yield from _chunks(_mono_48k(_source(p, first / SAMPLE_RATE, allow_seek=False)), first, last, chunk)


def _chunks(
    pieces: Iterator[tuple[int, np.ndarray]], first: int, last: int | None, chunk: int
) -> Iterator[AudioChunk]:
    """Cut (offset, samples) pieces into chunks of `chunk` samples covering [first, last).

    Each chunk is filled in place, so memory is one chunk plus one decoded piece."""
    buffer: np.ndarray | None = None
    filled = 0
    offset = first  # timeline index of buffer[0]
    try:
        for position, samples in pieces:
            cursor = offset + filled  # timeline index of the next sample wanted
            if last is not None and position >= last:
                break
            if position + samples.size <= cursor:
                continue
            # Audio that starts after the wanted position is preceded by silence (an int: that many zeros).
            parts: list[np.ndarray | int] = (
                [position - cursor, samples] if position > cursor else [samples[cursor - position :]]
            )
            for part in parts:
                remaining = part if isinstance(part, int) else part.size
                while remaining:
                    if buffer is None:
                        size = chunk if last is None else min(chunk, last - offset)
                        buffer, filled = np.empty(size, np.float32), 0
                    n = min(remaining, buffer.size - filled)
                    if isinstance(part, int):
                        buffer[filled : filled + n] = 0.0
                    else:
                        buffer[filled : filled + n] = part[part.size - remaining : part.size - remaining + n]
                    filled += n
                    remaining -= n
                    if filled == buffer.size:
                        yield AudioChunk(offset / SAMPLE_RATE, buffer, offset)
                        offset += buffer.size
                        buffer, filled = None, 0
                        if last is not None and offset >= last:
                            return
    finally:
        pieces.close()  # type: ignore[attr-defined]  # closes the container promptly on early exit
    if buffer is not None and filled:
        yield AudioChunk(offset / SAMPLE_RATE, buffer[:filled], offset)


def read_audio(path: str | os.PathLike[str], start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Mono 48 kHz float32 samples of [start, end), whole; for bounded spans (a window, a clip)."""
    span = end - max(start, 0.0) if end is not None else 0.0
    chunk_seconds = span + 1.0 if span > 0 else 60.0  # a known span arrives as one chunk: no copy
    chunks = [c.samples for c in iter_audio(path, chunk_seconds=chunk_seconds, start=start, end=end)]
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


# --------------------------------------------------------------------------------------------- video


def window_frame_times(
    start: float,
    end: float,
    *,
    fps: float | None = None,
    frames_per_window: int | None = None,
    frame_rate: float | None = None,
) -> list[float]:
    """Times at which to sample frames in the window [start, end).

    `fps`: every 1/fps seconds from `start`, while before `end`.
    `frames_per_window=N`: N times spread as PE's frame sampler spreads them, `int(i * (T - 1) / (N - 1))`
    over the window's T frames, first and last frame included. With the stream's `frame_rate` this
    is that sampler exactly (for constant frame rate and `start` on a frame); without it, the same
    spread over continuous time, from `start` to the last instant before `end`.
    """
    if (fps is None) == (frames_per_window is None):
        raise ValueError("give exactly one of fps or frames_per_window")
    if end <= start:
        return []
    if fps is not None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        count = math.ceil(round((end - start) * fps, 9))
        return [start + k / fps for k in range(count)]
    n = frames_per_window
    if n is None or n < 1:
        raise ValueError("frames_per_window must be at least 1")
    if frame_rate:
        total = max(1, round((end - start) * frame_rate))
        indices = [int(i * (total - 1) / (n - 1)) for i in range(n)] if n > 1 else [(total - 1) // 2]
        return [start + index / frame_rate for index in indices]
    if n == 1:
        return [start + (end - start) / 2]
    # The last instant of the window: a frame shown at `end` belongs to the next window.
    last = max(start, end - 1e-4)
    return [start + i * (last - start) / (n - 1) for i in range(n)]


def iter_video_frames(
    path: str | os.PathLike[str], times: Sequence[float], size: tuple[int, int] | None = None
) -> Iterator[VideoFrame]:
    """For each requested time (non-decreasing), the frame on screen then: the last frame whose
    presentation time is <= t (the first frame for t before it, the last frame for t past the end).

    `size` is (height, width) to scale frames to; leave it None when the frames go to
    `FramePreprocessing`, which resizes exactly as the checkpoint's processor does.
    Seeks over long gaps between requested times. Raises MediaError for unusable files.
    """
    times = [float(t) for t in times]
    if any(b < a for a, b in zip(times, times[1:], strict=False)):
        raise ValueError("times must be non-decreasing")
    p = _check_file(path)
    with _open(p) as container:
        stream = _video_stream(container)
        if stream is None:
            raise MediaError(p, "no video stream")
        _require_decoder(p, stream)
        stream.thread_type = "AUTO"
        origin = _origin(container)
        yield from _pick_frames(p, container, stream, times, origin, size)


def _pick_frames(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    times: list[float],
    origin: float,
    size: tuple[int, int] | None,
) -> Iterator[VideoFrame]:
    pending = 0  # index into `times` of the next request
    shown: tuple[float, av.VideoFrame] | None = None  # the last decoded frame with time <= next request
    converted: tuple[av.VideoFrame, np.ndarray] | None = None  # convert each frame only once
    last_time = -math.inf
    frames = _decoded_frames(path, container, stream)
    seek_at: float | None = None
    sought: float | None = None  # the last request a seek was considered for
    keyframes: list[float] | None = None  # from the container's index, read when first needed

    def emit(frame: av.VideoFrame, time: float, requested: float) -> VideoFrame:
        nonlocal converted
        if converted is None or converted[0] is not frame:
            converted = (frame, _to_rgb(frame, size))
        return VideoFrame(time, requested, converted[1])

    while pending < len(times):
        if seek_at is not None:
            frames = _seek_video(path, container, stream, seek_at, origin)
            shown, seek_at = None, None
        advanced = False
        for frame in frames:
            time = _frame_time(frame, origin, last_time)
            last_time = time
            while pending < len(times) and times[pending] + _TIME_EPSILON < time:
                current = shown or (time, frame)
                yield emit(current[1], current[0], times[pending])
                pending += 1
            if pending == len(times):
                return
            shown = (time, frame)
            if times[pending] - time > _VIDEO_SEEK_GAP_SECONDS and times[pending] != sought:
                sought = times[pending]  # decided once per request
                if keyframes is None:
                    keyframes = _keyframe_times(stream, origin)
                if _seek_pays(keyframes, time, sought):
                    seek_at = sought
                    advanced = True
                    break
        if advanced:
            continue
        # End of stream: whatever is still requested lies at or after the last frame.
        if shown is None:
            raise MediaError(path, "no decodable video frames")
        if pending < len(times):
            _check_complete(path, stream, shown[0] + _frame_duration(stream), origin)
        while pending < len(times):
            yield emit(shown[1], shown[0], times[pending])
            pending += 1


def _frame_time(frame: av.VideoFrame, origin: float, previous: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base) - origin
    return previous + 1e-3 if math.isfinite(previous) else 0.0  # no timestamp: keep the order


def _frame_duration(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return 1.0 / float(rate) if rate else 0.0


def _keyframe_times(stream: av.video.stream.VideoStream, origin: float) -> list[float]:
    """Sorted keyframe times from the container's index (empty where the index is not loaded)."""
    entries = stream.index_entries
    if len(entries) < 2:
        return []
    return sorted(float(e.timestamp * stream.time_base) - origin for e in entries if e.is_keyframe)


def _seek_pays(keyframes: list[float], now: float, target: float) -> bool:
    """Whether the last keyframe at or before the target lies after now (assumed when unknown)."""
    if not keyframes:
        return True
    i = bisect.bisect_right(keyframes, target + _TIME_EPSILON)
    return i > 0 and keyframes[i - 1] > now + _TIME_EPSILON


def _seek_video(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    target: float,
    origin: float,
) -> Iterator[av.VideoFrame]:
    """Frames from a keyframe at or before `target`; steps further back if a seek overshoots."""
    for back in (0.0, 5.0, 30.0, math.inf):
        seconds = max(target - back, 0.0) + origin if math.isfinite(back) else origin
        container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
        frames = _decoded_frames(path, container, stream)
        first = next(frames, None)
        if first is None:
            continue
        if _frame_time(first, origin, -math.inf) <= target + _TIME_EPSILON or not math.isfinite(back):
            return _prepend(first, frames)
    return iter(())


def _prepend(first: av.VideoFrame, rest: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    yield first
    yield from rest


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        height, width = size
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    rgb.flags.writeable = False
    return rgb
