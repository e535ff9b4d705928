"""Killed (kill -9) or stopped with Ctrl-C mid-run, a re-run finishes the job exactly.

The runs stop themselves at named points (`pe_search/crash_points.py`), so every kill lands
wherever it is aimed, however loaded the machine."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from indexing import (
    FAST,
    assert_same_index_contents,
    assert_same_library,
    index_contents,
    make_folder,
    snapshot,
)

from pe_search import crash_points
from testkit import media

TIMEOUT = 300  # seconds for any one indexer run: a hang fails the test instead of stalling CI
ORPHAN_GRACE = 60  # seconds a killed run's decode workers get to notice and exit (a loaded machine is slow)


def _folder(root):
    folder = make_folder(root)
    for index in range(6):  # more files: more commits for a kill to land between
        media.write_audio(folder / f"extra{index}.wav", media.tone(300 + 90 * index, 1.5, 48_000), 48_000)
    return folder


def _children(pid: int) -> set[int]:
    try:
        return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _command(folder, library, checkpoint_dirs) -> list[str]:
    return [
        sys.executable, "-m", "pe_search", "index", str(folder), "--library", str(library),
        "--model", str(checkpoint_dirs["audio_video"]), "--frame-model", str(checkpoint_dirs["audio_frame"]),
        "--workers", "1", "--batch-size", "2", *FAST, "--json",
    ]  # fmt: skip


def _environment(point: str | None = None, signal_name: str | None = None) -> dict[str, str]:
    """This process's environment, with a named crash point armed (pe_search/crash_points.py)."""
    environment = {
        k: v for k, v in os.environ.items() if k not in (crash_points.ENV, crash_points.SIGNAL_ENV)
    }
    if point is not None:
        environment[crash_points.ENV] = point
    if signal_name is not None:
        environment[crash_points.SIGNAL_ENV] = signal_name
    return environment


def _reference(folder, library, checkpoint_dirs) -> None:
    """A clean, uninterrupted run."""
    reference = subprocess.run(
        _command(folder, library, checkpoint_dirs), capture_output=True, timeout=TIMEOUT, env=_environment()
    )
    assert reference.returncode == 1, reference.stderr  # the broken file


def _kill_then_finish(folder, library, checkpoint_dirs, points: list[str]) -> int:
    """One run per named point on `library`, each killed (-9) by itself at that point, then one
    clean run; returns the kills, every one of which must land."""
    orphans: set[int] = set()
    for point in points:
        process = subprocess.Popen(
            _command(folder, library, checkpoint_dirs),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_environment(point),
        )
        workers: set[int] = set()
        while process.poll() is None:  # the decode workers, for the orphan check below
            workers |= _children(process.pid)
            time.sleep(0.05)
        orphans |= workers
        assert process.returncode == -signal.SIGKILL, f"the run should have been killed at {point}"
    deadline = time.monotonic() + ORPHAN_GRACE
    while time.monotonic() < deadline and any(_alive(pid) for pid in orphans):
        time.sleep(0.2)
    assert not [pid for pid in orphans if _alive(pid)], "decode workers must exit when the indexer is killed"
    final = subprocess.run(
        _command(folder, library, checkpoint_dirs), capture_output=True, timeout=TIMEOUT, env=_environment()
    )
    assert final.returncode == 1, final.stderr
    assert len(json.loads(final.stdout)["failed"]) == 1
    return len(points)


# Ten good files: killed after the 2nd commit (2 kept), inside the 2nd file's transaction of the
# next run (1 kept, 1 rolled back), after the next run's 1st commit, and inside the FAISS save
# that follows the last file (SQLite complete, the index file behind it).
POINTS = ["file-committed:2", "file-written:2", "file-committed:1", "index-save:1"]


def test_kill_9_at_named_points_then_rerun_equals_a_single_run(tmp_path, checkpoint_dirs):
    folder = _folder(tmp_path / "media")
    _reference(folder, tmp_path / "reference", checkpoint_dirs)
    assert _kill_then_finish(folder, tmp_path / "killed", checkpoint_dirs, POINTS) == 4
    assert_same_library(snapshot(tmp_path / "reference"), snapshot(tmp_path / "killed"))
    # The FAISS index files themselves, not only SQLite: the same segments answer the same queries.
    assert_same_index_contents(index_contents(tmp_path / "reference"), index_contents(tmp_path / "killed"))


@pytest.mark.slow
def test_soak_twenty_kills_each_resumed_exactly(tmp_path, checkpoint_dirs):
    """20 kill -9s at named points drawn at random over fresh libraries; after each library's
    final run it equals the clean build, in SQLite and in its index files."""
    folder = _folder(tmp_path / "media")
    _reference(folder, tmp_path / "reference", checkpoint_dirs)
    expected = (snapshot(tmp_path / "reference"), index_contents(tmp_path / "reference"))
    rng = random.Random(20)
    killed, rounds = 0, 0
    while killed < 20:
        library = tmp_path / f"killed{rounds}"
        # at most 3 + 2 files committed before the last run, which the index save then kills
        points = [f"file-committed:{rng.randint(1, 3)}", f"file-written:{rng.randint(1, 2)}", "index-save:1"]
        killed += _kill_then_finish(folder, library, checkpoint_dirs, points[: 20 - killed])
        assert_same_library(expected[0], snapshot(library))
        assert_same_index_contents(expected[1], index_contents(library))
        rounds += 1
    print(f"soak: {killed}/20 kills landed over {rounds} libraries, every one resumed to the clean build")


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, checkpoint_dirs):
    folder = _folder(tmp_path / "media")
    # Ctrl-C arrives just after the second file's commit: the run is under way, nine files to go.
    process = subprocess.run(
        _command(folder, tmp_path / "lib", checkpoint_dirs),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_environment("file-committed:2", "INT"),
    )
    out, err = process.stdout, process.stderr
    assert process.returncode == 130, err
    assert "run the same command again" in err and "Traceback" not in err
    assert not json.loads(out)["failed"] or json.loads(out)["interrupted"]
    final = subprocess.run(
        _command(folder, tmp_path / "lib", checkpoint_dirs),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_environment(),
    )
    assert final.returncode == 1
    summary = json.loads(final.stdout)
    assert summary["files_indexed"] + summary["skipped"] == 11  # ten good files and the broken one
    assert summary["skipped"] >= 2, "the files committed before the Ctrl-C are not encoded again"
