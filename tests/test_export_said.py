"""Exports name a result by the spoken words it matched (issue 26): where a hit matched words of a
transcript, its marker and its clip carry them, quoted, in every format that names markers, read
back by OpenTimelineIO's own adapters (and PyAV's subtitle decoder for the cues); results without
spoken words keep the query's name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import opentimelineio as otio
import pytest

from pe_search.export import FileFacts, Layout, export_results
from pe_search.media.timecode import read_timecode
from pe_search.query.results import LocatedSpan

SAID = "we need more time"
QUOTED = '"we need more time"'  # as an editor sees it: the words, quoted
RATE = 25.0


@pytest.fixture(scope="module")
def take(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("said")
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
         "-timecode", "10:00:00:00", "-c:v", "mpeg4", "-c:a", "aac", str(folder / "take.mp4")],
        check=True,
    )  # fmt: skip
    return folder / "take.mp4"


def _results(take: Path) -> list[LocatedSpan]:
    import dataclasses

    timecode = read_timecode(str(take))
    return [
        dataclasses.replace(LocatedSpan(str(take), 1.0, 2.2, 0.9), timecode=timecode),
        dataclasses.replace(LocatedSpan(str(take), 3.0, 3.5, 0.7), timecode=timecode),
    ]


def _export(take: Path, out: Path, **options):
    facts = {str(take): FileFacts(4.0, "video")}
    return export_results(_results(take), out, facts, query="time", said=[SAID, None], **options)


def _markers(timeline) -> list[tuple[str, float]]:
    """Every marker's name and start (seconds of source timecode), in time order."""
    found = [
        (marker.name, marker.marked_range.start_time.to_seconds())
        for clip in timeline.find_clips()
        for marker in clip.markers
    ]
    return sorted(found, key=lambda item: item[1])


@pytest.mark.parametrize("extension", [".otio", ".fcpxml", ".xml"])
def test_the_marker_and_the_clip_of_a_spoken_hit_carry_its_words(take, tmp_path, extension):
    out = tmp_path / f"said{extension}"
    _export(take, out)
    timeline = otio.adapters.read_from_file(str(out))
    clips = list(timeline.find_clips())
    assert [clip.name for clip in clips] == [f"take.mp4 {QUOTED}", "take.mp4"]
    names = [name for name, _ in _markers(timeline)]
    assert names == [f"{QUOTED} 0.90", "time 0.70"]


def test_markers_only_names_each_marker_by_its_words(take, tmp_path):
    out = tmp_path / "markers.otio"
    _export(take, out, layout=Layout(markers_only=True))
    timeline = otio.adapters.read_from_file(str(out))
    found = _markers(timeline)
    assert [name for name, _ in found] == [f"{QUOTED} 0.90", "time 0.70"]
    assert found[0][1] == pytest.approx(36000 + 1.0, abs=1 / RATE)  # 10:00:00:00 + 1 s, by hand


def test_an_edl_names_the_clip_by_its_words(take, tmp_path):
    out = tmp_path / "said.edl"
    _export(take, out)
    timeline = otio.adapters.read_from_file(str(out), rate=RATE)
    clips = list(timeline.find_clips())
    assert clips[0].name == f"take.mp4 {QUOTED}" and clips[1].name == "take.mp4"
    # CMX3600 locators are written in capitals (the adapter's convention for LOC comments)
    assert [name for name, _ in _markers(timeline)][0] == f"{QUOTED} 0.90".upper()


def test_json_rows_and_cues_carry_the_words(take, tmp_path):
    _export(take, tmp_path / "said.json")
    rows = json.loads((tmp_path / "said.json").read_text())
    assert [row["said"] for row in rows] == [SAID, None]
    _export(take, tmp_path / "said.srt")
    with av.open(str(tmp_path / "said.srt")) as container:
        stream = container.streams.subtitles[0]
        cues = [
            (float(packet.pts * stream.time_base), bytes(packet).decode().strip())
            for packet in container.demux(stream)
            if packet.size
        ]
    assert cues == [(1.0, f"{SAID} 0.90"), (3.0, "[time] 0.70")]
