"""Indexing from the server: one run at a time of the folders the server was started with, in a
background thread of the server process (`Library.index`, as the CLI runs it), its progress
appended to an `EventLog` the page follows. A client names which of those folders to index, never
a path of its own. Searches keep answering meanwhile: they read the library's last commit."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from indexer.events import FileDone, FilesPlanned, IndexEvent, MediaEncoded, RunFinished, RunStarted, Watching
from pe_search.api import Library
from pe_search.errors import PeSearchError
from pe_search.server.errors import http_spelling
from pe_search.server.event_log import EventLog
from pe_search.server.index_progress import DONE, FAILED, RUNNING, STOPPED, IndexProgress

log = logging.getLogger(__name__)
EVENT_KINDS = {FilesPlanned: "planned", MediaEncoded: "media", FileDone: "file"}
STOP_WAIT = 120.0  # seconds a server shutting down waits for the run to finish its current batch


class IndexRefused(PeSearchError):
    """A request to index that the server turns down; `status` is its HTTP status."""

    status = 403


class IndexingOff(IndexRefused):
    def __init__(self) -> None:
        super().__init__(
            "indexing from this server is off",
            "start it with the folders it may index (pe-search serve --allow-index FOLDER)",
        )


class FolderNotAllowed(IndexRefused):
    def __init__(self, name: str, allowed: Sequence[Path]) -> None:
        super().__init__(
            f"{name} is not a folder this server may index",
            f"name one of {', '.join(str(folder) for folder in allowed)}, or none for all",
            value=name,
        )


class IndexRunning(IndexRefused):
    status = 409

    def __init__(self, run: int) -> None:
        super().__init__(
            f"an indexing run (run {run}) is already going", "follow it on /api/index/events", value=run
        )


class Watched(IndexRefused):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "this server watches its folders and indexes their changes as they happen",
            "follow its runs on /api/index/events",
        )


class TranscriptionRefused(IndexRefused):
    """A run's transcription options that `index` would refuse (not a speech model, a language it
    does not know, another model than the library's): the request's mistake, said before any run."""

    status = 400

    def __init__(self, error: PeSearchError) -> None:
        super().__init__(error.what, error.fix, options=error.options, value=error.value)


SPEECH_DEFAULTS = ("transcribe", "language")  # run options a server may set for all its runs


class IndexRunner:
    """The server's indexing runs: `start` one, `state` says where it stands, `log` streams it."""

    def __init__(
        self, library: Library, folders: Sequence[Path], options: dict[str, Any] | None = None
    ) -> None:
        self.library = library
        self.folders = tuple(dict.fromkeys(Path(folder).expanduser().resolve() for folder in folders))
        self.options = dict(options or {})
        self.log = EventLog()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress: IndexProgress | None = None
        self._first_id = 0  # the id of the latest run's first event
        self.watcher = None  # an `indexer.watch.Watcher` when the server watches its folders

    @property
    def enabled(self) -> bool:
        return bool(self.folders)

    def chosen(self, names: Sequence[str] | None) -> list[Path]:
        """The configured folders a request names (all when it names none), compared as text: a
        client's path is never looked up on disk."""
        if not self.enabled:
            raise IndexingOff()
        if not names:
            return list(self.folders)
        by_name = {str(folder): folder for folder in self.folders}
        picked = []
        for name in names:
            folder = by_name.get(os.path.normpath(name)) if name else None  # "": no folder
            if folder is None:
                raise FolderNotAllowed(name, self.folders)
            if folder not in picked:
                picked.append(folder)
        return picked

    def start(
        self, names: Sequence[str] | None = None, speech: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start a run over the named configured folders; its first state. `speech`: the run's
        transcription options (`transcribe`, `language`, `rebuild_transcripts`, as `Library.index`
        takes them; none: the library's recorded model), checked before the run starts: a mistake
        is raised here (`TranscriptionRefused`) and nothing runs."""
        folders = self.chosen(names)
        if self.watcher is not None:  # it holds the library's writer lock, and keeps them current
            raise Watched()
        self._check_not_running()
        given = {name: value for name, value in (speech or {}).items() if value not in (None, False)}
        speech = {**self.speech_defaults(), **given}  # the request's own options win
        try:
            self.library.check_transcription(**speech)  # loads the model: outside the lock
        except PeSearchError as error:
            raise TranscriptionRefused(error) from None
        with self._lock:
            self._check_not_running()
            run = 1 if self._progress is None else self._progress.run + 1
            self._stop.clear()
            self._progress = IndexProgress(run, [str(folder) for folder in folders], time.time())
            self._first_id = self._publish("started").id
            state = self._progress.as_dict()
            self._thread = threading.Thread(
                target=self._run, args=(folders, speech), name=f"pe-search-index-{run}", daemon=True
            )
            self._thread.start()
        return state

    def speech_defaults(self) -> dict[str, Any]:
        """The transcription options every run here gets unless its request says otherwise
        (`pe-search serve --transcribe/--language`)."""
        return {name: self.options[name] for name in SPEECH_DEFAULTS if self.options.get(name) is not None}

    def _check_not_running(self) -> None:
        progress = self._progress
        if progress is not None and progress.status == RUNNING:
            raise IndexRunning(progress.run)

    def state(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._progress is None else self._progress.as_dict()

    def first_event_id(self) -> int:
        """Where a reader with no Last-Event-ID starts: the latest run's first event."""
        with self._lock:
            return self._first_id

    def watch(self, **options: Any) -> None:
        """Watch the folders (`Library.watch`): each of its runs streams as one started here would.
        Opened in a thread of its own, so a Ctrl-C stays the server's; an error opening it (the
        library busy, a folder gone) is raised here."""
        opened: list[Any] = []

        def open_watch() -> None:
            try:
                opened.append(self.library.watch(
                    [str(folder) for folder in self.folders], progress=self._on_watch_event,
                    **{**self.options, **options}))  # fmt: skip
            except BaseException as error:  # handed to the caller below
                opened.append(error)

        thread = threading.Thread(target=open_watch, name="pe-search-watch-open", daemon=True)
        thread.start()
        thread.join()
        if isinstance(opened[0], BaseException):
            raise opened[0]
        self.watcher = opened[0]
        threading.Thread(target=self._follow_watch, name="pe-search-watch-end", daemon=True).start()

    def _follow_watch(self) -> None:
        """A watch that ends on its own (a full disk) says why, as a failed run does."""
        try:
            self.watcher.wait()
        except PeSearchError as error:
            self._end(FAILED, error=error.worded(http_spelling))
        except Exception as error:
            log.exception("watching %s failed", ", ".join(map(str, self.folders)))
            self._end(FAILED, error=f"internal error ({type(error).__name__}); the server log has details")

    def close(self) -> None:
        """Ask the run to stop after its current batch and wait for it (server shutdown)."""
        if self.watcher is not None:
            self.watcher.close()
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(STOP_WAIT)

    # ------------------------------------------------------------------ the run's thread
    def _run(self, folders: list[Path], speech: dict[str, Any]) -> None:
        try:
            summary = self.library.index(
                [str(folder) for folder in folders],
                progress=self._on_event,
                stop=self._stop,
                on_message=lambda message: self._record("message", message=message),
                **{**self.options, **speech},
            )
        except PeSearchError as error:
            self._end(FAILED, error=error.worded(http_spelling))
        except Exception as error:  # a bug: logged whole, reported in one line
            log.exception("indexing %s failed", ", ".join(map(str, folders)))
            self._end(FAILED, error=f"internal error ({type(error).__name__}); the server log has details")
        else:
            self._end(STOPPED if summary.interrupted else DONE, summary=asdict(summary))

    def _on_watch_event(self, event) -> None:
        """The watcher's events: each run it starts is a run here, its pipeline events as ours."""
        if isinstance(event, RunStarted):
            with self._lock:
                run = 1 if self._progress is None else self._progress.run + 1
                self._progress = IndexProgress(run, [str(folder) for folder in self.folders], time.time())
                self._first_id = self._publish("started", reason=event.reason).id
        elif isinstance(event, RunFinished):
            summary = event.summary
            self._end(STOPPED if getattr(summary, "interrupted", False) else DONE, summary=asdict(summary))
        elif isinstance(event, Watching):
            self._record("watching", settle=event.settle, rescan=event.rescan)
        elif self._progress is not None:
            self._on_event(event)

    def _on_event(self, event: IndexEvent) -> None:
        kind = EVENT_KINDS.get(type(event))
        if kind is None:  # an event this server does not know yet: the next one carries the totals
            return
        with self._lock:
            assert self._progress is not None
            self._progress.apply(event, time.monotonic())
            extra = {"path": event.path, "reason": event.reason} if isinstance(event, FileDone) else {}
            self._publish(kind, **extra)

    def _record(self, kind: str, **extra: Any) -> None:
        with self._lock:
            self._publish(kind, **extra)

    def _end(self, status: str, **outcome: Any) -> None:
        with self._lock:
            if self._progress is None:  # a watch that failed before its first run
                self._progress = IndexProgress(1, [str(folder) for folder in self.folders], time.time())
            self._progress.end(status, **outcome)
            self._publish(FAILED if status == FAILED else DONE)

    def _publish(self, kind: str, **extra: Any):
        """Append the state as it is now (under `_lock`), with what this event adds."""
        state = self._progress.as_dict() if self._progress is not None else {}
        return self.log.append(kind, {"kind": kind, **state, **extra})
