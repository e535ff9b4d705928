"""Indexing (issue 27, item 4): a copy of a file that still exists is a new file, never a move
(the original keeps its id and vectors), and the last video frame of a file ends at the file's
end (each other frame where the next one starts), with the duration read back by PyAV."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest
from indexing import assert_same_library, make_folder, snapshot

from indexer.pipeline import run_index
from indexer.settings import IndexSettings
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore


@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> ModelSet:
    return ModelSet.load(checkpoint_dirs["audio_video"], checkpoint_dirs["audio_frame"])


def _index(folder, library, models):
    settings = IndexSettings(
        window=1.0, hop=0.5, frames_per_window=4, frame_preprocessing=models.clip.frame_preprocessing
    )
    with LibraryStore.open(library, models.identity()) as store:
        return run_index([folder], store, models, settings, workers=0, progress=False)


def _ids(library) -> dict[str, int]:
    with LibraryStore.open(library, readonly=True) as store:
        return {media.path: media.id for media in store.iter_media()}


def test_a_copy_beside_its_original_is_a_new_file_not_a_move(tmp_path, models):
    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    before, ids_before = snapshot(tmp_path / "lib"), _ids(tmp_path / "lib")
    original, copy = folder / "tone440.wav", folder / "sub" / "copy of tone440.wav"
    shutil.copy2(original, copy)  # same bytes, the original still there
    summary = _index(folder, tmp_path / "lib", models)
    assert summary.moved == 0 and summary.removed == 0 and summary.files_indexed == 1
    ids_after = _ids(tmp_path / "lib")
    assert ids_after[str(original)] == ids_before[str(original)]  # the original keeps its record
    assert str(copy) in ids_after and ids_after[str(copy)] not in ids_before.values()
    after = snapshot(tmp_path / "lib")
    # nothing recorded before changed, and the copy holds what its original holds
    assert_same_library(before, {path: after[path] for path in before}, atol=0)
    assert_same_library({"x": before[str(original)]}, {"x": after[str(copy)]})


def _video_duration(path) -> float:
    """The container's duration, or the end of its last frame, as PyAV reads them."""
    with av.open(str(path)) as container:
        if container.duration is not None:
            return container.duration / 1_000_000
        stream = container.streams.video[0]
        last = [frame for frame in container.decode(stream)][-1]
        return float(last.time + (last.duration or 0) * stream.time_base)


def test_the_last_video_frame_ends_at_the_files_end(tmp_path, models):
    folder = make_folder(tmp_path / "media")
    _index(folder, tmp_path / "lib", models)
    with LibraryStore.open(tmp_path / "lib", readonly=True) as store:
        paths = {media.id: media for media in store.iter_media()}
        blocks = store.frame_blocks("video_frame")
        assert {paths[info.media_id].path for info, _ in blocks} == {
            str(folder / "square.mp4"),
            str(folder / "sub" / "colours.webm"),
        }
        for info, read in blocks:
            media = paths[info.media_id]
            frames = read()
            starts, ends = np.asarray(frames.starts), np.asarray(frames.ends)
            assert len(starts) >= 2 and np.all(np.diff(starts) > 0)
            np.testing.assert_array_equal(ends[:-1], starts[1:])  # each frame lasts until the next
            assert ends[-1] == pytest.approx(media.duration, abs=1e-6)  # the last until the end
            assert ends[-1] == pytest.approx(_video_duration(media.path), abs=0.05)
            assert ends[-1] > starts[-1]
