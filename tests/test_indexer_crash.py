"""Killed at any moment (kill -9) or stopped with Ctrl-C, a re-run finishes the job exactly."""

from __future__ import annotations

import json
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


def _reference(folder, library, checkpoint_dirs) -> float:
    """A clean, uninterrupted run; returns how long it took."""
    began = time.perf_counter()
    reference = subprocess.run(
        _command(folder, library, checkpoint_dirs), capture_output=True, timeout=TIMEOUT
    )
    assert reference.returncode == 1, reference.stderr  # the broken file
    return time.perf_counter() - began


def _kill_then_finish(folder, library, checkpoint_dirs, full: float, rng: random.Random, kills: int) -> int:
    """Start runs on `library` and kill -9 each at a random moment until `kills` landed (or a run
    finished first), then finish with one clean run; returns the kills that landed."""
    killed = 0
    orphans: set[int] = set()
    for _ in range(3 * kills):  # each re-run has less left to do
        process = subprocess.Popen(
            _command(folder, library, checkpoint_dirs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.25, 0.75) * full)
        if process.poll() is None:
            workers = _children(process.pid)
            process.send_signal(signal.SIGKILL)
            killed += 1
            orphans.update(workers)
        process.wait(timeout=TIMEOUT)
        if killed == kills or process.returncode in (0, 1):
            break
    deadline = time.monotonic() + ORPHAN_GRACE
    while time.monotonic() < deadline and any(_alive(pid) for pid in orphans):
        time.sleep(0.2)
    assert not [pid for pid in orphans if _alive(pid)], "decode workers must exit when the indexer is killed"
    final = subprocess.run(_command(folder, library, checkpoint_dirs), capture_output=True, timeout=TIMEOUT)
    assert final.returncode == 1, final.stderr
    assert len(json.loads(final.stdout)["failed"]) == 1
    return killed


def test_kill_9_at_random_moments_then_rerun_equals_a_single_run(tmp_path, checkpoint_dirs):
    folder = _folder(tmp_path / "media")
    full = _reference(folder, tmp_path / "reference", checkpoint_dirs)
    killed = _kill_then_finish(folder, tmp_path / "killed", checkpoint_dirs, full, random.Random(7), kills=4)
    assert killed >= 3, "the kills should land while the indexer runs"
    assert_same_library(snapshot(tmp_path / "reference"), snapshot(tmp_path / "killed"))
    # The FAISS index files themselves, not only SQLite: the same segments answer the same queries.
    assert_same_index_contents(index_contents(tmp_path / "reference"), index_contents(tmp_path / "killed"))


@pytest.mark.slow
def test_soak_twenty_kills_each_resumed_exactly(tmp_path, checkpoint_dirs):
    """20 kill -9s at random moments over fresh libraries; after each library's final run it
    equals the clean build, in SQLite and in its index files."""
    folder = _folder(tmp_path / "media")
    full = _reference(folder, tmp_path / "reference", checkpoint_dirs)
    expected = (snapshot(tmp_path / "reference"), index_contents(tmp_path / "reference"))
    rng = random.Random(20)
    killed, rounds = 0, 0
    while killed < 20:
        library = tmp_path / f"killed{rounds}"
        killed += _kill_then_finish(folder, library, checkpoint_dirs, full, rng, kills=min(3, 20 - killed))
        assert_same_library(expected[0], snapshot(library))
        assert_same_index_contents(expected[1], index_contents(library))
        rounds += 1
    print(f"soak: {killed}/20 kills landed over {rounds} libraries, every one resumed to the clean build")


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, checkpoint_dirs):
    folder = _folder(tmp_path / "media")
    process = subprocess.Popen(
        _command(folder, tmp_path / "lib", checkpoint_dirs),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and not (tmp_path / "lib").exists():
        time.sleep(0.05)
    time.sleep(0.5)  # the library exists: the run is under way, with eleven files to go
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, err
    assert "run the same command again" in err and "Traceback" not in err
    assert not json.loads(out)["failed"] or json.loads(out)["interrupted"]
    final = subprocess.run(
        _command(folder, tmp_path / "lib", checkpoint_dirs), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert final.returncode == 1
    summary = json.loads(final.stdout)
    assert summary["files_indexed"] + summary["skipped"] == 11  # ten good files and the broken one
