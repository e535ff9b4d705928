"""Every front door gives a spoken-phrase hit its matched words with their times (issue 26, item 3):
`Library.search` (a dataclass field), `pe-search search` (human and `--json`), `POST /api/search`
and MCP's `search` tool.

The library is a copy of the demo's (indexed with the toy models); one of its files is given a
transcript of speech the toy speech generator made, so the words' times are the generator's own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pe_search.api import Library
from pe_search.store import LibraryStore, SpokenWord, TranscriptPhrase, TranscriptRecord
from pe_search.toy import speech

SAID = [(1.0, "the red bell is ringing"), (5.0, "a green dog with a ball")]
QUERY = '"red bell"'


@pytest.fixture(scope="module")
def spoken_library(demo, tmp_path_factory):
    """(library directory, the file given the transcript, its two matched words)."""
    directory = tmp_path_factory.mktemp("spoken") / "library"
    shutil.copytree(demo.library, directory)
    said = [SpokenWord(w.text, w.start, w.end) for w in speech.spoken(SAID).words]
    record = TranscriptRecord(
        "toy",
        "digest",
        "en",
        True,
        None,
        (TranscriptPhrase(tuple(said[:5])), TranscriptPhrase(tuple(said[5:]))),
    )
    with Library.open(directory) as library:
        _, files = library.files(min_duration=said[-1].end, limit=1)
    (media,) = files
    with LibraryStore.open(directory) as store, store.write() as tx:
        tx.set_transcript(media.id, record)
    return directory, media.path, (said[1], said[2])


def _as_dicts(words) -> list[dict]:
    return [{"text": w.text, "start": w.start, "end": w.end} for w in words]


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:05.2f}"


def test_library_search_returns_the_words(spoken_library):
    directory, path, (red, bell) = spoken_library
    with Library.open(directory) as library:
        (hit,) = [h for h in library.search(QUERY, mode="text", k=5) if h.path == path]
        assert (hit.words, hit.start, hit.end, hit.level) == ((red, bell), red.start, bell.end, "transcript")
        hybrid = [h for h in library.search(QUERY, k=10) if h.path == path]
    assert hybrid and hybrid[0].words == (red, bell)


def test_cli_search_shows_the_words_with_their_times(spoken_library):
    from pe_search.cli.main import cli

    directory, path, (red, bell) = spoken_library
    runner = CliRunner()
    shown = runner.invoke(cli, ["search", QUERY, "--mode", "text", "--library", str(directory)])
    assert shown.exit_code == 0, shown.output
    said = f"said: red {_clock(red.start)}-{_clock(red.end)}, bell {_clock(bell.start)}-{_clock(bell.end)}"
    assert said in shown.output
    as_json = runner.invoke(cli, ["search", QUERY, "--mode", "text", "--json", "--library", str(directory)])
    assert as_json.exit_code == 0, as_json.output
    (hit,) = [h for h in json.loads(as_json.output) if h["path"] == path]
    assert hit["words"] == _as_dicts((red, bell))
    assert (hit["start"], hit["end"], hit["level"]) == (red.start, bell.end, "transcript")


def test_http_search_carries_the_words(spoken_library):
    from pe_search.server import ServerConfig, create_app

    directory, path, (red, bell) = spoken_library
    app = create_app(ServerConfig(library=Path(directory)))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        body = client.post("/api/search", json={"q": QUERY, "mode": "text", "k": 5}).json()
        schema = client.get("/openapi.json").json()
    (hit,) = [h for h in body["hits"] if h["path"] == path]
    assert hit["words"] == _as_dicts((red, bell)) and hit["start"] == red.start
    assert "words" in schema["components"]["schemas"]["HitOut"]["properties"]


def test_mcp_search_tool_passes_the_words(spoken_library):
    from pe_search.mcp import LibraryTools, MediaUrls
    from pe_search.mcp.arguments import SearchArguments

    directory, path, (red, bell) = spoken_library
    with Library.open(directory) as library:
        tools = LibraryTools(library, MediaUrls(None), allow_paths=False)
        found = tools.search(SearchArguments(q=QUERY, mode="text", k=5))  # the JSON the tool answers
    (hit,) = [h for h in found["hits"] if h["path"] == path]
    assert hit["words"] == _as_dicts((red, bell)) and hit["end"] == bell.end
