"""Watch mode (issue 25): a `pe-search watch` subprocess on a temp folder keeps the library as a
single `index` run would build it. Every wait polls the watcher's JSON events or the library with
a generous deadline; named points (pe_search/crash_points.py) place the kills and the pause."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from indexing import assert_same_index_contents, assert_same_library, index_contents, make_folder, snapshot
from watching import (
    DEADLINE,
    WatchProcess,
    environment,
    index_command,
    library_paths,
    until_stopped,
    vector_ids,
    watch_command,
)

from indexer.watch import Pending, WatchPathError
from pe_search.api import Library
from testkit import media


def _tone(path, freq: float, seconds: float = 0.6, rate: int = 16_000):
    media.write_audio(path, media.tone(freq, seconds, rate), rate)
    return path


def _reference(folder, library, checkpoint_dirs) -> None:
    subprocess.run(index_command(folder, library, checkpoint_dirs), capture_output=True, timeout=DEADLINE)


# ---------------------------------------------------------------------- settling, by the clock given
def test_a_path_is_ready_only_once_unchanged_for_the_settle_time(tmp_path):
    path = tmp_path / "growing.wav"
    pending = Pending(settle=2.0)
    path.write_bytes(b"RIFF")
    pending.saw(str(path), now=0.0)
    assert pending.take_ready(1.9) == []
    with open(path, "ab") as handle:  # still being written: the settle time starts again
        handle.write(b"more")
    assert pending.take_ready(3.0) == []
    assert pending.take_ready(4.9) == []
    assert pending.take_ready(5.0) == [str(path)]
    assert len(pending) == 0


def test_what_settles_together_goes_together_and_a_deletion_waits_for_its_move(tmp_path):
    first, second, gone = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "old.wav"
    first.write_bytes(b"a")
    second.write_bytes(b"b")
    pending = Pending(settle=1.0)
    pending.saw(str(first), now=0.0)
    pending.saw(str(gone), now=0.0)  # deleted (a move's first half)
    pending.saw(str(second), now=0.5)
    assert pending.take_ready(1.2) == []  # `first` settled, `second` still settling: wait for it
    assert pending.take_ready(1.5) == sorted([str(first), str(gone), str(second)])


# ---------------------------------------------------------------------- the watcher in a subprocess
def test_new_moved_and_deleted_files_follow_the_folder(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    _tone(folder / "first.wav", 440)
    library = tmp_path / "library"
    watcher = WatchProcess(watch_command(folder, library, checkpoint_dirs)).watching()
    try:
        assert watcher.finished_runs("start")[0]["summary"]["files_indexed"] == 1

        new = _tone(folder / "new.wav", 880)  # a new file becomes searchable
        run = watcher.next_run(0)
        assert run["summary"]["files_indexed"] == 1
        with Library.open(library) as reader:
            assert str(new) in {hit.path for hit in reader.search("a tone", target="audio", k=10)}
        before = vector_ids(library, new)
        assert before

        (folder / "sub").mkdir()
        moved = folder / "sub" / "moved.wav"
        new.rename(moved)  # kept without re-encoding: the same vector rows
        run = watcher.next_run(1)
        assert (run["summary"]["moved"], run["summary"]["files_indexed"]) == (1, 0)
        assert vector_ids(library, moved) == before
        assert str(new) not in library_paths(library)

        (folder / "first.wav").unlink()  # a deleted file leaves the results
        watcher.until(lambda: str(folder / "first.wav") not in library_paths(library), "the deletion")
        with Library.open(library) as reader:
            assert {hit.path for hit in reader.search("a tone", target="audio", k=10)} == {str(moved)}
        assert watcher.stop() == 0
        assert "Traceback" not in watcher.stderr
    finally:
        watcher.kill()


def test_a_file_written_slowly_is_indexed_once_and_complete(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    library = tmp_path / "library"
    source = _tone(tmp_path / "whole.wav", 500, seconds=2.0)
    watcher = WatchProcess(watch_command(folder, library, checkpoint_dirs, "--settle", "3")).watching()
    try:
        data = source.read_bytes()
        target = folder / "slow.wav"
        with open(target, "wb") as out:  # a copy in progress: pieces, each flushed to disk
            for start in range(0, len(data), 4096):
                out.write(data[start : start + 4096])
                out.flush()
                os.fsync(out.fileno())
        watcher.until(lambda: library_paths(library).get(str(target)) == "indexed", "the copied file")
        done = [e for e in watcher.named("file_done") if e["path"] == str(target)]
        assert len(done) == 1, "indexed once, not once per piece"
        with Library.open(library) as reader:
            record = reader.store.find_media(str(target))
        assert record.size == len(data) and abs(record.duration - 2.0) < 0.01  # complete
        assert watcher.stop() == 0
    finally:
        watcher.kill()


def test_a_burst_of_500_files_goes_in_a_few_runs(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    library = tmp_path / "library"
    watcher = WatchProcess(watch_command(folder, library, checkpoint_dirs, "--settle", "1")).watching()
    try:
        rate = 8_000
        for index in range(500):  # a card offload: 500 small files at once
            media.write_audio(folder / f"clip{index:03d}.wav", media.tone(200 + index, 0.25, rate), rate)
        watcher.until(lambda: sum(r["summary"]["files_indexed"] for r in watcher.finished_runs("changes")) >= 500,
                      "the 500 files")  # fmt: skip
        runs = watcher.finished_runs("changes")
        assert sum(r["summary"]["files_indexed"] for r in runs) == 500
        assert 1 <= len(runs) <= 5, f"{len(runs)} runs for one burst"
        assert len(library_paths(library)) == 500
        assert watcher.stop() == 0
    finally:
        watcher.kill()


def test_kill_9_then_restart_equals_a_single_index_run(tmp_path, checkpoint_dirs):
    folder = make_folder(tmp_path / "media")
    library = tmp_path / "watched"
    # Killed by itself inside its catching-up run, after the second file's commit ...
    first = WatchProcess(watch_command(folder, library, checkpoint_dirs), env=environment("file-committed:2"))
    assert first.finish() == -signal.SIGKILL
    # ... the folder changes while no watcher runs ...
    _tone(folder / "sub" / "arrived.wav", 660)
    (folder / "tone440.wav").unlink()
    # ... killed again inside a file's transaction (rolled back) ...
    second = WatchProcess(watch_command(folder, library, checkpoint_dirs), env=environment("file-written:1"))
    assert second.finish() == -signal.SIGKILL
    # ... and a clean watcher catches up, then follows one more change.
    third = WatchProcess(watch_command(folder, library, checkpoint_dirs)).watching()
    try:
        _tone(folder / "late.wav", 990)
        third.next_run(0)
        assert third.stop() == 0
    finally:
        third.kill()
    _reference(folder, tmp_path / "reference", checkpoint_dirs)
    assert_same_library(snapshot(tmp_path / "reference"), snapshot(library))
    assert_same_index_contents(index_contents(tmp_path / "reference"), index_contents(library))


# ---------------------------------------------------------------------- faults
def test_a_missing_or_unreadable_folder_is_one_line(tmp_path, checkpoint_dirs):
    missing = subprocess.run(
        watch_command(tmp_path / "nowhere", tmp_path / "library", checkpoint_dirs),
        capture_output=True, text=True, timeout=DEADLINE, env=environment(),
    )  # fmt: skip
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o000)
    # root reads any folder: the refusal is seen without the capabilities that let it
    # (util-linux's setpriv drops them; the process stays root for everything else)
    drop = "-dac_override,-dac_read_search"
    as_user = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", "--"] if os.geteuid() == 0 else []
    try:
        refused = subprocess.run(
            [*as_user, *watch_command(locked, tmp_path / "library", checkpoint_dirs)],
            capture_output=True, text=True, timeout=DEADLINE, env=environment(),
        )  # fmt: skip
    finally:
        locked.chmod(0o755)
    assert refused.returncode == 1, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and str(locked) in lines[0] and "not readable" in lines[0], refused.stderr
    assert not (tmp_path / "library").exists(), "nothing is created for a refused watch"


def test_library_watch_refuses_a_missing_path_before_opening_anything(tmp_path, checkpoint_dirs):
    library = Library.open(tmp_path / "library", model=str(checkpoint_dirs["audio_video"]))
    with library, pytest.raises(WatchPathError) as refused:
        library.watch([tmp_path / "nowhere"])
    assert str(refused.value).startswith(f"cannot watch {tmp_path / 'nowhere'}: it does not exist")
    assert not (tmp_path / "library").exists()


def test_the_library_inside_the_watched_folder_is_never_indexed(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    _tone(folder / "first.wav", 440)
    library = folder / "library"
    watcher = WatchProcess(watch_command(folder, library, checkpoint_dirs)).watching()
    try:
        for number, freq in enumerate((550, 660)):  # each run writes the library: no run follows from it
            _tone(folder / f"more{freq}.wav", freq)
            run = watcher.next_run(number)
            assert run["summary"]["files_indexed"] == 1
        assert [e["paths"] for e in watcher.named("run_started", reason="changes")] == [1, 1]
        assert not [p for p in library_paths(library) if p.startswith(str(library))]
        assert watcher.stop() == 0
    finally:
        watcher.kill()


def test_a_second_watcher_on_the_library_is_refused_in_one_line(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    _tone(folder / "first.wav", 440)
    library = tmp_path / "library"
    watcher = WatchProcess(watch_command(folder, library, checkpoint_dirs)).watching()
    try:
        for command in (
            watch_command(folder, library, checkpoint_dirs),
            index_command(folder, library, checkpoint_dirs),
        ):
            second = subprocess.run(
                command, capture_output=True, text=True, timeout=DEADLINE, env=environment()
            )
            assert second.returncode == 1
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "is being written by another process" in lines[0], second.stderr
        assert watcher.process.poll() is None, "the first watcher goes on"
        assert watcher.stop() == 0
    finally:
        watcher.kill()


def _replace(path, freq: float) -> None:
    """Another recording under the same name, swapped in whole (as a save or a copy does)."""
    fresh = _tone(path.parent.parent / f"fresh{freq}.wav", freq, seconds=1.1)
    os.replace(fresh, path)


def test_a_file_replaced_while_encoded_is_not_written_with_its_old_content(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    target = _tone(folder / "take.wav", 440)
    library = tmp_path / "library"
    run = subprocess.Popen(
        index_command(folder, library, checkpoint_dirs),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment("file-encoded:1", "STOP"),
    )  # fmt: skip
    try:
        until_stopped(run.pid)
        _replace(target, 880)  # encoded from the old bytes, not yet written
        run.send_signal(signal.SIGCONT)
        out, err = run.communicate(timeout=DEADLINE)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert json.loads(out)["replaced"] == [str(target)]
    assert str(target) not in library_paths(library), "the old content's vectors were written"
    again = subprocess.run(
        index_command(folder, library, checkpoint_dirs), capture_output=True, timeout=DEADLINE
    )
    assert again.returncode == 0
    _reference(folder, tmp_path / "reference", checkpoint_dirs)
    assert_same_library(snapshot(tmp_path / "reference"), snapshot(library))


def test_while_watching_the_newer_content_of_a_replaced_file_wins(tmp_path, checkpoint_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    library = tmp_path / "library"
    watcher = WatchProcess(
        watch_command(folder, library, checkpoint_dirs), env=environment("file-encoded:1", "STOP")
    ).watching()
    try:
        target = _tone(folder / "take.wav", 440)
        until_stopped(watcher.process.pid)
        _replace(target, 880)
        watcher.process.send_signal(signal.SIGCONT)
        first = watcher.next_run(0)
        assert first["summary"]["replaced"] == [str(target)] and first["summary"]["files_indexed"] == 0
        second = watcher.next_run(1)
        assert second["summary"]["files_indexed"] == 1
        assert watcher.stop() == 0
    finally:
        watcher.kill()
    _reference(folder, tmp_path / "reference", checkpoint_dirs)
    assert_same_library(snapshot(tmp_path / "reference"), snapshot(library))


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (as tests/test_disk_trouble.py mounts it; CI runs as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_the_disk_filling_while_watching_is_one_line_and_keeps_what_was_committed(
    tmp_path, small_disk, checkpoint_dirs
):
    from test_disk_trouble import _fill

    folder = tmp_path / "media"
    folder.mkdir()
    first = _tone(folder / "first.wav", 440)
    library = small_disk / "library"
    watcher = WatchProcess(watch_command(folder, library, checkpoint_dirs)).watching()
    try:
        kept = snapshot(library)
        filler = _fill(small_disk)
        _tone(folder / "second.wav", 880)
        code = watcher.finish()
    finally:
        watcher.kill()
    assert code == 1
    lines = watcher.stderr.strip().splitlines()
    assert len(lines) == 1 and "is full" in lines[0] and "Traceback" not in watcher.stderr, watcher.stderr
    assert '"error"' in "".join(watcher.other)  # --json: the error object too
    filler.unlink()
    assert_same_library(kept, snapshot(library))
    assert set(library_paths(library)) == {str(first)}
