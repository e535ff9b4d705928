"""Export for editors (issue 22): source timecode and every export format, checked against an
independent oracle: OpenTimelineIO's own adapters reading the files back, and timecode arithmetic
done by hand here. The media are made with Debian's ffmpeg (`-timecode`, and a Broadcast WAV's
bext time reference with `-write_bext 1`)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest

from pe_search.export import ExportError, FileFacts, Layout, export_results
from pe_search.media.probe import probe
from pe_search.media.timecode import parse_timecode, read_timecode, timecode_at
from pe_search.query.results import LocatedSpan

NTSC, FILM, PAL = 30000 / 1001, 24000 / 1001, 25.0
# Each file's first frame on its clock, in seconds, worked out by hand from its timecode:
#   01:00:00;00 drop frame: 108000 frames less 2 dropped in each of the 54 minutes not divisible
#   by 10 = 107892 frames of 1001/30000 s; 00:59:59:00 at 23.976 non-drop: 3599 s * 24 frames;
#   10:00:00:00 at 25: 36000 s; the BWF: 172819200 samples / 48 kHz = 3600.4 s.
STARTS = {
    "ntsc.mov": 107892 * 1001 / 30000,
    "film.mov": 3599 * 24 * 1001 / 24000,
    "pal.mp4": 36000.0,
    "bwf.wav": 3600.4,
}
RATES = {"ntsc.mov": NTSC, "film.mov": FILM, "pal.mp4": PAL, "bwf.wav": PAL}
SPANS = {"ntsc.mov": (2.5, 3.0), "film.mov": (1.0, 2.0), "pal.mp4": (1.0, 2.0), "bwf.wav": (0.6, 1.6)}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("timecoded")
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    for name, rate, timecode in (
        ("ntsc.mov", "30000/1001", "01:00:00;00"),
        ("film.mov", "24000/1001", "00:59:59:00"),
        ("pal.mp4", "25", "10:00:00:00"),
    ):
        picture = ["-f", "lavfi", "-i", f"testsrc=size=64x48:rate={rate}"]
        _ffmpeg(
            *picture,
            *sine,
            "-t",
            "4",
            "-timecode",
            timecode,
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
            str(folder / name),
        )
    _ffmpeg(
        *sine, "-t", "4", "-write_bext", "1", "-metadata", "time_reference=172819200", str(folder / "bwf.wav")
    )
    return folder


def _spans(clips: Path, names=tuple(SPANS)) -> list[LocatedSpan]:
    import dataclasses

    found = []
    for name in names:
        path = str(clips / name)
        found.append(dataclasses.replace(LocatedSpan(path, *SPANS[name], 0.9), timecode=read_timecode(path)))
    return found


def _facts(clips: Path) -> dict[str, FileFacts]:
    facts = {}
    for name in SPANS:
        info = probe(clips / name)
        facts[str(clips / name)] = FileFacts(info.duration, "video" if info.has_video else "audio")
    return facts


# ------------------------------------------------------------------ timecode, by hand


def test_timecode_arithmetic_by_hand():
    # 12.5 s at 29.97 is 374.625 frames, nearest 375 = 12 s 15 frames (no frame dropped in minute 0)
    assert timecode_at(parse_timecode("01:00:00;00", 29.97), 12.5) == "01:00:12;15"
    # 2.5 s at 23.976 is 59.94 frames, nearest 60 = 2 s 12 frames at 24 frames a second
    assert timecode_at(parse_timecode("00:59:59:00", 23.976), 2.5) == "01:00:01:12"
    # 3.72 s at 25 is 93 frames = 3 s 18 frames
    assert timecode_at(parse_timecode("10:00:00:00", 25), 3.72) == "10:00:03:18"
    # crossing minute 1 at 29.97 drop frame: frames ;00 and ;01 of 01:01:00 do not exist
    assert timecode_at(parse_timecode("01:00:59;29", 29.97), 1 / NTSC) == "01:01:00;02"


def test_a_timecode_that_does_not_parse_is_midnight_with_a_note():
    for text, rate in (("garbage", 25), ("01:00:00:40", 25), ("1:00", 29.97)):
        timecode = parse_timecode(text, rate)
        assert (timecode.start, timecode.start_seconds) == ("00:00:00:00", 0.0)
        assert text in timecode.note


def test_source_timecode_of_files_made_by_ffmpeg(clips):
    expected = {
        "ntsc.mov": ("01:00:00;00", True),
        "film.mov": ("00:59:59:00", False),
        "pal.mp4": ("10:00:00:00", False),
        "bwf.wav": ("01:00:00:10", False),  # 0.4 s past the hour is 10 frames at 25
    }
    for name, (start, drop) in expected.items():
        timecode = read_timecode(clips / name)
        assert (timecode.start, timecode.drop_frame, timecode.note) == (start, drop, None), name
        assert timecode.rate == pytest.approx(RATES[name], abs=1e-9), name
        assert timecode.start_seconds == pytest.approx(STARTS[name], abs=1e-6), name


# ------------------------------------------------------------------ every format, read back by OTIO


def _by_file(timeline) -> dict[str, list]:
    found: dict[str, list] = {}
    for clip in timeline.find_clips():
        found.setdefault(Path(clip.media_reference.target_url.removeprefix("file://")).name, []).append(clip)
    return found


def _assert_source_range(clip, name: str, start: float, end: float) -> None:
    frame = 1 / RATES[name]
    got = clip.source_range
    assert got.start_time.to_seconds() == pytest.approx(STARTS[name] + start, abs=frame), name
    assert got.end_time_exclusive().to_seconds() == pytest.approx(STARTS[name] + end, abs=frame), name


@pytest.mark.parametrize("extension", [".otio", ".fcpxml", ".xml"])
def test_each_timeline_format_read_back_by_otio_has_each_span_at_source_timecode(clips, tmp_path, extension):
    out = tmp_path / f"spots{extension}"
    report = export_results(_spans(clips), out, _facts(clips), query="door slam")
    assert (report.exported, report.notes, report.left_out) == (4, [], [])
    clips_by_file = _by_file(otio.adapters.read_from_file(str(out)))
    assert sorted(clips_by_file) == sorted(SPANS)  # each clip references its own file
    for name, found in clips_by_file.items():
        assert len(found) == 1
        _assert_source_range(found[0], name, *SPANS[name])
        assert found[0].media_reference.target_url == (clips / name).as_uri()


def test_edl_read_back_by_otio(clips, tmp_path):
    out = tmp_path / "spots.edl"
    export_results(_spans(clips, ("ntsc.mov",)), out, _facts(clips), query="door slam")
    timeline = otio.adapters.read_from_file(str(out), rate=NTSC)
    [clip] = list(timeline.find_clips())
    _assert_source_range(clip, "ntsc.mov", *SPANS["ntsc.mov"])
    assert "01:00:02;15 01:00:03;00" in out.read_text()  # by hand: 107892 + 75 frames, + 90 frames
    assert (clips / "ntsc.mov").as_uri() in out.read_text()


def test_an_edl_refuses_files_of_several_rates(clips, tmp_path):
    with pytest.raises(ExportError, match="one rate"):
        export_results(_spans(clips), tmp_path / "mixed.edl", _facts(clips))
    assert not (tmp_path / "mixed.edl").exists()


def test_markers_only_is_one_clip_per_file_with_a_marker_at_each_span(clips, tmp_path):
    spans = _spans(clips, ("pal.mp4", "ntsc.mov"))
    second = LocatedSpan(spans[0].path, 3.0, 3.5, 0.8, timecode=spans[0].timecode)
    out = tmp_path / "markers.otio"
    export_results([*spans, second], out, _facts(clips), layout=Layout(markers_only=True), query="door slam")
    found = _by_file(otio.adapters.read_from_file(str(out)))
    pal = found["pal.mp4"][0]
    assert len(found["pal.mp4"]) == 1 and len(pal.markers) == 2
    _assert_source_range(pal, "pal.mp4", 0.0, 4.0)  # the whole file
    starts = sorted(m.marked_range.start_time.to_seconds() for m in pal.markers)
    assert starts == pytest.approx([36001.0, 36003.0], abs=1 / PAL)
    assert pal.markers[0].name == "door slam 0.90"
    assert len(found["ntsc.mov"][0].markers) == 1


def test_handles_add_media_on_each_side(clips, tmp_path):
    out = tmp_path / "handles.otio"
    export_results(_spans(clips, ("pal.mp4",)), out, _facts(clips), layout=Layout(handles=0.5))
    [clip] = list(otio.adapters.read_from_file(str(out)).find_clips())
    _assert_source_range(clip, "pal.mp4", 0.5, 2.5)


def test_csv_and_json_rows_carry_timecode_in_and_out(clips, tmp_path):
    export_results(_spans(clips), tmp_path / "spots.csv", _facts(clips), query="door slam")
    rows = {Path(row["path"]).name: row for row in csv.DictReader((tmp_path / "spots.csv").open())}
    # by hand: ntsc 2.5 s = 75 frames, 3.0 s = 90 frames; film 1.0 s = 23.976 frames ~ 24 past
    # 00:59:59:00; pal 1 s and 2 s; the BWF 3600.4 + 0.6 = 3601 s
    assert (rows["ntsc.mov"]["timecode_in"], rows["ntsc.mov"]["timecode_out"]) == (
        "01:00:02;15",
        "01:00:03;00",
    )
    assert (rows["film.mov"]["timecode_in"], rows["film.mov"]["timecode_out"]) == (
        "01:00:00:00",
        "01:00:01:00",
    )
    assert (rows["pal.mp4"]["timecode_in"], rows["pal.mp4"]["timecode_out"]) == ("10:00:01:00", "10:00:02:00")
    assert (rows["bwf.wav"]["timecode_in"], rows["bwf.wav"]["timecode_out"]) == ("01:00:01:00", "01:00:02:00")
    assert float(rows["pal.mp4"]["start"]) == 1.0 and rows["pal.mp4"]["query"] == "door slam"
    export_results(_spans(clips), tmp_path / "spots.json", _facts(clips), query="door slam")
    listed = json.loads((tmp_path / "spots.json").read_text())
    assert [Path(row["path"]).name for row in listed] == list(SPANS)
    assert listed[0]["timecode_in"] == "01:00:02;15" and listed[0]["drop_frame"] is True


def test_vtt_and_srt_cues_of_one_file(clips, tmp_path):
    spans = _spans(clips, ("ntsc.mov",))
    export_results(spans, tmp_path / "cues.vtt", _facts(clips), query="door slam")
    assert (
        tmp_path / "cues.vtt"
    ).read_text() == "WEBVTT\n\n00:00:02.500 --> 00:00:03.000\n[door slam] 0.90\n"
    export_results(spans, tmp_path / "cues.srt", _facts(clips), query="door slam")
    assert (tmp_path / "cues.srt").read_text() == "1\n00:00:02,500 --> 00:00:03,000\n[door slam] 0.90\n\n"
    with pytest.raises(ExportError, match="one file"):
        export_results(_spans(clips), tmp_path / "two.vtt", _facts(clips))


# ------------------------------------------------------------------ mistakes


def test_unknown_extension_existing_and_unwritable_outputs_are_refused(clips, tmp_path):
    spans, facts = _spans(clips), _facts(clips)
    with pytest.raises(ExportError, match="no export format for the extension '.xyz'") as error:
        export_results(spans, tmp_path / "spots.xyz", facts)
    assert "--export-format" in str(error.value)
    existing = tmp_path / "spots.otio"
    existing.write_text("mine")
    with pytest.raises(ExportError, match="already exists: pass --force"):
        export_results(spans, existing, facts)
    assert existing.read_text() == "mine"  # untouched
    export_results(spans, existing, facts, force=True)
    assert len(list(otio.adapters.read_from_file(str(existing)).find_clips())) == 4
    with pytest.raises(ExportError, match="cannot write"):
        export_results(spans, tmp_path / "no-such-folder" / "spots.otio", facts)
    assert not list(tmp_path.glob(".spots*"))  # no temporary file left behind


def test_a_span_past_the_end_is_clamped_and_said(clips, tmp_path):
    [span] = _spans(clips, ("pal.mp4",))
    import dataclasses

    past = dataclasses.replace(span, start=3.0, end=9.0)
    report = export_results([past], tmp_path / "past.otio", _facts(clips))
    assert len(report.notes) == 1 and "clamped" in report.notes[0] and "pal.mp4" in report.notes[0]
    [clip] = list(otio.adapters.read_from_file(str(tmp_path / "past.otio")).find_clips())
    _assert_source_range(clip, "pal.mp4", 3.0, 4.0)


def test_files_gone_or_changed_since_indexing_are_left_out_and_listed(clips, tmp_path):
    gone = tmp_path / "gone.wav"
    shutil.copy(clips / "bwf.wav", gone)
    spans = _spans(clips, ("pal.mp4", "ntsc.mov"))
    lost = LocatedSpan(str(gone), 0.5, 1.0, 0.7)
    gone.unlink()
    facts = _facts(clips)
    info = probe(clips / "ntsc.mov")
    stat = (clips / "ntsc.mov").stat()
    facts[str(clips / "ntsc.mov")] = FileFacts(info.duration, "video", stat.st_size + 1, stat.st_mtime)
    report = export_results([*spans, lost], tmp_path / "some.otio", facts)
    assert report.exported == 1
    reasons = {Path(item.path).name: item.reason for item in report.left_out}
    assert reasons == {
        "gone.wav": "gone since it was indexed",
        "ntsc.mov": "changed since it was indexed (index it again)",
    }
    assert list(_by_file(otio.adapters.read_from_file(str(tmp_path / "some.otio")))) == ["pal.mp4"]


def test_an_unparsed_timecode_is_exported_at_midnight_with_a_note(clips, tmp_path):
    [span] = _spans(clips, ("pal.mp4",))
    import dataclasses

    odd = dataclasses.replace(span, timecode=parse_timecode("25:99:00:00", 25))
    report = export_results([odd], tmp_path / "odd.csv", _facts(clips))
    assert len(report.notes) == 1 and "00:00:00:00 used" in report.notes[0]
    [row] = list(csv.DictReader((tmp_path / "odd.csv").open()))
    assert (row["timecode_in"], row["timecode_out"]) == ("00:00:01:00", "00:00:02:00")


def test_a_zero_length_range_is_left_out_and_alone_exports_nothing(clips, tmp_path):
    [span] = _spans(clips, ("pal.mp4",))
    empty = LocatedSpan(span.path, 1.0, 1.0, 0.5, timecode=span.timecode)
    report = export_results([span, empty], tmp_path / "one.otio", _facts(clips))
    assert report.exported == 1 and "empty" in report.left_out[0].reason
    with pytest.raises(ExportError, match="nothing to export"):
        export_results([empty], tmp_path / "none.otio", _facts(clips))
    assert not (tmp_path / "none.otio").exists()


def test_a_file_at_a_rate_timecode_does_not_count_still_gets_a_timecode(tmp_path):
    """15 fps (and 8, 12.5...) is no SMPTE timecode rate: OTIO refuses to count timecode at it.
    Such a file gets the nearest rate timecode counts at, rather than failing to index."""
    for rate in ("15", "8"):
        path = tmp_path / f"odd-{rate}.mp4"
        _ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate={rate}", "-t", "1", "-c:v", "mpeg4", str(path))
        timecode = read_timecode(path)
        assert otio.opentime.RationalTime.is_valid_timecode_rate(timecode.rate), rate
        assert timecode_at(timecode, 0.0) == "00:00:00:00"
