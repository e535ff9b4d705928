"""The writing stage: one media file's rows, vectors and side data go into the library as one
transaction, through the run's single writer (`SingleWriter`). It only writes: everything it
writes was decoded and computed before (the side data in the decode stage, `reader.read_file`),
so the one serial stage of a run never opens a media file."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from indexer.encode import EncodedChunk, EncodedWindow
from indexer.reader import FileJob
from indexer.side_data import SideData, name_only
from pe_search import crash_points
from pe_search.duplicates import audio_fingerprint
from pe_search.models.catalogue import CHUNK_FRAME_SPACE, WINDOW_FRAME_SPACE
from pe_search.store import (
    DEFAULT_FRAME_CODES,
    FileTagsRecord,
    LibraryStore,
    MediaRecord,
    SegmentRecord,
    TranscriptRecord,
)


@dataclass
class EncodedFile:
    """Everything encoded for one file, ready to write: its vectors and its side data (text and
    audio fingerprint, computed where the file was decoded)."""

    job: FileJob
    has_audio: bool
    has_video: bool
    duration: float
    partial: str | None = None  # why only part of the file was decoded
    windows: list[EncodedWindow] = field(default_factory=list)
    chunks: list[EncodedChunk] = field(default_factory=list)
    side: SideData | None = None  # None: not computed (the file's name only; the next run fills it in)
    tags: FileTagsRecord | None = None  # None: not tagged (the next tag update does it)
    transcribed: bool = False  # the run transcribes: `transcript` replaces the file's (None: it has no sound)
    transcript: TranscriptRecord | None = None
    speech_only: bool = False  # only the transcript is written: the vectors stay as they are

    def clip_vectors(self, space: str) -> np.ndarray | None:
        """The file's vectors of clip space `space` in time order (None: it has none)."""
        found = [w.vectors[space] for w in sorted(self.windows, key=lambda w: w.index) if space in w.vectors]
        return np.stack(found) if found else None


@dataclass
class Written:
    segments: int
    vectors: dict[str, int]


def write_file(
    store: LibraryStore, encoded: EncodedFile, frame_seconds: float, frame_codes: str = DEFAULT_FRAME_CODES
) -> Written:
    """Replace whatever the library had for this path with the new segments, vectors and frame
    blocks (one per frame space, coded `frame_codes`)."""
    job = encoded.job
    record = MediaRecord(
        path=job.path,
        size=job.size,
        mtime=job.mtime,
        content_hash=job.content_hash,
        duration=encoded.duration,
        has_audio=encoded.has_audio,
        has_video=encoded.has_video,
        status="partial" if encoded.partial else "indexed",
        error=encoded.partial,
    )
    segments: list[SegmentRecord] = []
    owners: dict[str, list[int]] = defaultdict(list)  # space -> positions in `segments`
    vectors: dict[str, list[np.ndarray]] = defaultdict(list)

    def add(segment: SegmentRecord, space_vectors: dict[str, np.ndarray]) -> None:
        for space, vector in space_vectors.items():
            owners[space].append(len(segments))
            vectors[space].append(vector)
        segments.append(segment)

    for window in sorted(encoded.windows, key=lambda w: w.index):
        if window.vectors:
            add(SegmentRecord(window.start, window.end, "clip"), window.vectors)
    frames = _frames(encoded, frame_seconds)

    side = encoded.side if encoded.side is not None else name_only(job.path)
    with store.write() as tx:
        media_id = tx.upsert_media(record)
        tx.delete_segments(media_id)
        tx.set_text(media_id, side.text.entries, side.text.signature)
        tx.set_audio_fingerprint(media_id, side.fingerprint, job.content_hash, audio_fingerprint.VERSION)
        if side.timecode is not None:
            tx.set_timecode(media_id, side.timecode)
        ids = tx.add_segments(media_id, segments)
        tx.set_tags(media_id, encoded.tags)
        _write_transcript(tx, media_id, encoded)
        counts = {}
        for space, positions in owners.items():
            tx.add_vectors(space, [ids[p] for p in positions], np.stack(vectors[space]))
            counts[space] = len(positions)
        for space, (starts, ends, space_frames) in frames.items():
            counts[space] = tx.put_frames(media_id, space, starts, ends, space_frames, frame_codes)
        crash_points.reached("file-written")
    crash_points.reached("file-committed")
    return Written(len(segments), counts)


def _write_transcript(tx, media_id: int, encoded: EncodedFile) -> None:
    if encoded.transcribed:
        if encoded.transcript is not None:
            tx.set_transcript(media_id, encoded.transcript)
        else:
            tx.clear_transcript(media_id)


def write_transcript(store: LibraryStore, encoded: EncodedFile) -> bool:
    """Replace only the file's transcript (a file transcribed without being encoded again);
    False when the library no longer has the file."""
    with store.write() as tx:
        media_id = tx.media_id(encoded.job.path)
        if media_id is None:
            return False
        _write_transcript(tx, media_id, encoded)
    return True


def _frames(
    encoded: EncodedFile, frame_seconds: float
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{frame space: (starts, ends, vectors)} in time order; each frame ends where the next starts."""
    frames = {}
    frame_times: dict[float, np.ndarray] = {}
    for window in encoded.windows:  # overlapping windows share frames: one vector per frame time
        if window.frame_vectors is not None:
            for time, vector in zip(window.frame_times, window.frame_vectors, strict=True):
                frame_times.setdefault(round(time, 6), vector)
    if frame_times:
        starts = np.asarray(sorted(frame_times), dtype=np.float64)
        ends = np.append(starts[1:], max(encoded.duration, starts[-1]))
        frames[WINDOW_FRAME_SPACE] = (starts, ends, np.stack([frame_times[t] for t in starts.tolist()]))
    audio = _take_audio_frames(encoded, frame_seconds)
    if audio is not None:
        frames[CHUNK_FRAME_SPACE] = audio
    return frames


def _take_audio_frames(
    encoded: EncodedFile, frame_seconds: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The file's 40 ms audio frames as one array (starts, ends, vectors), taken out of its
    chunks: each chunk is dropped from `encoded` once copied, so the writer holds an hour's
    frames (90,000 x 1024 float32: 368 MB) once, not twice (issue 24, item 6)."""
    chunks = sorted(encoded.chunks, key=lambda c: c.start)
    encoded.chunks = []
    starts = []
    for chunk in chunks:
        chunk_starts = chunk.start + np.arange(len(chunk.vectors)) * frame_seconds
        starts.append(chunk_starts[chunk_starts < encoded.duration])
    total = sum(len(s) for s in starts)
    if not total:
        return None
    dim = np.asarray(chunks[0].vectors).shape[1]
    vectors = np.empty((total, dim), dtype=np.float32)
    at = 0
    for number, kept in enumerate(starts):
        vectors[at : at + len(kept)] = np.asarray(chunks[number].vectors)[: len(kept)]
        at += len(kept)
        chunks[number] = None  # this chunk's vectors can go now
    audio_starts = np.concatenate(starts)
    return audio_starts, np.minimum(audio_starts + frame_seconds, encoded.duration), vectors


def nonfinite_spaces(encoded: EncodedFile) -> list[str]:
    """Spaces in which the model gave NaN or infinite vectors for this file (the store refuses them)."""
    bad = set()
    for window in encoded.windows:
        bad.update(space for space, vector in window.vectors.items() if not np.isfinite(vector).all())
        if window.frame_vectors is not None and not np.isfinite(window.frame_vectors).all():
            bad.add(WINDOW_FRAME_SPACE)
    for chunk in encoded.chunks:
        if not np.isfinite(chunk.vectors).all():
            bad.add(CHUNK_FRAME_SPACE)
    return sorted(bad)


def changed_on_disk(job: FileJob) -> bool:
    """Whether the file's size or mtime differs from what its job was planned with (or it is gone)."""
    try:
        stat = os.stat(job.path)
    except OSError:
        return True
    return (stat.st_size, stat.st_mtime) != (job.size, job.mtime)


def record_failure(store: LibraryStore, job: FileJob, reason: str, status: str = "failed") -> None:
    """Keep the file's row with its reason (and drop any vectors of an older version); `status`
    "ignored" records a file that is not audio or video."""
    record = MediaRecord(
        path=job.path,
        size=job.size,
        mtime=job.mtime,
        content_hash=job.content_hash,
        status=status,
        error=reason,
    )
    with store.write() as tx:
        media_id = tx.upsert_media(record)
        tx.delete_segments(media_id)
        tx.set_audio_fingerprint(media_id, None, None, audio_fingerprint.VERSION)


class SingleWriter:
    """The run's one writer: files are written in a background thread, one transaction each, in
    the order handed over, while encoding goes on. `close` waits for every write (and re-raises
    the first error)."""

    def __init__(
        self, store: LibraryStore, frame_seconds: float, frame_codes: str = DEFAULT_FRAME_CODES
    ) -> None:
        self.store = store
        self.frame_seconds = frame_seconds
        self.frame_codes = frame_codes
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        self._writes: list[Future] = []

    def write(
        self,
        encoded: EncodedFile,
        done: Callable[[Written], None],
        replaced: Callable[[FileJob], None] | None = None,
    ) -> None:
        """Write `encoded` unless its file changed on disk since it was planned (replaced or
        still being written while it was decoded): then nothing of it is written, the library
        keeps what it had (which no longer matches the file, so the next run encodes the new
        content), and `replaced` hears of it."""

        def run() -> None:
            if replaced is not None and changed_on_disk(encoded.job):
                replaced(encoded.job)
                return
            if encoded.speech_only:
                write_transcript(self.store, encoded)
                return
            done(write_file(self.store, encoded, self.frame_seconds, self.frame_codes))

        self._writes.append(self._pool.submit(run))

    def fail(self, job: FileJob, reason: str) -> None:
        self._writes.append(self._pool.submit(record_failure, self.store, job, reason))

    def close(self) -> None:
        try:
            for future in self._writes:
                future.result()
        finally:
            self._pool.shutdown(wait=True)
