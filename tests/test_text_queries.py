"""A text query embeds with the models' text side alone (issue 24, item 5): the same vectors and
the same hits as the whole models give, and a library still refuses another model's weights."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from test_text_graph import _same_hits

from pe_search import Library
from pe_search.models.text_encoder import TextModels
from pe_search.models.text_graph import MANIFEST, GraphTextModels, Manifest, models_dir
from pe_search.store import ModelMismatchError
from pe_search.toy.media_writer import write_audio, write_video
from pe_search.toy.tiny import write_tiny_checkpoint
from testkit import media

TEXTS = ["a high beep", "a low hum and then silence", "beep", ""]


@pytest.mark.parametrize(
    ("kind", "frames"), [("audio_video", "audio_frame"), ("audio", None), ("video", None)]
)
def test_the_text_side_alone_embeds_as_the_whole_encoder(checkpoint_dirs, encoders, kind, frames):
    """The reference is the whole checkpoint loaded through transformers' PE class."""
    text = TextModels.load(checkpoint_dirs[kind], frames and checkpoint_dirs[frames])
    whole = [encoders[kind], *([encoders[frames]] if frames else [])]
    expected = [e for encoder in whole for e in encoder.embeddings if e.startswith("text_")]
    assert list(text.embeddings) == expected
    for encoder in whole:
        for embedding in (e for e in encoder.embeddings if e.startswith("text_")):
            reference = encoder.embed_text(TEXTS, [embedding])[embedding]
            for row, query in enumerate(TEXTS):
                got = text.embed_query(embedding, text=query)
                assert got.shape == (encoder.dim,)
                assert np.abs(got - reference[row]).max() <= 1e-6, (embedding, query)
    identities = [e.identity for e in text.encoders]
    assert [(i.kind, i.config_sha256, i.weights_sha256, i.dim) for i in identities] == [
        (e.identity.kind, e.identity.config_sha256, e.identity.weights_sha256, e.dim) for e in whole
    ]


@pytest.fixture(scope="module")
def library(tmp_path_factory, checkpoint_dirs):
    """Two tones and a video with sound, indexed with the tiny PE-AV and PE-A-Frame."""
    root = tmp_path_factory.mktemp("text-queries")
    folder = root / "media"
    folder.mkdir()
    for number, freq in enumerate((440.0, 1760.0)):
        write_audio(folder / f"tone{number}.wav", media.tone(freq, 3.0, 48_000), 48_000)
    frames = [(media.solid_frame(i // 10), i / 10) for i in range(30)]
    write_video(folder / "clip.mp4", frames, audio=media.tone(660.0, 3.0, 48_000))
    library_dir = root / "library"
    with (
        pytest.MonkeyPatch.context() as patch,
        Library.open(
            library_dir,
            model=checkpoint_dirs["audio_video"],
            frame_model=checkpoint_dirs["audio_frame"],
            fast=False,
        ) as opened,
    ):
        patch.setenv("PE_SEARCH_TEXT_GRAPH", "1")  # the index run writes the text graphs (conftest: off)
        assert opened.index([folder], workers=0, progress=False, window=1.0).files_indexed == 3
    return library_dir


@contextlib.contextmanager
def without_graphs(library):
    """The library as one made before the text graphs (its manifest moved aside)."""
    manifest = models_dir(library) / MANIFEST
    aside = manifest.with_name("aside.json")
    manifest.rename(aside)
    try:
        yield
    finally:
        aside.rename(manifest)


def test_indexing_writes_the_text_graphs_of_the_librarys_models(library):
    with Library.open(library) as opened:
        assert Manifest.read(library).matches(opened.store.identity)
        assert [e.kind for e in Manifest.read(library).entries] == ["audio_video", "audio_frame"]


@pytest.mark.parametrize("graphs", [False, True])
@pytest.mark.parametrize("mode", ["vector", "hybrid"])
@pytest.mark.parametrize("target", [None, "audio", "video", "audio_video"])
def test_a_lean_text_search_gives_the_whole_models_hits(library, mode, target, graphs):
    with contextlib.ExitStack() as stack:
        if not graphs:
            stack.enter_context(without_graphs(library))
        whole = stack.enter_context(Library.open(library))
        lean = stack.enter_context(Library.open(library, lean_queries=True))
        for text in TEXTS[:3]:
            expected = [h.to_dict() for h in whole.search(text, target=target, mode=mode, k=20, min_prob=0.0)]
            got = [h.to_dict() for h in lean.search(text, target=target, mode=mode, k=20, min_prob=0.0)]
            assert expected, (text, target, mode)
            if graphs:  # onnxruntime's float32 sums: within test_text_graph's tolerance
                assert _same_hits(got, expected)
            else:
                assert got == expected
        assert lean._models is None and lean._text_models is not None  # the text side alone
        assert isinstance(lean._text_models, GraphTextModels if graphs else TextModels)


def test_a_query_with_other_weights_is_refused(tmp_path):
    """The library records the model by its directory; the directory's weights are then replaced
    with other ones (same config): a query refuses them, whichever models it loads."""
    model = write_tiny_checkpoint(tmp_path / "model", "audio", seed=3)
    folder = tmp_path / "media"
    folder.mkdir()
    write_audio(folder / "tone.wav", media.tone(440.0, 2.0, 48_000), 48_000)
    library = tmp_path / "library"
    with Library.open(library, model=model, frame_model=None, fast=False) as opened:
        opened.index([folder], workers=0, progress=False, window=1.0)
        opened.write_text_graph()
    for lean in (False, True):
        with Library.open(library, lean_queries=lean) as opened:
            before = opened.search("a beep", target="audio", mode="vector")  # the model that built it
            assert before
    write_tiny_checkpoint(model, "audio", seed=7)  # other weights in its place
    with without_graphs(library):
        for lean in (False, True):
            with (
                Library.open(library, lean_queries=lean) as opened,
                pytest.raises(ModelMismatchError) as refused,
            ):
                opened.search("a beep", target="audio", mode="vector")
            # a query has no rebuild of its own: the fix names the index run that has it
            assert "query it with the model that built it" in str(refused.value)
            assert "index with --rebuild" in str(refused.value)
    # The library's graphs hold the weights that built it: a lean text search still answers with them.
    with Library.open(library, lean_queries=True) as opened:
        got = opened.search("a beep", target="audio", mode="vector")
        assert isinstance(opened.text_models, GraphTextModels)
    assert _same_hits([h.to_dict() for h in got], [h.to_dict() for h in before])
