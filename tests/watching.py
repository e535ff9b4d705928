"""A `pe-search watch --json` in a subprocess, followed live: its events as parsed JSON lines, and
waits on them (or on the library's state) with a generous deadline, never a sleep that decides."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from indexing import FAST
from sqlalchemy import create_engine, select

from pe_search import crash_points
from pe_search.store import LibraryLayout, LibraryStore
from pe_search.store.schema import MediaFile, Segment, Vector

DEADLINE = 240  # seconds any one wait may take on a loaded machine before the test fails
SETTLE = "0.3"


def watch_command(folder, library, checkpoint_dirs, *extra) -> list[str]:
    return [
        sys.executable, "-m", "pe_search", "watch", str(folder), "--library", str(library),
        "--model", str(checkpoint_dirs["audio_video"]), "--frame-model", str(checkpoint_dirs["audio_frame"]),
        "--workers", "0", "--batch-size", "2", *FAST, "--settle", SETTLE, "--rescan", "3600", "--json", *extra,
    ]  # fmt: skip


def index_command(folder, library, checkpoint_dirs) -> list[str]:
    """The `index` run a watch must equal (the same model and settings)."""
    return [
        sys.executable, "-m", "pe_search", "index", str(folder), "--library", str(library),
        "--model", str(checkpoint_dirs["audio_video"]), "--frame-model", str(checkpoint_dirs["audio_frame"]),
        "--workers", "0", "--batch-size", "2", *FAST, "--json",
    ]  # fmt: skip


def environment(point: str | None = None, signal_name: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (crash_points.ENV, crash_points.SIGNAL_ENV)}
    if point is not None:
        env[crash_points.ENV] = point
    if signal_name is not None:
        env[crash_points.SIGNAL_ENV] = signal_name
    return env


class WatchProcess:
    """The watcher under test; `events` fills as it prints them."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, **popen) -> None:
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or environment(),
            **popen,
        )
        self.events: list[dict] = []
        self.other: list[str] = []  # stdout that is not an event line (the --json error object)
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=lambda: self._stderr.extend(self.process.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                self.other.append(line)
                continue
            if isinstance(value, dict) and "event" in value:
                self.events.append(value)
            else:
                self.other.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def until(self, condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
        end = time.monotonic() + deadline
        while not condition():
            if self.process.poll() is not None and not condition():
                self.finish()
                raise AssertionError(
                    f"the watcher ended ({self.process.returncode}) before {what}: {self.stderr}"
                )
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}: {self.stderr}")
            time.sleep(0.05)

    def named(self, name: str, **fields) -> list[dict]:
        return [
            e for e in self.events if e["event"] == name and all(e.get(k) == v for k, v in fields.items())
        ]

    def watching(self) -> WatchProcess:
        self.until(lambda: self.named("watching"), "the watcher to catch up and listen")
        return self

    def finished_runs(self, reason: str | None = None) -> list[dict]:
        runs = self.named("run_finished")
        return [r for r in runs if reason is None or r["reason"] == reason]

    def next_run(self, after: int, reason: str = "changes") -> dict:
        """The first run of `reason` finished after `after` runs of it had."""
        self.until(lambda: len(self.finished_runs(reason)) > after, f"a {reason} run")
        return self.finished_runs(reason)[after]

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.process.send_signal(sig)
        return self.finish()

    def finish(self) -> int:
        code = self.process.wait(timeout=DEADLINE)
        for reader in self._readers:
            reader.join(timeout=DEADLINE)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish()


def library_paths(library: Path) -> dict[str, str]:
    """{path: status} of every file the library records (read as any reader reads it)."""
    if not LibraryLayout(library).exists():
        return {}
    with LibraryStore.open(library, readonly=True) as store:
        return {media.path: media.status for media in store.iter_media()}


def vector_ids(library: Path, path: str | Path) -> list[tuple[str, int]]:
    """[(space, vector id)] of a file's segments, straight from the database file."""
    with LibraryStore.open(library, readonly=True) as store:
        engine = create_engine(f"sqlite:///{store.layout.database}")
        with engine.connect() as connection:
            rows = connection.execute(
                select(Vector.space, Vector.vector_id)
                .join(Segment, Vector.segment_id == Segment.id)
                .join(MediaFile, Segment.media_file_id == MediaFile.id)
                .where(MediaFile.path == str(path))
            ).all()
        engine.dispose()
    return sorted((row.space, row.vector_id) for row in rows)


def stopped_state(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP at a named point)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "T"
    except OSError:
        return False


def until_stopped(pid: int) -> None:
    """Wait until the process has stopped itself at its armed point (SIGSTOP)."""
    end = time.monotonic() + DEADLINE
    while not stopped_state(pid):
        if time.monotonic() > end or not Path(f"/proc/{pid}").exists():
            raise AssertionError("the process never stopped at its named point")
        time.sleep(0.05)
