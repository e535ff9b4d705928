"""Every export format, by name and extension: the timeline formats OpenTimelineIO's adapters
write (.otio; .fcpxml for Final Cut Pro; .xml, FCP7 XML, for Premiere Pro and DaVinci Resolve;
.edl, CMX3600) and the tables and cues pe-search writes itself (.csv, .json, .vtt, .srt)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from pe_search.export import cues, table
from pe_search.export.errors import mixed_rates, one_file_only, unknown_format
from pe_search.export.spots import SpotList
from pe_search.export.timeline import Layout, build_timeline


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as `format=` names it
    extension: str
    what: str
    write: Callable[[SpotList, Layout, Path], None]  # writes the whole file at the path
    one_file: bool = False  # holds the spans of one file only (cues)


def _adapter(name: str, **options) -> Callable[[SpotList, Layout, Path], None]:
    def write(spots: SpotList, layout: Layout, path: Path) -> None:
        otio.adapters.write_to_file(build_timeline(spots, layout), str(path), adapter_name=name, **options)

    return write


# The rates the Final Cut Pro X adapter knows by these numbers (its frameDuration table): a clip at
# 30000/1001 is handed over at 29.97 with its times rescaled, so every time keeps its seconds.
_FCPX_RATES = (23.98, 29.97, 59.94)


def _fcpx_rate(rate: float) -> float:
    return next((known for known in _FCPX_RATES if abs(rate - known) < 0.01), rate)


def _to_fcpx_rates(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    def moved(time: otio.opentime.RationalTime) -> otio.opentime.RationalTime:
        return time.rescaled_to(_fcpx_rate(time.rate))

    def range_of(span: otio.opentime.TimeRange | None) -> otio.opentime.TimeRange | None:
        return None if span is None else otio.opentime.TimeRange(moved(span.start_time), moved(span.duration))

    for item in timeline.find_children():
        if isinstance(item, (otio.schema.Clip, otio.schema.Gap)):
            item.source_range = range_of(item.source_range)
            for marker in item.markers:
                marker.marked_range = range_of(marker.marked_range)
        if isinstance(item, otio.schema.Clip) and item.media_reference is not None:
            item.media_reference.available_range = range_of(item.media_reference.available_range)
    timeline.global_start_time = moved(timeline.global_start_time)
    return timeline


def _fcpx(spots: SpotList, layout: Layout, path: Path) -> None:
    timeline = _to_fcpx_rates(build_timeline(spots, layout))
    otio.adapters.write_to_file(timeline, str(path), adapter_name="fcpx_xml")


def _edl(spots: SpotList, layout: Layout, path: Path) -> None:
    """An EDL counts frames at one rate and lists one track: every spot goes on it, in order."""
    rates = sorted({round(spot.timecode.rate, 3) for spot in spots.spots})
    if len(rates) > 1:
        raise mixed_rates(rates)
    timeline = build_timeline(spots, layout, single_track=True)
    otio.adapters.write_to_file(
        timeline, str(path), adapter_name="cmx_3600", rate=spots.spots[0].timecode.rate
    )


def _text(writer) -> Callable[[SpotList, Layout, Path], None]:
    def write(spots: SpotList, _layout: Layout, path: Path) -> None:
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer(spots, out)

    return write


FORMATS = {
    f.name: f
    for f in (
        ExportFormat("otio", ".otio", "OpenTimelineIO timeline", _adapter("otio_json")),
        ExportFormat("fcpxml", ".fcpxml", "Final Cut Pro X XML", _fcpx),
        ExportFormat("xml", ".xml", "FCP7 XML (Premiere Pro, DaVinci Resolve)", _adapter("fcp_xml")),
        ExportFormat("edl", ".edl", "CMX3600 EDL", _edl),
        ExportFormat("csv", ".csv", "a row per result", _text(table.write_csv)),
        ExportFormat("json", ".json", "a JSON list of results", _text(table.write_json)),
        ExportFormat("vtt", ".vtt", "WebVTT cues of one file's spans", _text(cues.write_vtt), one_file=True),
        ExportFormat("srt", ".srt", "SubRip cues of one file's spans", _text(cues.write_srt), one_file=True),
    )
}


def format_for(path: Path, name: str | None = None) -> ExportFormat:
    """The format `name` (otio, fcpxml, xml, edl, csv, json, vtt, srt), else the path's extension's."""
    key = (name or path.suffix).lower().lstrip(".")
    if key not in FORMATS:
        raise unknown_format(path, name, [f.extension for f in FORMATS.values()])
    return FORMATS[key]


def check_fits(chosen: ExportFormat, spots: SpotList) -> None:
    """Cues hold one file's spans: refuse spots from several files rather than mix them."""
    files = {spot.path for spot in spots.spots}
    if chosen.one_file and len(files) > 1:
        raise one_file_only(chosen.extension, len(files))
