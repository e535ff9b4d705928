"""Export and source timecode through the command line on a library indexed with the toy models:
timecode in search JSON, `--export` read back by OpenTimelineIO, each mistake one line with exit 1
(JSON under --json), and a library made before timecodes were kept learning them on the next
index run without re-encoding anything."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import opentimelineio as otio
import pytest
from click.testing import CliRunner

from pe_search.cli.main import cli


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def _run(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(scope="module")
def library(tmp_path_factory, checkpoint_dirs):
    root = tmp_path_factory.mktemp("export-cli")
    folder = root / "media"
    folder.mkdir()
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    _ffmpeg(
        *sine, "-t", "3", "-write_bext", "1", "-metadata", "time_reference=172800000", str(folder / "bwf.wav")
    )
    _ffmpeg(*sine, "-t", "3", str(folder / "plain.wav"))
    library = root / "library"
    _run(
        "index", folder, "--library", library, "--model", checkpoint_dirs["audio_video"],
        "--frame-model", checkpoint_dirs["audio_frame"], "--window", "1", "--workers", "0", "--json",
    )  # fmt: skip
    return root, folder, library


def _search(library, *extra, code=0):
    return _run("search", "a tone", "--target", "audio", "--library", library, *extra, code=code)


def test_search_json_shows_the_source_timecode(library):
    _, folder, lib = library
    hits = json.loads(_search(lib, "--json").stdout)
    bwf = next(hit for hit in hits if hit["path"].endswith("bwf.wav"))
    assert bwf["timecode"]["start"] == "01:00:00:00" and bwf["timecode"]["origin"] == "bext"
    # 172800000 samples at 48 kHz is 3600 s; the hit's start at 25 fps, by hand
    frames = round(bwf["start"] * 25)
    assert bwf["timecode_in"] == f"01:00:{frames // 25:02d}:{frames % 25:02d}"
    plain = next(hit for hit in hits if hit["path"].endswith("plain.wav"))
    assert plain["timecode"]["start"] == "00:00:00:00" and plain["timecode"]["origin"] == "none"


def test_export_is_read_back_by_otio_and_mistakes_are_one_line_exit_1(library):
    root, folder, lib = library
    out = root / "spots.otio"
    report = json.loads(_search(lib, "--export", out, "--json").stdout)
    assert report["format"] == "otio" and report["exported"] >= 2 and report["left_out"] == []
    urls = {clip.media_reference.target_url for clip in otio.adapters.read_from_file(str(out)).find_clips()}
    assert urls == {(folder / "bwf.wav").as_uri(), (folder / "plain.wav").as_uri()}

    for args, words in (
        (("--export", root / "spots.xyz"), "no export format"),
        (("--export", out), "already exists: pass --force"),
        (("--export", root / "missing" / "x.otio"), "cannot write"),
    ):
        result = _search(lib, *args, "--json", code=1)
        assert words in json.loads(result.stdout)["error"]
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ") and words in line


def test_a_file_gone_since_indexing_is_left_out_listed_and_exit_1(library, tmp_path):
    root, folder, lib = library
    hits = json.loads(_search(lib, "--json").stdout)
    assert {h["path"] for h in hits} >= {str(folder / "plain.wav")}
    moved = tmp_path / "plain.wav"
    (folder / "plain.wav").rename(moved)
    try:
        result = _search(lib, "--export", tmp_path / "left.csv", "--json", code=1)
    finally:
        moved.rename(folder / "plain.wav")
    report = json.loads(result.stdout)
    assert [item["path"] for item in report["left_out"]][0] == str(folder / "plain.wav")
    assert all(line.startswith("left out: ") for line in result.stderr.splitlines())
    assert (tmp_path / "left.csv").read_text().count("bwf.wav") >= 1


def test_a_library_from_before_timecodes_learns_them_without_re_encoding(library, checkpoint_dirs):
    _, folder, lib = library
    with sqlite3.connect(lib / "library.db") as db:
        db.execute("DELETE FROM source_timecodes")
    summary = json.loads(
        _run(
            "index", folder, "--library", lib, "--model", checkpoint_dirs["audio_video"],
            "--frame-model", checkpoint_dirs["audio_frame"], "--window", "1", "--workers", "0", "--json",
        ).stdout
    )  # fmt: skip
    assert summary["files_indexed"] == 0 and summary["skipped"] == 2
    with sqlite3.connect(lib / "library.db") as db:
        rows = dict(db.execute("SELECT origin, start FROM source_timecodes").fetchall())
    assert rows == {"bext": "01:00:00:00", "none": "00:00:00:00"}


def test_a_clip_of_an_indexed_file_records_its_source_timecode(library, tmp_path):
    """The clip's metadata names the source timecode of its first frame: the BWF starts at
    3600 s (172800000 samples at 48 kHz), so a clip from 1.2 s starts at 01:00:01:05 at 25 fps."""
    import soundfile as sf

    _, folder, lib = library
    out = tmp_path / "bwf-clip.wav"
    _run("clip", folder / "bwf.wav", "1.2", "2", "-o", out, "--library", lib, "--json")
    assert "(source timecode 01:00:01:05)" in sf.SoundFile(out).comment
    plain = tmp_path / "plain-clip.wav"  # no timecode of its own: the clock starts at midnight
    _run("clip", folder / "plain.wav", "1.2", "2", "-o", plain, "--library", lib, "--json")
    assert "(source timecode 00:00:01:05)" in sf.SoundFile(plain).comment
    unindexed = tmp_path / "elsewhere.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "3", str(unindexed))
    _run("clip", unindexed, "1.2", "2", "-o", tmp_path / "free.wav", "--library", lib, "--json")
    assert "source timecode" not in sf.SoundFile(tmp_path / "free.wav").comment
