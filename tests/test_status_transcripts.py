"""`pe-search status` (and `--json`, `GET /api/status`, MCP's `status` tool) says which model the
library's speech is transcribed with and how many files have a transcript, complete or not
(issue 26). The library: three toy-indexed tones given transcripts by hand (tx.set_transcript),
one complete, one partial, one failed, so the counts are known: 3 files, 1 complete."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from spoken_library import TALK, build

from pe_search.api import Library
from pe_search.cli.main import cli
from pe_search.mcp.results import MediaUrls
from pe_search.mcp.tools import LibraryTools
from pe_search.server import ServerConfig, create_app
from pe_search.store import LibraryStore, TranscriptRecord

FAILED = TranscriptRecord(
    "toy", "a" * 64, "en", False, "transcription failed: RuntimeError: out of memory", ()
)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder, library = build(tmp_path_factory.mktemp("status"))  # talk.wav complete, cut.wav partial
    with LibraryStore.open(library, create=False) as store:
        store.record_transcription_model("toy", TALK.weights_digest)
        with store.write() as tx:
            tx.set_transcript(store.find_media(str(folder / "tone.wav")).id, FAILED)
    return library


def _status(*args: str):
    result = CliRunner().invoke(cli, ["status", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_counts_the_transcribed_files(library):
    report = json.loads(_status("--library", str(library), "--json"))
    assert report["transcription_model"] == "toy"
    assert (report["transcribed_files"], report["transcripts_complete"]) == (3, 1)
    assert len(report["transcripts_incomplete"]) == 2


def test_the_human_report_says_the_model_and_the_counts(library):
    lines = _status("--library", str(library)).splitlines()
    assert "  speech transcribed with toy: 3 files, 1 complete, 2 partial or failed" in lines


def test_the_server_and_mcp_give_the_same_counts(library):
    with TestClient(create_app(ServerConfig(library=library)), base_url="http://127.0.0.1") as client:
        served = client.get("/api/status").json()
    assert (served["transcribed_files"], served["transcripts_complete"]) == (3, 1)
    with Library.open(library) as opened:
        tools = LibraryTools(opened, MediaUrls(None), allow_paths=False)
        report = tools.status(None)
    assert (report["transcribed_files"], report["transcripts_complete"]) == (3, 1)


def test_a_library_without_transcripts_says_nothing_of_speech(tmp_path):
    _, library = build(tmp_path)
    with LibraryStore.open(library, create=False) as store, store.write() as tx:
        for media in store.list_media(limit=10)[1]:
            tx.clear_transcript(media.id)
    report = json.loads(_status("--library", str(library), "--json"))
    assert (report["transcription_model"], report["transcribed_files"], report["transcripts_complete"]) == (
        None,
        0,
        0,
    )
    assert not [line for line in _status("--library", str(library)).splitlines() if "speech" in line]
