"""Shared fixtures: tiny random PE checkpoints written once per session in the hub layout."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The suite holds every embedding to forward() at 1e-4, so the opt-in reduced-precision speed
# path (the vision model under bf16) stays off even where a developer's environment turns it on;
# tests/test_fast_paths.py turns it on explicitly.
os.environ["PE_SEARCH_FAST_BF16"] = "0"
# An index run exports the text query graphs (seconds of CPU per new checkpoint, in every
# process that indexes): off by default, on where a test checks them (test_text_queries.py).
os.environ["PE_SEARCH_TEXT_GRAPH"] = "0"
# Compiled kernels of test runs stay under the temp dir, not in the user's ~/.cache.
os.environ.setdefault(
    "TORCHINDUCTOR_CACHE_DIR", os.path.join(tempfile.gettempdir(), "pe-search-test-inductor")
)

from pe_search.toy.tiny import KINDS, write_tiny_checkpoint


@pytest.fixture(scope="session")
def checkpoint_dirs(tmp_path_factory) -> dict:
    """{kind: directory} for every checkpoint kind (audio_video, audio, video, audio_frame)."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {kind: write_tiny_checkpoint(root / kind, kind, seed=index) for index, kind in enumerate(KINDS)}


@pytest.fixture(scope="session")
def encoders(checkpoint_dirs) -> dict:
    from pe_search.models.encoder import PeEncoder

    return {kind: PeEncoder.from_pretrained(path) for kind, path in checkpoint_dirs.items()}


@pytest.fixture(autouse=True)
def _isolated_hub_cache(tmp_path, monkeypatch):
    """Tests never touch the user's Hugging Face cache or the network."""
    import huggingface_hub.constants as hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`pe-search demo`'s run, once per session: held-out media indexed with the toy models, in
    `<tmp>/pe-search-demo` (the README's examples run against it)."""
    from pe_search.toy.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo-root") / "pe-search-demo", workers=0)


@pytest.fixture(scope="module")
def site(demo):
    """A live server on the demo library, one per browser test module."""
    from pe_search.server import ServerConfig, create_app
    from testkit.server_live import live_server

    with live_server(create_app(ServerConfig(library=Path(demo.library)), warm_up=True)) as url:
        yield url


@pytest.fixture(scope="module")
def downloads():
    """The folder a test's browser saves its downloads into."""
    folder = Path(tempfile.mkdtemp(prefix="pe-search-downloads-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
