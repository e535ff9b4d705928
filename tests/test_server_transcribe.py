"""Transcription options through the server (issue 26): `POST /api/index` takes `transcribe`,
`language` and `rebuild_transcripts` as `pe-search index` takes its flags, refuses the same
mistakes in one line before a run starts (nothing indexed, no run), and a later request without
them keeps the library's recorded model. `pe-search serve --transcribe MODEL [--language CODE]`
gives every run the server starts those options (the page's Index button sends none), unless a
request names its own, and refuses a mistake in them in one line before it serves.

Only the plumbing is asserted: the shipped toy checkpoint (`whisper-toy`) transcribes,
and what is stored is transformers' own pipeline run on the pieces that reached the model, shifted to
where each piece starts; how right its words are is not the point here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from served_indexing import WAIT, build_library, no_compile_step, read_events, serving
from speech_fixtures import pipeline_words, tiny_whisper

from pe_search.cli.main import cli
from pe_search.media.speech_audio import speech_sound
from pe_search.models.shipped import TOY_DIR
from pe_search.models.speech import SpeechModel
from pe_search.toy.speech import write_spoken

TOY_WHISPER = TOY_DIR / "whisper-toy"  # the shipped toy speech checkpoint
NOT_SPEECH = TOY_DIR / "pe-av-toy"  # a PE checkpoint: not a speech model


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
    """Every piece that reaches the speech model: (checkpoint directory, start, end) in the file's time."""
    pieces: list[tuple[str, float, float]] = []
    real = SpeechModel.transcribe

    def spy(self, given, language=None):
        pieces.extend((str(self.directory), piece.start, piece.end) for piece in given)
        return real(self, given, language)

    monkeypatch.setattr(SpeechModel, "transcribe", spy)
    return pieces


def run_to_the_end(client: httpx.Client, request: dict) -> dict:
    """POST /api/index with `request`, follow its events to the end; the last state."""
    started = client.post("/api/index", json=request)
    assert started.status_code == 202, started.text
    with client.stream("GET", "/api/index/events") as response:
        events = read_events(response)
    assert events[-1]["event"] == "done", events[-1]
    return events[-1]["data"]


def transcript_of(client: httpx.Client, path: Path) -> dict:
    files = client.get("/api/files", params={"limit": 100}).json()["files"]
    (file_id,) = [f["id"] for f in files if f["path"] == str(path)]
    answer = client.get(f"/api/files/{file_id}/transcript")
    assert answer.status_code == 200
    return answer.json()["transcript"]


def expected_words(path: Path, pieces: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """transformers' pipeline on each piece sent, shifted by the piece's start (a time past the
    piece held at its end, as docs/transcripts.md says)."""
    audio = speech_sound(path)
    words = []
    for directory, start, end in pieces:
        piece = audio[round(start * 16_000) : round(end * 16_000)]
        words += [
            (text, min(start + s, end), min(start + e, end))
            for text, s, e in pipeline_words(Path(directory), piece, "en")
        ]
    return words


def words_of(transcript: dict) -> list[tuple[str, float, float]]:
    return [(w["text"], w["start"], w["end"]) for p in transcript["phrases"] for w in p["words"]]


def assert_same_words(stored: list, expected: list) -> None:
    assert expected, "the toy model says something on this file"
    assert [t for t, _, _ in stored] == [t for t, _, _ in expected]
    # the route rounds times to 4 decimals
    assert [x for _, s, e in stored for x in (s, e)] == pytest.approx(
        [x for _, s, e in expected for x in (s, e)], abs=1e-4
    )


def test_post_index_transcribes_and_a_later_run_keeps_the_recorded_model(library, incoming, sent):
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        state = run_to_the_end(client, {"transcribe": str(TOY_WHISPER), "language": "en"})
        assert state["summary"]["transcribed"] == 1
        transcript = transcript_of(client, incoming / "talk.wav")
        assert (transcript["model"], transcript["language"], transcript["complete"]) == (
            str(TOY_WHISPER),
            "en",
            True,
        )
        assert_same_words(words_of(transcript), expected_words(incoming / "talk.wav", sent))
        assert client.get("/api/status").json()["transcription_model"] == str(TOY_WHISPER)

        # a new file, and a request without the options: the library's recorded model hears it
        first = len(sent)
        write_spoken(incoming / "later.wav", [(0.5, "the green bell")], seconds=3.0)
        state = run_to_the_end(client, {})
        assert (state["summary"]["files_indexed"], state["summary"]["transcribed"]) == (1, 1)
        later = transcript_of(client, incoming / "later.wav")
        assert later["model"] == str(TOY_WHISPER)
        assert {directory for directory, _, _ in sent[first:]} == {str(TOY_WHISPER)}
        assert_same_words(words_of(later), expected_words(incoming / "later.wav", sent[first:]))


def refused(client: httpx.Client, request: dict) -> str:
    answer = client.post("/api/index", json=request)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["status"] == 400 and "\n" not in body["error"]
    return body["error"]


def test_mistakes_are_refused_in_one_line_before_a_run(library, incoming, tmp_path):
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        before = client.get("/api/files").json()["total"]
        message = refused(client, {"transcribe": str(NOT_SPEECH)})
        assert message == (
            f"{NOT_SPEECH} is not a speech model (model_type 'pe_audio_video'): give transcribe a "
            "Whisper-family checkpoint (model_type 'whisper'), such as openai/whisper-small"
        )
        message = refused(client, {"transcribe": str(TOY_WHISPER), "language": "xx"})
        assert message == (
            f"{TOY_WHISPER} does not know the language 'xx': give language one of the codes it knows: en "
            "(or leave it out to detect it)"
        )
        message = refused(client, {"language": "en"})  # no model given, none recorded
        assert message.startswith("language and rebuild_transcripts=True need a transcription model")
        assert message.endswith(": add transcribe")
        message = refused(client, {"transcribe": str(tmp_path / "nowhere")})
        assert message.startswith(f"no speech checkpoint at '{tmp_path / 'nowhere'}'")
        # nothing ran, nothing was indexed, no model recorded
        assert client.get("/api/index").json()["state"] is None
        assert client.get("/api/files").json()["total"] == before
        assert client.get("/api/status").json()["transcription_model"] is None
        for wrong in ({"transcribe": ""}, {"language": ""}, {"rebuild_transcripts": "often"}):
            assert client.post("/api/index", json=wrong).status_code == 422, wrong


def test_another_model_is_refused_unless_the_transcripts_are_rebuilt(library, incoming, tmp_path, sent):
    other = tiny_whisper(tmp_path / "other")
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        run_to_the_end(client, {"transcribe": str(TOY_WHISPER), "language": "en"})
        runs = client.get("/api/index").json()["state"]["run"]
        message = refused(client, {"transcribe": str(other)})
        assert message == (
            f"this library's speech was transcribed with {TOY_WHISPER}, not {other}: leave transcribe={other} out "
            "to use the library's, or add rebuild_transcripts=True to transcribe every file again "
            "with the new one"
        )
        assert client.get("/api/index").json()["state"]["run"] == runs  # no run started
        first = len(sent)
        state = run_to_the_end(client, {"transcribe": str(other), "rebuild_transcripts": True})
        assert (state["summary"]["files_indexed"], state["summary"]["transcribed"]) == (0, 1)
        assert transcript_of(client, incoming / "talk.wav")["model"] == str(other)
        assert {directory for directory, _, _ in sent[first:]} == {str(other)}
        assert client.get("/api/status").json()["transcription_model"] == str(other)


# `pe-search serve --transcribe MODEL [--language CODE]`: the speech model of every run the server
# starts (the page's Index button sends no options; a watching server starts its runs itself),
# unless a request names its own; a mistake in them said in one line before the server starts.


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
