"""Mono 48 kHz float32 audio in sample-exact chunks on the file's timeline, in bounded memory:
audio is decoded and resampled as a stream, so memory is one chunk whatever the file's length."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pe_search.media.audio_sources import SeekOvershoot, audio_blocks
from pe_search.media.check import check_file
from pe_search.media.damage import DamageLog
from pe_search.media.rate import SAMPLE_RATE
from pe_search.media.resample import to_48k


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


def iter_audio(
    path: str | os.PathLike[str],
    chunk_seconds: float = 30.0,
    start: float = 0.0,
    end: float | None = None,
    damage: DamageLog | None = None,
) -> Iterator[AudioChunk]:
    """Mono 48 kHz float32 audio of [start, end) in chunks of `chunk_seconds` (the last may be shorter).

    Chunk k begins at sample round(start * 48000) + k * round(chunk_seconds * 48000) of the file's
    timeline, so chunks concatenate to exactly the same samples as one read of the whole span.
    Only about one chunk is held in memory. Raises MediaError for unusable files; with `damage`,
    a file that decodes only in part yields what decodes and notes why there.
    """
    if chunk_seconds <= 0:
        raise ValueError("chunk_seconds must be positive")
    first = round(max(start, 0.0) * SAMPLE_RATE)
    last = round(end * SAMPLE_RATE) if end is not None else None
    if last is not None and last <= first:
        check_file(path, damage)
        return
    chunk = round(chunk_seconds * SAMPLE_RATE)
    p = check_file(path, damage)
    try:
        yield from _chunks(to_48k(audio_blocks(p, first / SAMPLE_RATE, damage=damage)), first, last, chunk)
    except SeekOvershoot:
        blocks = audio_blocks(p, first / SAMPLE_RATE, allow_seek=False, damage=damage)
        yield from _chunks(to_48k(blocks), first, last, chunk)


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


def audio_spans(
    path: str, requests: list[tuple], damage: DamageLog
) -> Iterator[tuple[str, int, float, np.ndarray]]:
    """Serve (kind, index, start, end) requests as (kind, index, start, samples), in order of start,
    from one front-to-back decode: the indexer reads windows and frame chunks this way, and a query
    that re-encodes a chunk must read it the same way to get the same samples.

    The buffer keeps samples from the earliest unserved start only, so memory stays near the
    longest span plus one decode chunk, however long the file.
    """
    pending = deque(sorted(requests, key=lambda r: (r[2], r[3])))
    rate = SAMPLE_RATE
    buffer = np.zeros(0, dtype=np.float32)
    buffer_offset = 0  # sample index of buffer[0]

    def serve(available_end: int, final: bool) -> Iterator[tuple[str, int, float, np.ndarray]]:
        nonlocal buffer, buffer_offset
        while pending:
            kind, index, start, end = pending[0]
            first, last = round(start * rate), round(end * rate)
            if last > available_end and not final:
                return
            pending.popleft()
            piece = buffer[max(0, first - buffer_offset) : max(0, min(last, available_end) - buffer_offset)]
            yield kind, index, start, piece.copy()
            if pending:
                drop = round(pending[0][2] * rate) - buffer_offset
                if drop > 0:
                    buffer = buffer[drop:]
                    buffer_offset += drop

    for chunk in iter_audio(path, chunk_seconds=10.0, damage=damage):
        if buffer.size == 0:
            buffer_offset = chunk.offset
        buffer = np.concatenate([buffer, chunk.samples]) if buffer.size else chunk.samples.copy()
        yield from serve(buffer_offset + buffer.size, final=False)
    yield from serve(buffer_offset + buffer.size, final=True)
