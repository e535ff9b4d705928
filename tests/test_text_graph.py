"""A text query's side as ONNX graphs run by onnxruntime (issue 24, item 5): the vectors of the
torch text side (and so of the whole encoder), the token ids of transformers' AutoTokenizer, and
a CLI text search that imports none of torch, transformers, timm or torchvision yet gives the
hits of the torch path. A graph is used only for the library's own models."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from test_store_support import write_timecoded_library

from pe_search import Library
from pe_search.models import loading
from pe_search.models.text_encoder import TextModels
from pe_search.models.text_graph import MANIFEST, GraphTextModels, load_text_graph, models_dir
from pe_search.models.text_graph_export import write_text_graph

# Observed: at most 6e-7 apart (float32 kernels of onnxruntime and torch summed in other orders).
TOLERANCE = 1e-5

TEXTS = [
    "a high beep",
    "",
    "   ",
    "A Low HUM, and then... silence!",
    "héllo wörld — 日本語のテキスト 🎵 naïve café",
    "tab\tand\nnewline",
    "beep " * 700,  # over the 512-token limit: truncated
    "x" * 3000,
]


def _models(source: dict, name: str) -> TextModels:
    model, frame_model = source[name]
    return TextModels.load(model, frame_model)


@pytest.fixture(scope="session")
def sources(checkpoint_dirs) -> dict:
    """The toy pair and the tiny transformers PE-AV + PE-A-Frame pair, as a library names them."""
    return {
        "toy": ("toy", "toy-frame"),
        "tiny": (str(checkpoint_dirs["audio_video"]), str(checkpoint_dirs["audio_frame"])),
    }


@pytest.fixture(scope="session")
def graphs(sources, tmp_path_factory) -> dict:
    """{name: (torch text side, graphs read back)}: each pair exported once per session."""
    made = {}
    for name in sources:
        text = _models(sources, name)
        folder = tmp_path_factory.mktemp(f"graph-{name}")
        write_text_graph(folder, text.encoders, text.identity())
        made[name] = (text, load_text_graph(folder, text.identity()))
    return made


@pytest.mark.parametrize("name", ["toy", "tiny"])
def test_the_graphs_embed_as_the_torch_text_side(graphs, encoders, name):
    text, graph = graphs[name]
    assert isinstance(graph, GraphTextModels)
    assert graph.embeddings == text.embeddings  # every text space of both checkpoints
    assert set(graph.embeddings) >= {"text_audio", "text_video", "text_audio_video", "text_audio_frame"}
    for embedding in graph.embeddings:
        for query in TEXTS:
            expected = text.embed_query(embedding, text=query)
            got = graph.embed_query(embedding, text=query)
            assert got.dtype == np.float32 and got.shape == expected.shape
            assert np.abs(got - expected).max() <= TOLERANCE * max(1.0, np.abs(expected).max()), (
                embedding,
                query[:20],
            )
    if name == "tiny":  # and the whole encoder, through transformers' PE classes
        for kind in ("audio_video", "audio_frame"):
            whole = encoders[kind]
            for embedding in (e for e in whole.embeddings if e.startswith("text_")):
                reference = whole.embed_text(TEXTS, [embedding])[embedding]
                got = np.stack([graph.embed_query(embedding, text=q) for q in TEXTS])
                assert np.abs(got - reference).max() <= TOLERANCE * max(1.0, np.abs(reference).max())


@pytest.mark.parametrize("name", ["toy", "tiny"])
def test_the_token_ids_are_autotokenizers(graphs, name):
    text, graph = graphs[name]
    for encoder, torch_side in zip(graph.encoders, text.encoders):
        reference = loading.load_tokenizer(torch_side.identity.directory)
        for query in TEXTS:
            expected = reference(query, truncation=True, max_length=512)["input_ids"]
            assert encoder.token_ids(query) == expected, query[:20]
        assert len(encoder.token_ids(TEXTS[-2])) == 512  # the long text was cut, specials kept


def test_a_graph_is_read_only_for_its_own_models(graphs, tmp_path):
    toy, _ = graphs["toy"]
    tiny, _ = graphs["tiny"]
    write_text_graph(tmp_path, toy.encoders, toy.identity())
    assert load_text_graph(tmp_path, toy.identity()) is not None
    assert load_text_graph(tmp_path, tiny.identity()) is None  # another model's library
    assert load_text_graph(tmp_path, None) is None  # a library with no models recorded
    write_text_graph(tmp_path, tiny.encoders, tiny.identity())  # the models changed (a rebuild)
    assert load_text_graph(tmp_path, toy.identity()) is None
    assert load_text_graph(tmp_path, tiny.identity()) is not None
    assert [p.name for p in models_dir(tmp_path).glob("text-query-*")] == [
        json.loads((models_dir(tmp_path) / MANIFEST).read_text())["directory"]
    ]  # the earlier models' graphs are gone
    folder = models_dir(tmp_path)
    mode = folder.stat().st_mode & 0o777  # made under the umask: what the graphs are made with
    assert (folder / MANIFEST).stat().st_mode & 0o777 == mode & 0o666
    assert all(p.stat().st_mode & 0o777 == mode for p in folder.glob("text-query-*"))


# What a text query must not import when the library has its graphs.
HEAVY = ("torch", "transformers", "timm", "torchvision")


def _cli_search(library, text: str) -> tuple[list[dict], list[str]]:
    code = (
        "import sys\n"
        "from pe_search.cli.main import cli\n"
        f"try:\n    cli(['search', {text!r}, '--library', {str(library)!r}, '--target', 'audio', "
        "'--mode', 'vector', '-k', '12', '--json'])\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout), json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))


def _same_hits(got: list[dict], expected: list[dict]) -> bool:
    """The same hits in the same order; scores and probabilities within the tolerance. A hit's
    best moment may sit at another frame whose score ties within the tolerance (a still picture's
    frames score within float noise of each other): its score is compared, not its times."""

    def close(a, b) -> bool:
        if isinstance(a, dict) and isinstance(b, dict):
            tied = {"start", "end"} if {"score", "probability"} <= a.keys() and "path" not in a else set()
            return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a if k not in tied)
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            return len(a) == len(b) and all(map(close, a, b))
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
        return a == b

    return close(got, expected)


@pytest.fixture(scope="module")
def toy_library(graphs, tmp_path_factory):
    from pe_search.models.model_set import ModelSet

    library = tmp_path_factory.mktemp("toy-graph") / "library"
    write_timecoded_library(library, ModelSet.load("toy", "toy-frame").identity())
    with Library.open(library) as opened:
        manifest = opened.write_text_graph()
    assert manifest == models_dir(library) / MANIFEST
    return library


def test_graphs_are_not_written_while_another_process_writes_the_library(toy_library):
    """An index run holds the writer lock while it writes the graphs; `write_text_graph` waits
    its turn the same way (a one-line refusal), and the graphs there stay as they were."""
    from pe_search.store import LibraryBusyError, LibraryLayout, WriterLock

    manifest = models_dir(toy_library) / MANIFEST
    recorded = manifest.read_bytes()
    with (
        WriterLock(LibraryLayout(toy_library).lock),
        Library.open(toy_library) as opened,
        pytest.raises(LibraryBusyError) as refused,
    ):
        opened.write_text_graph()
    assert "being written by another process" in str(refused.value) and "\n" not in str(refused.value)
    assert manifest.read_bytes() == recorded


def test_a_cli_text_search_with_graphs_imports_no_torch(toy_library):
    with Library.open(toy_library) as whole:  # the torch path: the whole toy models
        expected = [h.to_dict() for h in whole.search("a high beep", target="audio", mode="vector", k=12)]
    got, imported = _cli_search(toy_library, "a high beep")
    assert imported == []
    assert len(got) == 3 and _same_hits(got, json.loads(json.dumps(expected)))


def test_without_graphs_or_with_another_models_the_torch_side_answers(toy_library, graphs):
    with Library.open(toy_library, lean_queries=True) as lean:
        expected = [h.to_dict() for h in lean.search("a low hum", target="audio", mode="vector", k=12)]
        assert isinstance(lean.text_models, GraphTextModels)
    manifest = models_dir(toy_library) / MANIFEST
    recorded = manifest.read_text()
    try:
        manifest.unlink()  # a library made before the graphs
        with Library.open(toy_library, lean_queries=True) as lean:
            got = [h.to_dict() for h in lean.search("a low hum", target="audio", mode="vector", k=12)]
            assert isinstance(lean.text_models, TextModels)
        assert _same_hits(got, expected)
        other = json.loads(recorded)
        other["identity"]["weights_hash"] = "0" * 64  # graphs of other weights in its place
        manifest.write_text(json.dumps(other))
        with Library.open(toy_library, lean_queries=True) as lean:
            got = [h.to_dict() for h in lean.search("a low hum", target="audio", mode="vector", k=12)]
            assert isinstance(lean.text_models, TextModels)
        assert _same_hits(got, expected)
        _, imported = _cli_search(toy_library, "a low hum")
        assert "torch" in imported and "transformers" in imported  # the torch text side answered
    finally:
        manifest.write_text(recorded)


def test_a_process_keeps_small_graphs_only(monkeypatch):
    """One export per checkpoint per process, unless the graph is large (a released checkpoint's
    text tower): an indexing server must not hold it for good."""
    from types import SimpleNamespace

    from pe_search.models import text_graph_export

    exports = []
    monkeypatch.setattr(text_graph_export, "_export", lambda encoder: exports.append(1) or b"g" * 10)
    encoder = SimpleNamespace(
        kind="pe_audio", identity=SimpleNamespace(config_sha256="c", weights_sha256="w")
    )
    for keep, expected in ((10, 1), (9, 2)):
        exports.clear()
        monkeypatch.setattr(text_graph_export, "_EXPORTED", {})
        monkeypatch.setattr(text_graph_export, "KEEP_EXPORTED_BYTES", keep)
        assert text_graph_export.graph_bytes(encoder) == text_graph_export.graph_bytes(encoder) == b"g" * 10
        assert len(exports) == expected
