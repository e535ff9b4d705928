"""Where decoded audio comes from: libsndfile for WAV/FLAC (fast, exact seeking), PyAV for every
other container. Each yields mono float32 `AudioBlock`s at the source rate, on the file's timeline."""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile

from pe_search.errors import MediaError
from pe_search.media.containers import (
    audio_stream,
    check_complete,
    decoded_frames,
    open_media,
    require_decoder,
    timeline_origin,
)
from pe_search.media.damage import DamageLog
from pe_search.media.resample import AudioBlock, grid_period

_SOUNDFILE_SUFFIXES = {".wav", ".flac"}
_SOUNDFILE_BLOCK = 1 << 16  # frames per soundfile read
_SEEK_MIN_SECONDS = 10.0  # below this start time, decoding from the beginning is cheap enough
_AUDIO_PREROLL_SECONDS = 1.0  # decoded and discarded before `start` after a seek (codec/resampler warm-up)
# Raw elementary streams: no index, and timestamps after a seek are estimates, so never seek in them.
_NO_SEEK_FORMATS = {"mp3", "aac", "ac3", "eac3", "dts", "truehd", "mlp", "amr"}


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


def soundfile_blocks(
    path: Path, start: float, damage: DamageLog | None = None
) -> Iterator[AudioBlock] | None:
    """libsndfile reader for WAV/FLAC (fast, exact seeking), or None if libsndfile cannot open it."""
    if path.suffix.lower() not in _SOUNDFILE_SUFFIXES:
        return None
    try:
        sound = soundfile.SoundFile(str(path))
    except RuntimeError:  # soundfile.LibsndfileError: not a format libsndfile reads; PyAV will judge
        return None

    def blocks() -> Iterator[AudioBlock]:
        with sound:
            rate = sound.samplerate
            index = 0
            if start > _SEEK_MIN_SECONDS and sound.seekable():
                index = max(0, math.floor((start - _AUDIO_PREROLL_SECONDS) * rate))
                index -= index % grid_period(rate)
                sound.seek(index)
            yielded = False
            try:
                while True:
                    data = sound.read(_SOUNDFILE_BLOCK, dtype="float32", always_2d=True)
                    if data.shape[0] == 0:
                        return
                    yield AudioBlock(rate, data.mean(axis=1, dtype=np.float32), index)
                    yielded, index = True, None
            except (soundfile.LibsndfileError, RuntimeError) as error:
                reason = f"corrupt or truncated audio data ({error})"
                if damage is None:
                    raise MediaError(path, reason) from None
                if yielded:
                    damage.note(f"{reason}: audio stops there")
                    return
        # libsndfile gave up before its first block: FFmpeg decodes up to the damage
        yield from pyav_blocks(path, start, damage=damage)

    return blocks()


def pyav_blocks(
    path: Path, start: float, allow_seek: bool = True, damage: DamageLog | None = None
) -> Iterator[AudioBlock]:
    """PyAV reader for every other container; seeks for a late start where timestamps are exact."""
    with open_media(path, damage) as container:
        stream = audio_stream(container)
        if stream is None:
            raise MediaError(path, "no audio stream")
        require_decoder(path, stream)
        origin = timeline_origin(container)
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
        for frame in decoded_frames(path, container, stream, damage):
            if frame.samples == 0:
                continue
            samples = _to_mono(frame)
            index = None
            if first:
                time = float(frame.pts * frame.time_base) - origin if frame.pts is not None else 0.0
                if seek and time > start:
                    raise SeekOvershoot
                index = round(time * frame.sample_rate)
                end = time
                first = False
            end += frame.samples / frame.sample_rate
            yield AudioBlock(frame.sample_rate, samples, index)
        check_complete(path, stream, end, origin, damage)


def _addresses_samples(stream: av.audio.stream.AudioStream) -> bool:
    """Whether timestamps resolve single samples, so a position after a seek is exact. Matroska's
    millisecond timestamps do not: there audio is decoded from the start instead."""
    rate = stream.codec_context.sample_rate
    return bool(rate) and stream.time_base is not None and stream.time_base <= Fraction(1, rate)


class SeekOvershoot(Exception):
    """A seek landed after the requested start: decode from the beginning instead."""


def audio_blocks(
    path: Path, start: float, allow_seek: bool = True, damage: DamageLog | None = None
) -> Iterator[AudioBlock]:
    """Blocks from `start` (or earlier), from whichever reader can open the file, with every
    sample finite (see `finite_blocks`)."""
    blocks = soundfile_blocks(path, start if allow_seek else 0.0, damage) or pyav_blocks(
        path, start, allow_seek, damage
    )
    return finite_blocks(path, blocks, damage)


def finite_blocks(
    path: Path, blocks: Iterator[AudioBlock], damage: DamageLog | None = None
) -> Iterator[AudioBlock]:
    """Float files can hold NaN or infinite samples, which would poison every vector they reach.

    Without `damage` (a query) such a file is refused; with it (indexing) those samples become
    silence and are counted, and a file whose samples are all NaN or infinite fails."""
    try:
        for block in blocks:
            finite = np.isfinite(block.samples)
            if not finite.all():
                bad = int(finite.size - np.count_nonzero(finite))
                if damage is None:
                    raise MediaError(path, f"the audio holds {bad} NaN or infinite samples")
                damage.nonfinite_samples += bad
                samples = np.where(finite, block.samples, np.float32(0.0)).astype(np.float32)
                block = AudioBlock(block.rate, samples, block.index)
            if damage is not None:
                damage.finite_samples += int(np.count_nonzero(finite))
            yield block
    finally:
        blocks.close()  # type: ignore[attr-defined]
    if damage is not None and damage.nonfinite_samples and not damage.finite_samples:
        raise MediaError(path, "every audio sample is NaN or infinite")
