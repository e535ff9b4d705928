"""A library on a full or read-only disk, on real small file systems (tmpfs, mounted here as CI
does: it runs as root on a privileged machine). Writing (index, compact) ends in one line that says
what is wrong and what to do, under --json too; reading (status, search) still works; nothing
already indexed is lost, and once space is freed the next index run carries on."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from indexing import assert_same_library, snapshot

from pe_search.cli.main import cli
from testkit import media

QUICK = ["--no-frames", "--window", "1", "--workers", "0", "--no-fast"]


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs, unmounted whatever the test did to it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def indexed(small_disk, tmp_path, checkpoint_dirs):
    """One tone indexed into a library on the small disk: (library, media folder, index args)."""
    folder = tmp_path / "media"
    folder.mkdir()
    media.write_audio(folder / "a.wav", media.tone(440, 2.0, 48_000), 48_000)
    library = small_disk / "library"
    index = ["index", str(folder), "--library", str(library), "--model", str(checkpoint_dirs["audio_video"])]
    first = _run([*index, *QUICK])
    assert first.exit_code == 0, first.output
    return library, folder, [*index, *QUICK]


def _run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _fill(disk: Path) -> Path:
    """Write (on) a file until the disk refuses another byte (a real ENOSPC, not a simulated one)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _one_line_error(result, as_json: bool, *phrases: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    if as_json:
        assert json.loads(result.stdout)["error"] == lines[0].removeprefix("error: ")
    else:
        assert result.stdout == ""
    return lines[0]


def _assert_reads(library: Path, indexed_files: int) -> None:
    """status and search work, and see what was indexed."""
    status = _run(["status", "--library", library, "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["media"] == {"indexed": indexed_files}
    search = _run(["search", "a tone", "--library", library, "--json", "--mode", "vector"])
    assert search.exit_code == 0, search.output
    assert len({hit["path"] for hit in json.loads(search.stdout)}) == indexed_files


def _assert_kept(before: dict, after: dict, path: Path) -> None:
    """Nothing indexed was lost: the file's segments and vectors are bit for bit as they were."""
    assert_same_library({str(path): before[str(path)]}, {str(path): after[str(path)]}, atol=0)


# -- a full disk ----------------------------------------------------------------------------------


def test_full_disk_is_one_line_reading_works_and_index_resumes_once_freed(indexed, small_disk):
    library, folder, index = indexed
    before = snapshot(library)
    filler = _fill(small_disk)
    media.write_audio(folder / "b.wav", media.tone(880, 2.0, 48_000), 48_000)
    for as_json in (False, True):
        result = _run([*index, *(["--json"] if as_json else [])])
        _one_line_error(result, as_json, f"the disk holding library {library} is full", "free some space")
    _fill(small_disk)  # what the failed runs freed is taken again: the disk stays full
    assert os.statvfs(library).f_bavail == 0
    _assert_reads(library, 1)  # on the full disk: no room for SQLite's 32 KiB shared-memory file
    compacted = _run(["compact", "--library", library, "--json"])  # nothing to reclaim: may work
    if compacted.exit_code != 0:
        _one_line_error(compacted, True, "is full")
    filler.unlink()
    resumed = _run([*index, "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["files_indexed"] == 1
    _assert_reads(library, 2)
    _assert_kept(before, snapshot(library), folder / "a.wav")


def test_disk_filling_up_inside_the_atomic_writer_is_one_line(indexed, small_disk, monkeypatch):
    """The disk fills up in the middle of a run, as an index file is being replaced."""
    from pe_search.store import index_file

    library, folder, index = indexed
    before = snapshot(library)
    real = index_file.atomic_write
    fillers = []

    def filling_then_writing(path, write, crash_at=None):
        if not fillers:
            fillers.append(_fill(small_disk))
        return real(path, write, crash_at=crash_at)

    monkeypatch.setattr(index_file, "atomic_write", filling_then_writing)
    media.write_audio(folder / "b.wav", media.tone(880, 2.0, 48_000), 48_000)
    _one_line_error(_run([*index, "--json"]), True, "is full", "run the command again")
    assert fillers, "the disk filled up inside the atomic writer"
    _assert_reads(library, 2)  # b was committed before the index file save failed
    monkeypatch.undo()
    fillers[0].unlink()
    resumed = _run([*index, "--json"])
    assert resumed.exit_code == 0, resumed.output
    _assert_reads(library, 2)
    _assert_kept(before, snapshot(library), folder / "a.wav")


# -- a read-only disk -----------------------------------------------------------------------------


def test_read_only_library_refuses_writing_in_one_line_and_is_read(indexed, small_disk):
    library, folder, index = indexed
    media.write_audio(folder / "b.wav", media.tone(880, 2.0, 48_000), 48_000)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    assert subprocess.run(["touch", str(small_disk / "x")], capture_output=True).returncode != 0
    for as_json in (False, True):
        flag = ["--json"] if as_json else []
        _one_line_error(_run([*index, *flag]), as_json, f"library {library} is read-only", "remount it")
        _one_line_error(_run(["compact", "--library", library, *flag]), as_json, "is read-only")
    _assert_reads(library, 1)
