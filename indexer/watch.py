"""Watch mode: keep a library in sync with folders as files appear, change, move and vanish.

The operating system's file events (through watchfiles) say *which* paths changed; the existing
run (`pipeline.run_index(changed=...)`) does the rest, so moves keep their vectors and deletions
leave the library exactly as `index` would. A changed path waits until its size and mtime have
stayed the same for `settle` seconds (a copy still in progress is not indexed half-written), and
everything that settled together goes into one run: a burst of files is a few runs, never one
per file. Events can be lost (a full inotify queue, a network mount, the watcher not running),
so a full run over the watched paths starts the watch (catching up) and repeats every `rescan`
seconds as the safety net. The watcher holds the library's single writer lock for its whole life:
a second watcher (or an `index`) on the same library is refused.

`Watcher` owns the loop and the runs; `pe_search.api.Library.watch` opens the library and models
for it; front doors render its events (`indexer.events`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import watchfiles

from indexer.events import IndexEvent, RunFinished, RunStarted, WatchEvent, Watching
from indexer.pipeline import IndexSummary, run_index
from indexer.settings import IndexSettings
from pe_search.errors import PeSearchError
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore, disk_errors

Signature = tuple[int, float, bool] | None  # (size, mtime, is a folder); None: gone

TICK = 0.2  # seconds between looks at pending paths while some are settling
EVENT_WAIT_MS = 500  # how long the event thread waits in the OS watcher before checking for stop
DELETION_HOLD = 5  # a deletion waits up to this many settle times for a move's other half


class WatchPathError(PeSearchError):
    """A path given to watch is missing or cannot be read."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(
            f"cannot watch {path}: {problem}",
            "give a folder (or file) that exists and that you can read",
            value=path,
        )


def watched_roots(paths: Iterable[str | Path]) -> list[Path]:
    """The paths to watch, resolved; raises `WatchPathError` for one missing or unreadable."""
    roots = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise WatchPathError(str(given), "it does not exist")
        mode = os.R_OK | (os.X_OK if path.is_dir() else 0)
        if not os.access(path, mode):
            raise WatchPathError(str(given), "permission denied")
        if path.is_dir():
            try:
                with os.scandir(path):
                    pass
            except OSError as error:
                raise WatchPathError(str(given), error.strerror or "it cannot be listed") from None
        roots.append(path.resolve())
    return roots


def _signature(path: str) -> Signature:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime, os.path.isdir(path)


class Pending:
    """Paths seen changing, each with its last (size, mtime) and when that last changed. Not
    thread-safe: the watcher holds its lock around every call."""

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._paths: dict[str, tuple[Signature, float]] = {}

    def __len__(self) -> int:
        return len(self._paths)

    def saw(self, path: str, now: float) -> None:
        """An event for `path`: its settle time starts again."""
        self._paths[path] = (_signature(path), now)

    def take_ready(self, now: float) -> list[str]:
        """The paths to index now, removed from the pending ones: those unchanged for `settle`
        seconds. While others are still changing, settled ones wait one more settle time (a burst
        goes as one run), and a deletion waits up to `DELETION_HOLD` settle times (a move's new
        half, still being copied, then finds the vectors to keep)."""
        moving: list[str] = []
        settled: list[tuple[str, Signature, float]] = []
        for path, (before, since) in list(self._paths.items()):
            now_signature = _signature(path)
            if now_signature != before:
                self._paths[path] = (now_signature, now)
                since = now
            if now - since < self.settle:
                moving.append(path)
            else:
                settled.append((path, now_signature, since))
        moving_paths = [Path(p) for p in moving]
        ready = []
        for path, signature, since in settled:
            folder = signature is not None and signature[2]
            if folder and any(p.is_relative_to(path) for p in moving_paths):  # not while a file in it moves
                continue
            waited = now - since
            if moving and waited < (2 if signature is not None else DELETION_HOLD) * self.settle:
                continue
            ready.append(path)
        for path in ready:
            del self._paths[path]
        return sorted(ready)


class Watcher:
    """Runs the watch: started by `start()`; `stop()` asks it to end (a run under way stops after
    its current batch), `wait()` blocks until it has and re-raises what ended it (a full disk),
    `close()` does both and releases the library. A context manager too."""

    def __init__(
        self,
        roots: Sequence[Path],
        store: LibraryStore,
        models: ModelSet,
        settings: IndexSettings,
        *,
        settle: float = 2.0,
        rescan: float = 600.0,
        run_options: dict[str, Any] | None = None,
        progress: Callable[[IndexEvent | WatchEvent], None] | None = None,
        after_run: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.roots = list(roots)
        self.store, self.models, self.settings = store, models, settings
        self.settle, self.rescan = settle, rescan
        self._options = dict(run_options or {})
        self._emit = progress or (lambda event: None)
        self._after_run = after_run or (lambda: None)
        self._on_close = on_close
        self._library = store.layout.root.resolve()
        self._stop = stop or threading.Event()  # set: the watch ends (a front door's Ctrl-C sets it)
        self._listening = threading.Event()
        self._wake = threading.Condition()
        self._pending = Pending(settle)
        self._threads: list[threading.Thread] = []
        self.error: BaseException | None = None
        self.runs = 0
        self.last_summary: IndexSummary | None = None

    # ------------------------------------------------------------------ life
    def start(self) -> Watcher:
        """Listen for events first, then catch up with a full run, then follow the events."""
        for target, name in ((self._listen, "watch-events"), (self._loop, "watch-runs")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()

    @property
    def stopped(self) -> bool:
        return not any(thread.is_alive() for thread in self._threads)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the watch ends (True) or `timeout` passes (False); re-raises its error."""
        end = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        if self.error is not None:
            raise self.error
        return self.stopped

    def close(self) -> None:
        """Stop, wait for the run under way to finish its batch, release the library."""
        self.stop()
        try:
            for thread in self._threads:
                thread.join()
        finally:
            if self._on_close is not None:
                on_close, self._on_close = self._on_close, None
                on_close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ------------------------------------------------------------------ the two threads
    def wanted(self, _change: Any, path: str) -> bool:
        """Not the library's own files (kept among its media), nor hidden ones (as `walk`)."""
        file = Path(path)
        if file == self._library or file.is_relative_to(self._library):
            return False
        for root in self.roots:
            if file == root or file.is_relative_to(root):
                return not any(part.startswith(".") for part in file.relative_to(root).parts)
        return False

    def _listen(self) -> None:
        try:
            for changes in watchfiles.watch(
                *self.roots,
                watch_filter=self.wanted,
                stop_event=self._stop,
                debounce=max(50, int(self.settle * 500)),
                rust_timeout=EVENT_WAIT_MS,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                self._listening.set()
                if changes:
                    now = time.monotonic()
                    with self._wake:
                        for _, path in changes:
                            self._pending.saw(path, now)
                        self._wake.notify_all()
        except BaseException as error:  # the OS watcher failed: say so, and end the watch
            if not self._stop.is_set():
                self.error = self.error or error
            self.stop()
        finally:
            self._listening.set()

    def _loop(self) -> None:
        try:
            self._listening.wait()
            if self._stop.is_set():
                return
            self._run(None, "start")
            self._emit(Watching(tuple(map(str, self.roots)), self.settle, self.rescan))
            next_rescan = time.monotonic() + self.rescan
            while not self._stop.is_set():
                with self._wake:
                    now = time.monotonic()
                    batch = self._pending.take_ready(now)
                    if not batch and now < next_rescan:
                        self._wake.wait(TICK if len(self._pending) else min(next_rescan - now, 1.0))
                        continue
                if batch:
                    self._run(batch, "changes")
                if not self._stop.is_set() and time.monotonic() >= next_rescan:
                    self._run(None, "rescan")
                    next_rescan = time.monotonic() + self.rescan
        except BaseException as error:
            self.error = error
        finally:
            self.stop()

    def _run(self, changed: list[str] | None, reason: str) -> None:
        self._emit(RunStarted(reason, len(changed or ())))
        with disk_errors(self._library):  # a full disk: one line, what was committed stays
            summary = run_index(
                self.roots,
                self.store,
                self.models,
                self.settings,
                progress=self._emit,
                stop=self._stop,
                changed=changed,
                **self._options,
            )
        self.runs += 1
        self.last_summary = summary
        self._after_run()
        if summary.replaced:  # changed while encoded: their new content goes in the next run
            with self._wake:
                now = time.monotonic()
                for path in summary.replaced:
                    self._pending.saw(path, now)
        self._emit(RunFinished(reason, summary))
