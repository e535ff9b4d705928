"""Folder walking by content and extension; window arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from indexer.segments import clip_windows
from indexer.walk import iter_media, sniff_container


def _wav(path, seconds=0.1):
    soundfile.write(path, np.zeros(int(48_000 * seconds), dtype=np.float32), 48_000, format="WAV")
    return path


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    _wav(tmp_path / "a" / "tone.wav")
    _wav(tmp_path / "a" / "deep" / "recording.dat")  # media by content, odd extension
    (tmp_path / "a" / "notes.txt").write_text("hello")
    (tmp_path / "fake.mp4").write_text("not a video")  # claims media by extension only
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 20)
    _wav(tmp_path / ".hidden" / "secret.wav")
    _wav(tmp_path / "a" / "skip_me.wav")
    return tmp_path


def test_walk_finds_media_by_content_and_claims(folder):
    found = {c.path.relative_to(folder).as_posix(): c.container for c in iter_media([folder])}
    assert found == {
        "a/tone.wav": "wav",
        "a/deep/recording.dat": "wav",
        "a/skip_me.wav": "wav",
        "fake.mp4": None,
    }


def test_walk_include_exclude_globs(folder):
    found = {c.path.name for c in iter_media([folder], include=["*.wav", "*.dat"], exclude=["skip_*"])}
    assert found == {"tone.wav", "recording.dat"}
    found = {c.path.name for c in iter_media([folder], exclude=["a/deep/*"])}
    assert "recording.dat" not in found and "tone.wav" in found


def test_walk_accepts_files_and_deduplicates(folder):
    file = folder / "a" / "tone.wav"
    found = list(iter_media([file, folder / "a", file]))
    assert [c.path for c in found].count(file.resolve()) == 1


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"RIFF\0\0\0\0WAVEfmt ", "wav"),
        (b"RIFF\0\0\0\0AVI LIST", "avi"),
        (b"fLaC\0\0\0\x22", "flac"),
        (b"OggS\0\x02", "ogg"),
        (b"\x1a\x45\xdf\xa3\x01", "matroska"),
        (b"\0\0\0\x20ftypisom", "mp4"),
        (b"ID3\x04\0", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"%PDF-1.4", None),
        (b"\x89PNG\r\n", None),
    ],
)
def test_sniff_container(head, container):
    assert sniff_container(head) == container


def test_short_file_is_one_window():
    assert [(w.start, w.end) for w in clip_windows(12.5)] == [(0.0, 12.5)]


def test_windows_overlap_by_half_and_end_at_the_file_end():
    windows = clip_windows(70.0, window=30.0, hop=15.0)
    assert [(w.start, w.end) for w in windows] == [(0, 30), (15, 45), (30, 60), (40, 70)]
    assert all(w.duration == 30.0 for w in windows)


def test_windows_exact_fit_has_no_duplicate():
    assert [(w.start, w.end) for w in clip_windows(60.0)] == [(0, 30), (15, 45), (30, 60)]
    assert clip_windows(0.0) == []
    with pytest.raises(ValueError):
        clip_windows(10.0, hop=0)
