"""The seams other front doors and engines plug into: a distributor, progress events, the one model
rule, and errors worded per front door."""

from __future__ import annotations

import pytest
from indexing import assert_same_library, make_folder, snapshot

from indexer.distributors.local import InProcess
from indexer.events import FileDone, FilesPlanned, MediaEncoded
from indexer.pipeline import run_index
from indexer.settings import IndexSettings
from pe_search.errors import api_spelling
from pe_search.models.choice import DEFAULT_MODEL, choose_models
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore, ModelMismatchError
from testkit import media


@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> ModelSet:
    return ModelSet.load(checkpoint_dirs["audio_video"], checkpoint_dirs["audio_frame"])


def _settings(models: ModelSet) -> IndexSettings:
    return IndexSettings(
        window=1.0, hop=0.5, frames_per_window=4, frame_preprocessing=models.clip.frame_preprocessing
    )


class Recording:
    """A distributor of its own: runs everything in process and notes the jobs it was given."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def encoded_files(self, jobs, stage):
        self.paths += [job.path for job in jobs]
        yield from InProcess().encoded_files(jobs, stage)


def test_a_distributor_plugs_in_and_the_events_tell_the_run(tmp_path, models):
    folder = make_folder(tmp_path / "media")  # four good files and a broken one
    with LibraryStore.open(tmp_path / "reference", models.identity()) as store:
        run_index([folder], store, models, _settings(models), workers=0, progress=False)
    recording, events = Recording(), []
    with LibraryStore.open(tmp_path / "lib", models.identity()) as store:
        summary = run_index(
            [folder], store, models, _settings(models), distributor=recording, progress=events.append
        )
    assert sorted(p.rsplit("/", 1)[-1] for p in recording.paths) == sorted(
        ["tone440.wav", "tone880.flac", "square.mp4", "colours.webm", "broken.mp4"]
    )
    assert summary.files_indexed == 4 and len(summary.failed) == 1
    assert_same_library(snapshot(tmp_path / "reference"), snapshot(tmp_path / "lib"))
    planned = [e for e in events if isinstance(e, FilesPlanned)]
    assert planned == [FilesPlanned(to_encode=5, unchanged=0, moved=0, removed=0)]
    done = [e for e in events if isinstance(e, FileDone)]
    assert len(done) == 5 and [e.path.rsplit("/", 1)[-1] for e in done if e.reason] == ["broken.mp4"]
    encoded = [e for e in events if isinstance(e, MediaEncoded)]
    assert encoded and encoded[-1].media_seconds == pytest.approx(summary.media_seconds)
    # every file's length, once: 2.0 + 1.6 s of audio, 1.8 s of video with sound, 1.5 s of silent video
    assert summary.media_seconds == pytest.approx(2.0 + 1.6 + 1.8 + 1.5, abs=0.15)


def test_the_model_rule():
    # A new library: what was asked for, the toy pair, else the front door's defaults.
    assert choose_models(None, None, (), default_frame_model="frames").model == DEFAULT_MODEL
    assert choose_models("m", None, (), default_frame_model="frames").frame_model == "frames"
    assert choose_models("toy", None, (), default_frame_model="frames").frame_model == "toy-frame"
    assert choose_models("m", None, ()).frame_model is None
    # A built library: its own models unless others are asked for; frames off means none.
    assert choose_models(None, None, ("a", "b")) == choose_models("a", "b", ())
    assert choose_models("c", None, ("a", "b")).frame_model == "b"
    assert choose_models(None, None, ("a",), default_frame_model="frames").frame_model is None
    assert choose_models(None, "x", ("a", "b"), frames=False).frame_model is None


def test_each_front_door_words_the_same_error():
    error = ModelMismatchError("/lib", "weights differ")
    assert "pass --rebuild" in str(error)
    api = error.worded(api_spelling)
    assert "pass rebuild=True" in api and "--" not in api
    assert (error.value, error.fix is not None) == ("weights differ", True)


def test_a_query_request_goes_through_one_entry_point(tmp_path, models):
    from pe_search import Library
    from pe_search.query.request import QueryRequest

    folder = tmp_path / "media"
    folder.mkdir()
    media.write_audio(folder / "tone.wav", media.tone(440, 2.0, 48_000), 48_000)
    library = Library.open(
        tmp_path / "lib", model=models.clip.identity.source, frame_model=models.frames.identity.source
    )
    try:
        library.index([folder], workers=0, progress=False, window=1.0)
        engine = library.queries.engine
        hits = library.queries.run(QueryRequest("a tone", target="audio", k=2))
        assert hits == library.search("a tone", target="audio", k=2)
        assert library.queries.engine is engine  # kept, not rebuilt per query
    finally:
        library.close()
