"""The indexing run (the runner): walk -> plan -> decode + encode (`stage.EncodeStage`, placed by
a `distributors.Distributor`) -> write (`write.SingleWriter`, a thread); progress as `events`.

Decoding, encoding and writing overlap: with local workers, they fill a bounded queue while the
main thread encodes, and finished files are written by a single writer thread. Each file's rows and
vectors are committed as one transaction, so a run killed at any moment resumes by running it
again; Ctrl-C stops after the current batch.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from indexer.distributors import Distributor, local_distributor
from indexer.events import EventSink, FileDone, FilesPlanned, IndexEvent, MediaEncoded
from indexer.reader import FileJob
from indexer.settings import IndexSettings
from indexer.side_data import refresh as refresh_side_data
from indexer.stage import EncodeStage, FileFailure
from indexer.state import plan_changes
from indexer.walk import BAD_NAME, MediaCandidate, shown_name, walk
from indexer.write import SingleWriter, Written, nonfinite_spaces, record_failure
from pe_search import crash_points
from pe_search.media.rate import FRAME_SECONDS
from pe_search.models.model_set import ModelSet
from pe_search.store import SEARCHABLE_STATUSES, LibraryStore
from pe_search.tagging.tagger import TAG_SPACE, Tagger

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
    sidecars: int = 0  # subtitles and text beside media (read for full-text search, not ignored)
    segments: int = 0
    vectors: dict[str, int] = field(default_factory=dict)  # per space, written in this run
    media_seconds: float = 0.0
    seconds: float = 0.0
    interrupted: bool = False
    # Files that changed on disk while they were being encoded: not written (the library keeps
    # what it had); the next run encodes their new content.
    replaced: list[str] = field(default_factory=list)
    # Transcription (issue 26): files transcribed in this run (with their vectors or alone), and
    # those whose transcript is partial or failed ({"path", "reason"}; indexed all the same).
    transcribed: int = 0
    transcripts_incomplete: list[dict[str, str]] = field(default_factory=list)

    @property
    def media_seconds_per_second(self) -> float:
        return self.media_seconds / self.seconds if self.seconds else 0.0


class StopOnCtrlC:
    """First Ctrl-C: set `requested` (the run finishes the current batch and stops). Second: stop
    now. A front door may hold one around opening the library too, and pass `requested` as
    `run_index(stop=...)`."""

    def __init__(self, requested: threading.Event | None = None) -> None:
        self.requested = requested or threading.Event()
        self._previous = None

    def __enter__(self) -> StopOnCtrlC:
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
    progress: EventSink | bool | None = None,
    stop: threading.Event | None = None,
    distributor: Distributor | None = None,
    changed: Sequence[str | Path] | None = None,
    tagger: Tagger | None = None,
    rebuild_transcripts: bool = False,
) -> IndexSummary:
    """Bring the library up to date with the media under `paths`.

    `progress`: a callable that receives the run's `indexer.events` (a front door renders them;
    None or False: no events). `distributor`: where decoding and encoding run (default: this
    process for `workers=0`, else that many local decode processes). `changed`: only these
    files or folders under `paths` (what a watcher saw change; gone ones are removed, a move
    among them keeps its vectors). `tagger`: each encoded file's tags are computed from its clip
    vectors before the writer gets it (local and Ray alike). With `settings.speech` (issue 26),
    encoded files are transcribed in the same stage, and indexed files without a transcript of
    that model (every one with `rebuild_transcripts`) are transcribed without encoding them again."""
    began = time.perf_counter()
    emit: EventSink = progress if callable(progress) else _ignore
    summary = IndexSummary()
    if models.frames is None and settings.audio_frames:
        settings = replace(settings, audio_frames=False)
    with StopOnCtrlC(stop) as interrupt:  # from the start: a Ctrl-C while planning stops before encoding
        stop_event = interrupt.requested
        # not the library's own files
        found = walk(paths, include, exclude, skip=(store.layout.root,), only=changed)
        scope = paths if changed is None else changed
        plan = plan_changes(found.media, store, scope, prune=prune, ignored=found.ignored)
        summary.skipped = len(plan.unchanged)
        # A bad file stays a failure on later runs until it changes: the exit code keeps saying so.
        summary.failed = [{"path": path, "reason": reason} for path, reason in plan.still_failed]
        summary.ignored = plan.count("ignored")
        summary.sidecars = plan.count("sidecar")
        for job, reason in plan.broken:  # links that lead to no file
            record_failure(store, job, reason)
            summary.failed.append({"path": job.path, "reason": reason})
        for job, what, status in plan.ignored:
            record_failure(store, job, what, status=status)
        _report_bad_names(found.bad_names, summary)
        _apply_bookkeeping(store, plan, summary)
        refresh_side_data(
            store, [*plan.unchanged, *(job.path for job in plan.touched), *(j.path for _, j in plan.moves)]
        )
        emit(FilesPlanned(len(plan.encode), summary.skipped, summary.moved, summary.removed))
        stage = EncodeStage(
            models,
            settings,
            batch_size,
            stop=stop_event,
            on_media=lambda seconds, elapsed: emit(MediaEncoded(seconds, elapsed)),
        )
        if stop_event.is_set():
            summary.interrupted = True
        else:
            distributor = distributor or local_distributor(workers)
            _encode_and_write(plan.encode, store, stage, distributor, emit, summary, tagger)
            if settings.speech is not None and not stage.interrupted:
                known = [*plan.unchanged, *(job.path for job in plan.touched), *(j.path for _, j in plan.moves)]
                jobs = transcript_jobs(store, known, rebuild_transcripts)
                if jobs:
                    speech_stage = EncodeStage(models, replace(settings, speech_only=True), batch_size, stop=stop_event)
                    _encode_and_write(jobs, store, speech_stage, distributor, emit, summary)
    store.checkpoint()
    summary.seconds = time.perf_counter() - began
    return summary


def transcript_jobs(store: LibraryStore, paths: Sequence[str], rebuild: bool) -> list[FileJob]:
    """The searchable files among `paths` with sound whose transcript is missing or another
    model's (every one with `rebuild`): to transcribe without encoding them again."""
    wanted = set(paths)
    recorded = store.transcription_model()
    digest = recorded[1] if recorded is not None else None
    have = store.transcribed()
    return [
        FileJob(media.path, media.size, media.mtime, media.content_hash or "")
        for media in store.iter_media()
        if media.path in wanted
        and media.status in SEARCHABLE_STATUSES
        and media.has_audio
        and (rebuild or media.id not in have or have[media.id][0] != digest)
    ]


def _report_bad_names(bad_names, summary: IndexSummary) -> None:
    """Files whose names are not UTF-8 cannot be stored: media among them are failures (shown
    with \\xNN escapes, reversible to the bytes), the others are counted as ignored."""
    for found in bad_names:
        if isinstance(found, MediaCandidate):
            summary.failed.append({"path": shown_name(found.path), "reason": BAD_NAME})
        else:
            summary.ignored += 1


def _ignore(event: IndexEvent) -> None:
    """No one listens."""


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
    """Record a file's new size, mtime and content hash (a move found by an earlier version's
    sampled hash gets the whole-file one); its segments and vectors stay."""
    current = store.find_media(job.path)
    if current is not None:
        with store.write() as tx:
            tx.upsert_media(replace(current, size=job.size, mtime=job.mtime, content_hash=job.content_hash))


def _encode_and_write(
    jobs: list[FileJob],
    store: LibraryStore,
    stage: EncodeStage,
    distributor: Distributor,
    emit: EventSink,
    summary: IndexSummary,
    tagger: Tagger | None = None,
) -> None:
    frame_seconds = stage.models.frames.frame_seconds if stage.models.frames is not None else FRAME_SECONDS
    writer = SingleWriter(store, frame_seconds, stage.settings.frame_codes)

    def written(result: Written) -> None:
        summary.files_indexed += 1
        summary.segments += result.segments
        for space, count in result.vectors.items():
            summary.vectors[space] = summary.vectors.get(space, 0) + count

    outcomes = distributor.encoded_files(jobs, stage)
    try:
        for outcome in outcomes:
            if isinstance(outcome, FileFailure) and stage.settings.speech_only:  # its vectors stay
                summary.transcripts_incomplete.append({"path": outcome.job.path, "reason": outcome.reason})
                emit(FileDone(outcome.job.path, outcome.reason))
            elif isinstance(outcome, FileFailure):
                writer.fail(outcome.job, outcome.reason)
                summary.failed.append({"path": outcome.job.path, "reason": outcome.reason})
                emit(FileDone(outcome.job.path, outcome.reason))
            elif bad := nonfinite_spaces(outcome):  # the store refuses them; the run goes on
                reason = f"the model gave NaN or infinite {', '.join(bad)} vectors for this file"
                writer.fail(outcome.job, reason)
                summary.failed.append({"path": outcome.job.path, "reason": reason})
                emit(FileDone(outcome.job.path, reason))
            else:
                if outcome.transcribed and outcome.transcript is not None:
                    summary.transcribed += 1
                    if not outcome.transcript.complete:
                        summary.transcripts_incomplete.append(
                            {"path": outcome.job.path, "reason": outcome.transcript.reason or ""}
                        )
                if outcome.speech_only:
                    # a file transcribed alone: its vectors and counts stay as they were
                    writer.write(outcome, lambda _: None, lambda job: summary.replaced.append(job.path))
                    emit(FileDone(outcome.job.path))
                    continue
                crash_points.reached("file-encoded")
                if tagger is not None and (vectors := outcome.clip_vectors(TAG_SPACE)) is not None:
                    outcome.tags = tagger.tag(vectors)  # here, so the writer only writes
                writer.write(outcome, written, lambda job: summary.replaced.append(job.path))
                if outcome.partial:
                    summary.partial.append({"path": outcome.job.path, "reason": outcome.partial})
                emit(FileDone(outcome.job.path))
    finally:
        outcomes.close()
        writer.close()
    summary.interrupted = summary.interrupted or stage.interrupted
    if not stage.settings.speech_only:  # a transcribing pass encodes no media
        summary.media_seconds = stage.media_seconds
