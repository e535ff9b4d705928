"""Folders and names a hostile user's disk holds: a name that is not UTF-8, folders 1,000 deep,
sidecar text files, UTF-16 text (issue 27, defects 6, 9, 13, 16). Each is indexed with the toy
model through the CLI, and what the library holds is read back from the store."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from indexer.file_text import read_file_text
from indexer.walk import walk
from pe_search.cli.main import cli
from pe_search.store import LibraryStore


def _wav(path: Path, seconds: float = 0.5) -> Path:
    tone = 0.1 * np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(48_000 * seconds)))
    data = io.BytesIO()  # written by Python: libsndfile cannot open a 2,000-character path
    soundfile.write(data, tone.astype(np.float32), 48_000, format="WAV")
    path.write_bytes(data.getvalue())
    return path


def _index(folder: Path, library: Path):
    args = ["index", str(folder), "--library", str(library), "--model", "toy", "--no-frames"]
    result = CliRunner().invoke(cli, [*args, "--workers", "0", "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _rows(library: Path) -> dict[str, tuple[str, str | None]]:
    with LibraryStore.open(library, readonly=True) as store:
        return {m.path: (m.status, m.error) for m in store.iter_media()}


# 9: a file name that is not valid UTF-8


def test_a_name_that_is_not_utf8_is_reported_and_the_others_indexed(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    _wav(folder / "ok.wav")
    os.rename(_wav(folder / "cafe.wav"), os.fsencode(str(folder)) + b"/caf\xe9.wav")  # Latin-1 é
    for _ in range(2):  # the second run must not crash on the name either
        result = _index(folder, tmp_path / "library")
        assert result.exit_code == 1, result.output  # the bad name is a failure the exit code shows
        summary = json.loads(result.stdout)
        assert [f["path"] for f in summary["failed"]] == [str(folder / "caf\\xe9.wav")]
        assert "not valid UTF-8" in summary["failed"][0]["reason"]
    assert _rows(tmp_path / "library") == {str(folder / "ok.wav"): ("indexed", None)}


# 13: folders 1,000 deep


@pytest.fixture()
def deep_folder(tmp_path):
    """A folder to nest 1,000 deep, removed bottom-up afterwards (pytest's recursive cleanup and
    `shutil.rmtree` themselves fail at this depth)."""
    folder = tmp_path / "media"
    yield folder
    levels = sorted((p for p in [folder, *_chain(folder)] if p.is_dir()), key=lambda p: -len(p.parts))
    for level in levels:
        for file in level.iterdir():
            if not file.is_dir():
                file.unlink()
        level.rmdir()


def _chain(folder: Path) -> list[Path]:
    """The folders of a single chain of nested folders under `folder`."""
    chain, current = [], folder
    while True:
        nested = [p for p in current.iterdir() if p.is_dir()] if current.is_dir() else []
        if not nested:
            return chain
        current = nested[0]
        chain.append(current)


def test_folders_a_thousand_deep_are_walked_and_indexed(tmp_path, deep_folder):
    folder = deep_folder
    deepest = folder
    for _ in range(1000):  # one level at a time: ~2,000 characters, under PATH_MAX
        deepest = deepest / "d"
        deepest.mkdir(parents=True)
    assert len(str(deepest)) < os.pathconf("/", "PC_PATH_MAX")
    _wav(folder / "top.wav")
    _wav(deepest / "bottom.wav")
    found = walk([folder])
    assert [c.path for c in found.media] == [folder / "top.wav", deepest / "bottom.wav"]
    result = _index(folder, tmp_path / "library")
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "library")
    assert rows == {
        str(folder / "top.wav"): ("indexed", None),
        str(deepest / "bottom.wav"): ("indexed", None),
    }


# 6: sidecars are sidecars, not ignored media


def test_sidecars_are_counted_as_sidecars_not_ignored(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    _wav(folder / "talk.wav")
    (folder / "talk.srt").write_text("1\n00:00:00,000 --> 00:00:00,400\nhello there\n")
    (folder / "talk.en.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:00.400\nhello\n")
    (folder / "talk.txt").write_text("a transcript")
    (folder / "shopping.txt").write_text("milk")  # no media of its stem: plain text, ignored
    for _ in range(2):
        result = _index(folder, tmp_path / "library")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert (summary["sidecars"], summary["ignored"]) == (3, 1)
    status = CliRunner().invoke(cli, ["status", "--library", str(tmp_path / "library"), "--json"])
    media = json.loads(status.stdout)["media"]
    assert (media["sidecar"], media["ignored"], media["indexed"]) == (3, 1, 1)


# 16: UTF-16 text files


def test_utf16_text_files_are_text_and_their_subtitles_are_read(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    _wav(folder / "talk.wav")
    srt = "1\n00:00:00,000 --> 00:00:00,400\nbonjour éléphant\n"
    (folder / "talk.srt").write_bytes(srt.encode("utf-16"))  # FF FE then little-endian
    (folder / "talk.txt").write_bytes("\ufeffgrüße".encode("utf-16-be"))  # FE FF
    (folder / "table.csv").write_bytes("a,b\n1,2\n".encode("utf-16"))
    found = walk([folder])
    assert [c.path.name for c in found.media] == ["talk.wav"]
    texts = {e.field: e.text for e in read_file_text(folder / "talk.wav").entries}
    assert texts.get("subtitle") == "bonjour éléphant" and texts.get("text_file") == "grüße"
    result = _index(folder, tmp_path / "library")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["failed"], summary["files_indexed"]) == ([], 1)


# 20 (a): a library kept inside the folder it indexes


def test_a_library_inside_its_media_folder_is_not_walked(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    _wav(folder / "tone.wav")
    (folder / "notes.txt").write_text("milk")  # one really ignored file, so the count is checked
    library = folder / "pe-library"
    for _ in range(2):  # the second run finds the library's own files in the folder
        result = _index(folder, library)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert (summary["files_indexed"] + summary["skipped"], summary["ignored"]) == (1, 1)
        assert summary["failed"] == []
    assert _rows(library) == {
        str(folder / "tone.wav"): ("indexed", None),
        str(folder / "notes.txt"): ("ignored", "text"),
    }
