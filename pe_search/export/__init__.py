"""Export of hits and spans for editors: a spot list as an OpenTimelineIO timeline, Final Cut Pro
XML, FCP7 XML (Premiere Pro, DaVinci Resolve), a CMX3600 EDL, CSV, JSON, or WebVTT/SubRip cues,
at each file's source timecode. `export_results` is the one entry point the front doors call.

Modules, one job each: `spots` (results checked against their files), `timeline` (the OTIO
timeline in either layout), `table` and `cues` (the formats written here), `formats` (the registry
by name and extension), `output` (refusing and writing the file), `errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pe_search.export.errors import ExportError, nothing_to_export
from pe_search.export.formats import FORMATS, ExportFormat, check_fits, format_for
from pe_search.export.output import check_output, write_atomically
from pe_search.export.spots import FileFacts, LeftOut, SpotList, spot_list
from pe_search.export.timeline import Layout, build_timeline
from pe_search.query.results import Hit, LocatedSpan

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportFormat",
    "ExportReport",
    "FileFacts",
    "Layout",
    "LeftOut",
    "build_timeline",
    "export_results",
    "format_for",
    "spot_list",
]


@dataclass(frozen=True)
class ExportReport:
    """What was written: the file, its format and layout, how many results it holds, what was
    changed to export them (`notes`: clamped spans, unparsed timecodes) and what was left out."""

    path: str
    format: str
    layout: str
    exported: int
    notes: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every result went in as it was (no note, nothing left out)."""
        return not self.notes and not self.left_out


def export_results(
    results: Iterable[Hit | LocatedSpan],
    path: str | Path,
    facts: Mapping[str, FileFacts | None],
    *,
    format: str | None = None,
    layout: Layout | None = None,
    force: bool = False,
    query: str | None = None,
    said: Sequence[str | None] | None = None,
) -> ExportReport:
    """Write `results` to `path` in `format` (default: the path's extension). `facts`: what the
    library recorded of each file (duration, size, mtime); `said`: per result, the spoken words it
    matched, which name its marker and clip (None: the query names them). Raises `ExportError` before writing
    anything when the format, the output or the results cannot make a file."""
    layout = layout or Layout()
    target = Path(path).expanduser()
    chosen = format_for(target, format)
    if layout.handles < 0:
        raise ExportError("handles must be at least 0 seconds", value=layout.handles)
    check_output(target, force)
    results = list(results)
    if said is not None and len(said) != len(results):
        raise ValueError("said must give one entry per result")
    spots: SpotList = spot_list(results, facts, query, said)
    if not spots.spots:
        raise nothing_to_export([f"{item.path}: {item.reason}" for item in spots.left_out])
    check_fits(chosen, spots)
    write_atomically(target, lambda temporary: chosen.write(spots, layout, temporary))
    return ExportReport(str(target), chosen.name, layout.name, len(spots.spots), spots.notes, spots.left_out)
