"""Event timelines (issue 23) on generated long takes: silence with toy-world sounds at onsets and
offsets the generator chose, indexed with the shipped toy models, looked for with a vocabulary of
the toy classes' captions. The truth is the generator's; the timeline is compared with it, through
`Library`, the CLI (text, --json, captions) and the HTTP API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pe_search import Library
from pe_search.cli.main import cli
from pe_search.errors import PeSearchError
from pe_search.query.routes import QueryError
from pe_search.tagging import VocabularyError, load_vocabulary
from pe_search.toy import synth
from pe_search.toy.media_writer import write_audio

LOCAL = "http://127.0.0.1"  # the server answers loopback hosts
EDGE = 0.08  # seconds an event's edges may be from the generator's
STEADY = ("low_tone", "mid_tone", "high_beep", "white_noise", "brown_noise", "chirp_up", "chirp_down")
# (file, seconds, [(sound, start, length)]): two long takes, five events each, apart by silence
TAKES = (
    ("take-1.flac", 40.0, [("high_beep", 3.1, 2.0), ("white_noise", 9.4, 1.5), ("chirp_up", 16.2, 1.8),
                           ("low_tone", 24.7, 2.5), ("brown_noise", 32.3, 2.2)]),
    ("take-2.wav", 40.0, [("mid_tone", 2.6, 1.7), ("chirp_down", 8.9, 2.1), ("white_noise", 15.3, 1.2),
                          ("high_beep", 22.8, 1.6), ("low_tone", 30.1, 2.4)]),
)  # fmt: skip


def caption(sound: str) -> str:
    return synth.SOUNDS[sound].captions[0]


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    """(library, {path: [(label, start, end)]}, vocabulary file, {path: samples}): the takes indexed,
    and the truth."""
    root = tmp_path_factory.mktemp("events")
    folder = root / "media"
    folder.mkdir()
    rng = np.random.default_rng(2323)
    truth: dict[str, list[tuple[str, float, float]]] = {}
    written: dict[str, np.ndarray] = {}
    for name, total, placed in TAKES:
        samples = synth.sound("silence", total, rng).samples.copy()
        events = []
        for sound, start, length in placed:
            clip = synth.event_clip(sound, total, start, start + length, seed=rng)
            i0, i1 = round(clip.start * synth.SAMPLE_RATE), round(clip.end * synth.SAMPLE_RATE)
            samples[i0:i1] = clip.samples[i0:i1]
            events.append((caption(sound), clip.start, clip.end))
        write_audio(folder / name, samples, synth.SAMPLE_RATE)
        truth[str((folder / name).resolve())] = events
        written[str((folder / name).resolve())] = samples
    vocabulary = root / "toy-sounds.txt"
    vocabulary.write_text("".join(caption(s) + "\n" for s in STEADY))
    library = Library.open(root / "lib", model="toy")
    summary = library.index([folder], workers=0, progress=False, vocabulary=vocabulary)  # recorded
    assert summary.files_indexed == len(TAKES) and not summary.failed
    yield library, truth, vocabulary, written
    library.close()


def _matched(found, label: str, start: float, end: float):
    """The found event of `label` overlapping [start, end] most, or None."""
    overlap = [(min(e.end, end) - max(e.start, start), e) for e in found if e.label == label]
    overlap = [(o, e) for o, e in overlap if o > 0]
    return max(overlap, key=lambda item: item[0])[1] if overlap else None


def test_events_of_long_takes_match_the_generator_edges(takes):
    library, truth, vocabulary, _ = takes
    within, total, misses = 0, 0, []
    for path, events in truth.items():
        timeline = library.events(path, vocabulary=vocabulary)
        assert timeline.labels == len(STEADY)
        assert [(e.start, e.label) for e in timeline.events] == sorted(
            (e.start, e.label) for e in timeline.events
        )
        assert all(0.3 < e.probability <= 1 for e in timeline.events)
        for label, start, end in events:
            total += 1
            hit = _matched(timeline.events, label, start, end)
            if hit is not None and abs(hit.start - start) <= EDGE and abs(hit.end - end) <= EDGE:
                within += 1
            else:
                misses.append((label, start, end, hit))
    assert within >= 0.9 * total, misses


def test_the_library_s_recorded_vocabulary_is_the_default(takes):
    library, truth, vocabulary, _ = takes
    path = next(iter(truth))
    assert library.vocabulary().names == load_vocabulary(vocabulary).names  # recorded by `index`
    assert library.events(path) == library.events(path, vocabulary=vocabulary)


def test_labels_narrow_the_timeline(takes):
    library, truth, vocabulary, _ = takes
    path = next(iter(truth))
    everything = library.events(path, vocabulary=vocabulary).events
    wanted = [caption("high_beep"), caption("chirp_up")]
    # in any case, and as one comma-separated string as the CLI and HTTP give them
    narrowed = library.events(path, vocabulary=vocabulary, labels=",".join(w.upper() for w in wanted))
    assert narrowed.labels == 2
    kept = [e for e in everything if e.label in wanted]
    assert [(e.label, e.start, e.end) for e in narrowed.events] == [(e.label, e.start, e.end) for e in kept]
    # the same frames; the text tower's batch of 2 labels rounds a little differently from 7
    assert [e.probability for e in narrowed.events] == pytest.approx([e.probability for e in kept], abs=1e-6)
    assert {e.label for e in narrowed.events} == set(wanted)


def test_an_unknown_label_is_refused_with_the_closest(takes):
    library, truth, vocabulary, _ = takes
    with pytest.raises(VocabularyError) as caught:
        library.events(next(iter(truth)), vocabulary=vocabulary, labels=["a high beeep"])
    assert "'a high beep'" in str(caught.value)


def test_a_file_not_in_the_library_is_refused(takes, tmp_path):
    library, _, vocabulary, _ = takes
    stranger = tmp_path / "stranger.wav"
    write_audio(stranger, np.zeros(48_000, np.float32), 48_000)
    with pytest.raises(PeSearchError, match="not in the library"):
        library.events(stranger, vocabulary=vocabulary)
    with pytest.raises(PeSearchError, match="999 is not in the library"):
        library.events(999, vocabulary=vocabulary)


def test_a_library_without_frame_vectors_is_refused(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    write_audio(folder / "beep.wav", synth.sound("high_beep", 2.0, 1).samples, synth.SAMPLE_RATE)
    with Library.open(tmp_path / "lib", model="toy", frames=False) as library:
        library.index([folder], workers=0, progress=False)
        with pytest.raises(QueryError) as caught:
            library.events(folder / "beep.wav", labels=["Dog"])
    assert "frame model" in caught.value.worded(lambda option: option.name)
    result = CliRunner().invoke(
        cli, ["events", str(folder / "beep.wav"), "--library", str(tmp_path / "lib"), "--json"]
    )
    assert result.exit_code == 1
    assert "--frame-model" in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------------ CLI and captions
_CUE_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"


def _seconds(match: re.Match, at: int) -> float:
    hours, minutes, seconds, millis = (int(match.group(at + i)) for i in range(4))
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """A strict reading of WebVTT (W3C WebVTT, "file structure" and "cue timings"): the signature
    line, blank-line separated blocks, each cue an optional identifier line, a timing line
    `start --> end` with start < end, and one or more text lines."""
    assert text.startswith("WEBVTT") and (len(text) == 6 or text[6] in " \t\n"), "no WEBVTT signature"
    blocks = text.split("\n\n")
    assert blocks[0].strip() == "WEBVTT"
    timing = re.compile(rf"^{_CUE_TIME} --> {_CUE_TIME}$")
    cues = []
    for block in blocks[1:]:
        lines = [line for line in block.split("\n") if line != ""]
        if not lines:
            continue
        if "-->" not in lines[0]:
            lines = lines[1:]  # a cue identifier
        match = timing.match(lines[0])
        assert match, f"bad cue timing line {lines[0]!r}"
        start, end = _seconds(match, 1), _seconds(match, 5)
        assert start < end and len(lines) >= 2 and all("-->" not in line for line in lines[1:])
        cues.append((start, end, "\n".join(lines[1:])))
    return cues


def test_cli_events_json_and_captions_equal_the_events(takes, tmp_path):
    library, truth, vocabulary, _ = takes
    path = next(iter(truth))
    expected = library.events(path, vocabulary=vocabulary).events
    assert expected
    out = tmp_path / "sounds.vtt"
    args = ["events", path, "--library", str(library.path), "--vocabulary", str(vocabulary)]
    result = CliRunner().invoke(cli, [*args, "--export", str(out), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["events"] == [e.to_dict() for e in expected]
    assert printed["captions"]["cues"] == len(expected)
    cues = parse_vtt(out.read_text("utf-8"))
    assert [(s, e, text) for s, e, text in cues] == [
        (round(e.start, 3), round(e.end, 3), f"[{e.label}]") for e in expected
    ]
    # SubRip: numbered blocks with comma decimals
    srt = tmp_path / "sounds.srt"
    assert CliRunner().invoke(cli, [*args, "--export", str(srt)]).exit_code == 0
    blocks = [b.split("\n") for b in srt.read_text("utf-8").strip().split("\n\n")]
    assert [b[0] for b in blocks] == [str(i) for i in range(1, len(expected) + 1)]
    assert [b[2] for b in blocks] == [f"[{e.label}]" for e in expected]
    # an existing file is refused, in one line
    again = CliRunner().invoke(cli, [*args, "--export", str(out)])
    assert again.exit_code == 1 and "--force" in again.output and "Traceback" not in again.output


def test_cli_events_text_and_mistakes(takes):
    library, truth, vocabulary, _ = takes
    path = next(iter(truth))
    args = ["events", path, "--library", str(library.path), "--vocabulary", str(vocabulary)]
    shown = CliRunner().invoke(cli, [*args, "--labels", caption("high_beep")])
    assert shown.exit_code == 0, shown.output
    assert caption("high_beep") in shown.stdout and caption("chirp_up") not in shown.stdout
    unknown = CliRunner().invoke(cli, [*args, "--labels", "a high beeep", "--json"])
    assert unknown.exit_code == 1
    assert "a high beep" in json.loads(unknown.stdout)["error"]
    missing = CliRunner().invoke(cli, [*args[:2], "--library", str(library.path), "--vocabulary", "nope.txt"])
    assert missing.exit_code == 1 and "nope.txt" in missing.output and "Traceback" not in missing.output


# ------------------------------------------------------------------------------ HTTP
def test_http_events_shape(takes):
    from pe_search.server import ServerConfig, create_app

    library, truth, vocabulary, _ = takes
    path = next(iter(truth))
    file_id = library.store.find_media(path).id
    expected = library.events(path, vocabulary=vocabulary).events
    with TestClient(create_app(ServerConfig(library=Path(library.path))), base_url=LOCAL) as client:
        body = client.get(f"/api/files/{file_id}/events").json()
        assert set(body) >= {"file_id", "duration", "events"}
        assert body["file_id"] == file_id and body["duration"] == pytest.approx(40.0, abs=0.05)
        assert [(e["label"], e["start"], e["end"]) for e in body["events"]] == [
            (e.label, round(e.start, 4), round(e.end, 4)) for e in expected
        ]
        narrowed = client.get(f"/api/files/{file_id}/events", params={"labels": caption("chirp_up")}).json()
        assert {e["label"] for e in narrowed["events"]} == {caption("chirp_up")}
        assert (
            client.get(f"/api/files/{file_id}/events", params={"labels": "a high beeep"}).status_code == 400
        )
        assert client.get(f"/api/files/{file_id}/events", params={"threshold": 1.5}).status_code == 422
        assert client.get("/api/files/4242/events").status_code == 404


def test_http_peaks_follow_the_takes_loud_and_silent_stretches(takes):
    from pe_search.server import ServerConfig, create_app

    library, truth, _, written = takes
    bins = 400  # 0.1 s each: 4,800 samples
    with TestClient(create_app(ServerConfig(library=Path(library.path))), base_url=LOCAL) as client:
        for path, samples in written.items():
            file_id = library.store.find_media(path).id
            body = client.get(f"/api/files/{file_id}/peaks", params={"bins": bins}).json()
            assert body["duration"] == pytest.approx(40.0, abs=1e-3)
            lows, highs = np.array(body["peaks"]).T
            binned = samples.reshape(bins, -1)  # what was written, binned here
            np.testing.assert_allclose(lows, binned.min(axis=1), atol=2e-4)  # 16-bit PCM, 4 decimals
            np.testing.assert_allclose(highs, binned.max(axis=1), atol=2e-4)
            loud = np.zeros(bins, bool)
            for _, start, end in truth[path]:
                loud[int(np.ceil(start * 10)) : int(end * 10)] = True  # bins wholly inside an event
            assert np.all(highs[loud] > 0.1)
            quiet = np.ones(bins, bool)
            for _, start, end in truth[path]:
                quiet[int(start * 10) : int(np.ceil(end * 10))] = False  # bins touching no event
            assert np.all(np.maximum(-lows, highs)[quiet] < 0.02)
        assert client.get(f"/api/files/{file_id}/peaks", params={"bins": 0}).status_code == 422
        assert client.get(f"/api/files/{file_id}/peaks", params={"bins": 10_001}).status_code == 422
        assert client.get("/api/files/4242/peaks").status_code == 404
