"""The indexing run: walk -> plan -> decode (workers) -> encode (batches) -> write (a thread).

Decoding, encoding and writing overlap: workers fill a bounded queue while the main thread
encodes, and finished files are written by a single writer thread. Each file's rows and
vectors are committed as one transaction, so a run killed at any moment resumes by running it
again; Ctrl-C stops after the current batch.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from indexer.encode import BatchEncoder, EncodedChunk, EncodedWindow
from indexer.reader import FileDecoded, FileFailed, FileJob, FileStarted, FrameChunkPayload, WindowPayload
from indexer.settings import IndexSettings
from indexer.state import plan_changes
from indexer.walk import walk
from indexer.workers import decoded_payloads
from indexer.write import EncodedFile, nonfinite_spaces, record_failure, write_file
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore

log = logging.getLogger(__name__)


@dataclass
class IndexSummary:
    files_indexed: int = 0
    skipped: int = 0
    moved: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    partial: list[dict[str, str]] = field(
        default_factory=list
    )  # indexed for what decodes: {"path", "reason"}
    ignored: int = 0  # files under the paths that are not audio or video
    segments: int = 0
    vectors: dict[str, int] = field(default_factory=dict)  # per space, written in this run
    media_seconds: float = 0.0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def media_seconds_per_second(self) -> float:
        return self.media_seconds / self.seconds if self.seconds else 0.0


class _Stop:
    """First Ctrl-C: finish the current batch and stop. Second: stop now."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous = None

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()
        log.warning("stopping after the current batch (Ctrl-C again to stop now)")

    def __exit__(self, *_) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def run_index(
    paths: Sequence[str | Path],
    store: LibraryStore,
    models: ModelSet,
    settings: IndexSettings,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prune: bool = True,
    workers: int = 1,
    batch_size: int = 8,
    progress: bool | None = None,
    stop: threading.Event | None = None,
) -> IndexSummary:
    """Bring the library up to date with the media under `paths`."""
    began = time.perf_counter()
    summary = IndexSummary()
    if models.frames is None and settings.audio_frames:
        settings = replace(settings, audio_frames=False)
    found = walk(paths, include, exclude)
    plan = plan_changes(found.media, store, paths, prune=prune, ignored=found.ignored)
    summary.skipped = len(plan.unchanged)
    # A bad file stays a failure on later runs until it changes: the exit code keeps saying so.
    summary.failed = [{"path": path, "reason": reason} for path, reason in plan.still_failed]
    summary.ignored = plan.still_ignored + len(plan.ignored)
    for job, reason in plan.broken:
        record_failure(store, job, reason)
        summary.failed.append({"path": job.path, "reason": reason})
    for job, what in plan.ignored:
        record_failure(store, job, what, status="ignored")
    _apply_bookkeeping(store, plan, summary)

    with _Stop() as interrupt:
        stop_event = stop or interrupt.requested
        _encode_and_write(
            plan.encode, store, models, settings, workers, batch_size, progress, stop_event, summary
        )
    store.checkpoint()
    summary.seconds = time.perf_counter() - began
    return summary


def _apply_bookkeeping(store: LibraryStore, plan, summary: IndexSummary) -> None:
    """Moves, touches and removals: no decoding, no encoding."""
    for old_path, job in plan.moves:
        with store.write() as tx:
            tx.move_media(tx.media_id(old_path), job.path)
        _retouch(store, job)
        summary.moved += 1
    for job in plan.touched:
        _retouch(store, job)
        summary.skipped += 1
    for path in plan.removals:
        if store.delete_media(path):
            summary.removed += 1


def _retouch(store: LibraryStore, job: FileJob) -> None:
    """Record a file's new size and mtime; its segments and vectors stay."""
    current = store.find_media(job.path)
    if current is not None:
        with store.write() as tx:
            tx.upsert_media(replace(current, size=job.size, mtime=job.mtime))


def _encode_and_write(
    jobs: list[FileJob],
    store: LibraryStore,
    models: ModelSet,
    settings: IndexSettings,
    workers: int,
    batch_size: int,
    progress: bool | None,
    stop: threading.Event,
    summary: IndexSummary,
) -> None:
    encoder = BatchEncoder(models, batch_size)
    frame_seconds = models.frames.frame_seconds if models.frames is not None else 0.04
    files: dict[str, EncodedFile] = {}
    expected: dict[str, tuple[int, int]] = {}
    covered: dict[str, float] = defaultdict(float)  # media seconds encoded so far, per file
    writes: list[Future] = []
    bar = tqdm(total=len(jobs), unit="file", disable=None if progress is None else not progress, leave=False)
    media_clock = {"seconds": 0.0}
    started = time.perf_counter()

    def show() -> None:
        elapsed = time.perf_counter() - started
        rate = media_clock["seconds"] / elapsed if elapsed else 0.0
        bar.set_postfix_str(f"{media_clock['seconds']:.0f} media s, {rate:.2f} media s/s", refresh=False)

    def finished(path: str) -> None:
        """Hand a complete file to the writer."""
        encoded = files.pop(path)
        expected.pop(path)
        writes.append(writer.submit(_write, store, encoded, frame_seconds, summary))
        bar.update(1)

    def take(results: list[EncodedWindow | EncodedChunk]) -> None:
        for result in results:
            encoded = files.get(result.path)
            if encoded is None:
                continue  # its file failed meanwhile
            if isinstance(result, EncodedWindow):
                encoded.windows.append(result)
                gained = max(0.0, result.end - max(result.start, covered[result.path]))
                covered[result.path] = max(covered[result.path], result.end)
                media_clock["seconds"] += gained
            else:
                encoded.chunks.append(result)
        for path in [p for p in expected if _complete(files[p], expected[p])]:
            finished(path)
        show()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer") as writer:
        payloads = decoded_payloads(jobs, settings, workers)
        try:
            for payload in payloads:
                if isinstance(payload, FileStarted):
                    info = payload.info
                    files[payload.job.path] = EncodedFile(
                        payload.job, info.has_audio, info.has_video, payload.duration
                    )
                elif isinstance(payload, (WindowPayload, FrameChunkPayload)):
                    take(encoder.add(payload))
                elif isinstance(payload, FileDecoded):
                    files[payload.path].partial = payload.partial
                    expected[payload.path] = (payload.windows, payload.chunks)
                    take([])
                elif isinstance(payload, FileFailed):
                    job = files.pop(payload.path, None)
                    expected.pop(payload.path, None)
                    encoder.drop(payload.path)
                    job = job.job if job is not None else next(j for j in jobs if j.path == payload.path)
                    writes.append(writer.submit(record_failure, store, job, payload.reason))
                    summary.failed.append({"path": payload.path, "reason": payload.reason})
                    bar.update(1)
                if stop.is_set():
                    summary.interrupted = True
                    break
            else:
                take(encoder.flush())
        finally:
            payloads.close()
            for future in writes:
                future.result()
            bar.close()
    summary.media_seconds = media_clock["seconds"]


def _complete(encoded: EncodedFile, expected: tuple[int, int]) -> bool:
    windows, chunks = expected
    return len(encoded.windows) == windows and len(encoded.chunks) == chunks


def _write(store: LibraryStore, encoded: EncodedFile, frame_seconds: float, summary: IndexSummary) -> None:
    bad = nonfinite_spaces(encoded)
    if bad:  # the store refuses such vectors; one odd file must not stop the run
        reason = f"the model gave NaN or infinite {', '.join(bad)} vectors for this file"
        record_failure(store, encoded.job, reason)
        summary.failed.append({"path": encoded.job.path, "reason": reason})
        return
    written = write_file(store, encoded, frame_seconds)
    if encoded.partial:
        summary.partial.append({"path": encoded.job.path, "reason": encoded.partial})
    summary.files_indexed += 1
    summary.segments += written.segments
    for space, count in written.vectors.items():
        summary.vectors[space] = summary.vectors.get(space, 0) + count
