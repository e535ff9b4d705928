"""`pe-search serve --transcribe MODEL [--language CODE]`: the speech model of every run the
server starts (the page's Index button, which sends no options, and a watching server's runs),
unless a request names its own; a mistake in them is said in one line before the server starts.

The words stored are checked against transformers' own pipeline run on the pieces that reached
the model (test_server_transcribe's yardstick)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from served_indexing import WAIT, build_library, no_compile_step, serving
from test_server_transcribe import (
    NOT_SPEECH,
    TOY_WHISPER,
    assert_same_words,
    expected_words,
    run_to_the_end,
    transcript_of,
    words_of,
)

from pe_search.cli.main import cli
from pe_search.models.speech import SpeechModel
from pe_search.toy.speech import write_spoken


@pytest.fixture(scope="module", autouse=True)
def _no_compile_step():
    with no_compile_step():
        yield


@pytest.fixture(scope="module")
def base_library(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("base"))


@pytest.fixture
def library(base_library, tmp_path) -> Path:
    return Path(shutil.copytree(base_library, tmp_path / "library"))


@pytest.fixture
def incoming(tmp_path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    write_spoken(folder / "talk.wav", [(0.4, "a red circle"), (3.0, "the blue square")], seconds=5.0)
    return folder


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, float, float]]:
    pieces: list[tuple[str, float, float]] = []
    real = SpeechModel.transcribe

    def spy(self, given, language=None):
        pieces.extend((str(self.directory), piece.start, piece.end) for piece in given)
        return real(self, given, language)

    monkeypatch.setattr(SpeechModel, "transcribe", spy)
    return pieces


def test_a_run_the_page_starts_transcribes_with_the_servers_model(library, incoming, sent):
    settings = {"transcribe": str(TOY_WHISPER), "language": "en"}
    with (
        serving(library, (incoming,), **settings) as site,
        httpx.Client(base_url=site, timeout=WAIT) as client,
    ):
        assert client.get("/api/index").json()["transcribe"] == str(TOY_WHISPER)  # the page shows it
        assert client.get("/api/status").json()["transcription_model"] is None  # nothing recorded yet
        state = run_to_the_end(client, {})  # what the page's Index button sends
        assert state["summary"]["transcribed"] == 1
        transcript = transcript_of(client, incoming / "talk.wav")
        assert (transcript["model"], transcript["language"]) == (str(TOY_WHISPER), "en")
        assert {directory for directory, _, _ in sent} == {str(TOY_WHISPER)}
        assert_same_words(words_of(transcript), expected_words(incoming / "talk.wav", sent))


def test_a_server_without_the_option_transcribes_nothing_new(library, incoming, sent):
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        assert client.get("/api/index").json()["transcribe"] is None
        state = run_to_the_end(client, {})
        assert (state["summary"]["files_indexed"], state["summary"]["transcribed"]) == (1, 0)
        assert sent == []


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--allow-index", "{incoming}", "--transcribe", str(NOT_SPEECH)],
            f"{NOT_SPEECH} is not a speech model",
        ),
        (
            ["--allow-index", "{incoming}", "--transcribe", str(TOY_WHISPER), "--language", "xx"],
            f"{TOY_WHISPER} does not know the language 'xx'",
        ),
        (
            ["--transcribe", str(TOY_WHISPER)],
            "--transcribe and --language apply to the runs this server starts",
        ),
    ],
)
def test_serve_refuses_transcription_it_cannot_use_in_one_line(library, incoming, options, message):
    options = [option.format(incoming=incoming) for option in options]
    result = CliRunner().invoke(cli, ["serve", "--library", str(library), *options, "--json"])
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert message in error and "\n" not in error
    assert "Traceback" not in result.output
