"""The writer only writes (issue 21): a file's side data (text entries, container tags, audio
fingerprint) is computed where the file is decoded and travels with its vectors, so the run's one
serial stage, the writer thread, never opens a media file."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from indexing import make_folder

from indexer.pipeline import run_index
from indexer.settings import IndexSettings
from pe_search.duplicates.audio_fingerprint import fingerprint_file
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore
from testkit import media

WRITER_THREAD = "writer"  # SingleWriter's thread name prefix


@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> ModelSet:
    return ModelSet.load(checkpoint_dirs["audio_video"], checkpoint_dirs["audio_frame"])


def _tagged(path, title: str) -> None:
    """A FLAC file with a title tag, written with PyAV."""
    signal = media.tone(523.0, 1.5, 48_000)
    with av.open(str(path), "w") as container:
        container.metadata["title"] = title
        stream = container.add_stream("flac", rate=48_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(signal, format="fltp", layout="mono")
        frame.sample_rate = 48_000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _refused_in_the_writer(function, opened: Counter):
    """`function`, counted per file, except in the writer thread, where calling it fails the run."""

    def guarded(*args, **kwargs):
        if threading.current_thread().name.startswith(WRITER_THREAD):
            raise AssertionError(f"the writer thread opened media: {args[:1]}")
        opened[Path(args[0]).name] += 1
        return function(*args, **kwargs)

    return guarded


def test_the_writer_thread_opens_no_media_and_still_stores_tags_text_and_fingerprints(
    tmp_path, models, monkeypatch
):
    folder = make_folder(tmp_path / "media")
    _tagged(folder / "harbour.flac", "Lighthouse at dawn")
    (folder / "harbour.txt").write_text("Recorded from the north pier.")
    expected_prints = {
        str(path): fingerprint_file(path)  # computed here, before the guard, by the media layer itself
        for path in (folder / "tone440.wav", folder / "sub" / "tone880.flac", folder / "square.mp4")
    }
    # Every way the media layer opens a file: FFmpeg (PyAV) and libsndfile.
    opened: Counter = Counter()
    monkeypatch.setattr(av, "open", _refused_in_the_writer(av.open, opened))
    monkeypatch.setattr(soundfile, "SoundFile", _refused_in_the_writer(soundfile.SoundFile, opened))
    settings = IndexSettings(
        window=1.0, hop=0.5, frames_per_window=4, frame_preprocessing=models.clip.frame_preprocessing
    )
    with LibraryStore.open(tmp_path / "lib", models.identity()) as store:
        summary = run_index([folder], store, models, settings, workers=0, progress=False)
        assert summary.files_indexed == 5 and len(summary.failed) == 1
        (tag,) = [hit for hit in store.search_text("lighthouse") if hit.field == "tag"]
        assert (tag.path, tag.key) == (str(folder / "harbour.flac"), "title")
        (note,) = store.search_text("pier")
        assert (note.path, note.field) == (str(folder / "harbour.flac"), "text_file")
        stored = {p.path: p.codes for p in store.audio_fingerprints()}
    # One open for the headers, the tags and the fingerprint's sound, then one per stream decoded
    # (libsndfile for WAV and FLAC audio); the broken file fails at its first.
    assert opened == {
        "tone440.wav": 2,
        "tone880.flac": 2,
        "harbour.flac": 2,
        "square.mp4": 3,
        "colours.webm": 2,
        "broken.mp4": 1,
    }
    for path, codes in expected_prints.items():
        np.testing.assert_array_equal(stored[path], codes if codes is not None else np.zeros(0, np.uint32))
    assert str(folder / "harbour.flac") in stored and str(folder / "sub" / "colours.webm") not in stored
