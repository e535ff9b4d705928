"""A file's transcript through every front door (issue 26): `pe-search transcript FILE` (times per
phrase, `--json` with every word's, `--export .srt/.vtt/.txt`), `Library.transcript`, `GET
/api/files/{id}/transcript`, and exports of transcript hits named by the words they matched.

The library is indexed with the toy models from plain tones; the transcripts are written into it
as the indexer would (`tx.set_transcript`), so every word's time is known here. Expected lines are
written out by hand; the subtitle files are read back with FFmpeg's own SubRip and WebVTT
decoders (PyAV), the timelines with OpenTimelineIO's adapters."""

from __future__ import annotations

import json
from pathlib import Path

import av
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from spoken_library import build
from test_json_schemas import check

from pe_search.api import Library
from pe_search.cli.main import cli
from pe_search.server import ServerConfig, create_app
from testkit import media


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """A library of three tones: talk.wav and cut.wav transcribed (cut.wav in part), tone.wav not."""
    root = tmp_path_factory.mktemp("spoken")
    folder, library = build(root)
    return root, folder, library


def _run(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


# ------------------------------------------------------------------ the command


def test_the_command_prints_each_phrase_with_its_times(spoken):
    _, folder, library = spoken
    lines = _run("transcript", folder / "talk.wav", "--library", library).stdout.splitlines()
    assert lines == [
        f"{folder / 'talk.wav'}: 2 phrases, 7 words (toy, en)",
        "00:00.52-00:01.71  we need more time",
        "00:03.00-00:03.90  a dog barks",
    ]


def test_json_gives_every_word_with_its_times(spoken):
    _, folder, library = spoken
    printed = _run("transcript", folder / "talk.wav", "--library", library, "--json").stdout
    check("transcript", printed)  # the committed shape (tests/json_schemas/transcript.json)
    found = json.loads(printed)
    got = found["transcript"]
    assert (found["path"], got["model"], got["language"], got["complete"], got["reason"]) == (
        str(folder / "talk.wav"), "toy", "en", True, None,
    )  # fmt: skip
    assert [p["text"] for p in got["phrases"]] == ["we need more time", "a dog barks"]
    assert [(p["start"], p["end"]) for p in got["phrases"]] == [(0.52, 1.71), (3.0, 3.9)]
    words = [(w["text"], w["start"], w["end"]) for p in got["phrases"] for w in p["words"]]
    assert words == [
        ("we", 0.52, 0.7), ("need", 0.75, 1.0), ("more", 1.05, 1.3), ("time", 1.35, 1.71),
        ("a", 3.0, 3.08), ("dog", 3.1, 3.4), ("barks", 3.45, 3.9),
    ]  # fmt: skip


def test_a_partial_transcript_says_so_with_its_reason(spoken):
    _, folder, library = spoken
    lines = _run("transcript", folder / "cut.wav", "--library", library).stdout.splitlines()
    assert lines[1] == "partial transcript: the audio stream is damaged after 2.0 s"
    assert lines[2] == "00:00.40-00:01.20  rain falls"
    got = json.loads(_run("transcript", folder / "cut.wav", "--library", library, "--json").stdout)
    assert got["transcript"]["complete"] is False
    assert got["transcript"]["reason"] == "the audio stream is damaged after 2.0 s"


def test_a_file_without_a_transcript_or_not_in_the_library_is_one_line(spoken, tmp_path):
    root, folder, library = spoken
    untranscribed = _run("transcript", folder / "tone.wav", "--library", library, code=1)
    assert untranscribed.stdout == ""
    assert (
        untranscribed.stderr
        == f"error: {folder / 'tone.wav'} has no transcript: index it with --transcribe MODEL\n"
    )
    stranger = tmp_path / "stranger.wav"
    media.write_audio(stranger, media.tone(220, 1.0, 48_000), 48_000)
    missing = _run("transcript", stranger, "--library", library, code=1)
    assert missing.stderr.count("\n") == 1 and "is not in the library" in missing.stderr
    as_json = _run("transcript", stranger, "--library", library, "--json", code=1)
    assert "is not in the library" in json.loads(as_json.stdout)["error"]
    with Library.open(library) as opened:
        assert opened.transcript(folder / "tone.wav").record is None
        assert opened.status().media_by_status == {"indexed": 3}  # nothing lost


def _subtitles(path: Path) -> list[tuple[float, float, str]]:
    """The cues of a subtitle file as FFmpeg's decoder reads them: start, end, text."""
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        return [
            (
                round(float(packet.pts * stream.time_base), 3),
                round(float((packet.pts + packet.duration) * stream.time_base), 3),
                bytes(packet).decode().strip(),
            )
            for packet in container.demux(stream)
            if packet.size
        ]


@pytest.mark.parametrize("extension", [".srt", ".vtt"])
def test_export_as_subtitles_is_a_cue_per_phrase(spoken, tmp_path, extension):
    _, folder, library = spoken
    out = tmp_path / f"talk{extension}"
    result = _run("transcript", folder / "talk.wav", "--export", out, "--library", library)
    assert result.stdout.splitlines()[-1] == f"wrote 2 phrases to {out} ({extension[1:]})"
    assert _subtitles(out) == [(0.52, 1.71, "we need more time"), (3.0, 3.9, "a dog barks")]


def test_export_as_text_is_a_line_per_phrase_with_its_times(spoken, tmp_path):
    _, folder, library = spoken
    out = tmp_path / "talk.txt"
    _run("transcript", folder / "talk.wav", "--export", out, "--library", library)
    assert out.read_text() == (
        "[00:00:00.520 - 00:00:01.710] we need more time\n[00:00:03.000 - 00:00:03.900] a dog barks\n"
    )
    again = _run("transcript", folder / "talk.wav", "--export", out, "--library", library, code=1)
    assert "already exists" in again.stderr and "--force" in again.stderr
    _run("transcript", folder / "talk.wav", "--export", out, "--force", "--library", library)
    wrong = _run(
        "transcript", folder / "talk.wav", "--export", tmp_path / "talk.doc", "--library", library, code=1
    )
    assert "transcripts are written as .vtt, .srt or .txt" in wrong.stderr
    assert not (tmp_path / "talk.doc").exists()


# ------------------------------------------------------------------ the HTTP route


def test_the_route_gives_the_transcript_with_every_word(spoken):
    _, folder, library = spoken
    with TestClient(create_app(ServerConfig(library=library)), base_url="http://127.0.0.1") as client:
        with Library.open(library) as opened:
            ids = {
                name: opened.store.find_media(str(folder / name)).id
                for name in ("talk.wav", "cut.wav", "tone.wav")
            }
        talk = client.get(f"/api/files/{ids['talk.wav']}/transcript").json()
        assert talk["duration"] == pytest.approx(5.0, abs=0.05)
        words = [(w["text"], w["start"], w["end"]) for p in talk["transcript"]["phrases"] for w in p["words"]]
        assert words[:4] == [
            ("we", 0.52, 0.7),
            ("need", 0.75, 1.0),
            ("more", 1.05, 1.3),
            ("time", 1.35, 1.71),
        ]
        cut = client.get(f"/api/files/{ids['cut.wav']}/transcript").json()["transcript"]
        assert (cut["complete"], cut["reason"]) == (False, "the audio stream is damaged after 2.0 s")
        assert client.get(f"/api/files/{ids['tone.wav']}/transcript").json()["transcript"] is None
        exported = client.post(
            "/api/export", json={"search": {"q": "need more time", "mode": "text", "k": 1}, "format": "otio"}
        )
        assert exported.status_code == 200
        timeline = otio.adapters.read_from_string(exported.text, "otio_json")
        assert [m.name.split(" 0.")[0] for c in timeline.find_clips() for m in c.markers] == [
            '"need more time"'
        ]
        unknown = client.get("/api/files/999999/transcript")
        assert unknown.status_code == 404 and "no file with id 999999" in unknown.json()["error"]


# ------------------------------------------------------------------ exports of transcript hits


def test_an_exported_transcript_hit_is_named_by_its_words(spoken, tmp_path):
    _, folder, library = spoken
    with Library.open(library) as opened:
        hits = opened.search("need more time", mode="text", k=3)
        assert hits[0].path == str(folder / "talk.wav") and hits[0].why.text_field == "transcript"
        assert (hits[0].start, hits[0].end) == pytest.approx((0.75, 1.71))  # "need" to "time", by hand
        opened.export(hits[:1], tmp_path / "said.otio", query="need more time")
        opened.export(hits[:1], tmp_path / "said.xml", query="need more time", markers_only=True)
        vector = opened.search("need more time", mode="vector", k=3)
        opened.export(vector, tmp_path / "vector.otio", query="need more time")
    [clip] = list(otio.adapters.read_from_file(str(tmp_path / "said.otio")).find_clips())
    assert clip.name == 'talk.wav "need more time"'
    assert [m.name.split(" 0.")[0] for m in clip.markers] == ['"need more time"']
    [whole] = list(otio.adapters.read_from_file(str(tmp_path / "said.xml")).find_clips())
    [marker] = whole.markers
    assert marker.name.startswith('"need more time"')
    assert marker.marked_range.start_time.to_seconds() == pytest.approx(0.75, abs=1 / 25)
    # the model's own hits matched no words: named by the query, as before
    names = [
        m.name
        for c in otio.adapters.read_from_file(str(tmp_path / "vector.otio")).find_clips()
        for m in c.markers
    ]
    assert names and all(name.startswith("need more time") for name in names)
