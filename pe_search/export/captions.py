"""An event timeline as captions for non-speech sounds (issue 23): one cue per event, "[Dog
barking]", in WebVTT or SubRip, for archives and accessibility.

Events that overlap (a dog barking over rain) stay separate cues with their own times: WebVTT
allows overlapping cues and players show them stacked, as SubRip players (VLC, mpv) do too, so
each sound keeps its own start and end rather than being cut where another begins. The cues are
written by `cues.py`'s writers, atomically, refusing an existing file unless forced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pe_search.export import cues
from pe_search.export.errors import ExportError
from pe_search.export.output import check_output, write_atomically
from pe_search.export.spots import Spot, SpotList
from pe_search.media.timecode import zero_timecode
from pe_search.query.events import Event

WRITERS = {".vtt": ("vtt", cues.write_vtt), ".srt": ("srt", cues.write_srt)}


@dataclass(frozen=True)
class CaptionReport:
    path: str
    format: str  # vtt or srt
    cues: int


def write_captions(
    events: Sequence[Event], path: str | Path, source: str, duration: float | None, force: bool = False
) -> CaptionReport:
    """Write `events` (of the file `source`) as cues to `path`, its format from its extension."""
    target = Path(path).expanduser()
    chosen = WRITERS.get(target.suffix.lower())
    if chosen is None:
        raise ExportError(
            f"captions are written as .vtt or .srt, not {target.suffix or '(no extension)'!r}",
            "name the file FILE.vtt or FILE.srt",
            value=str(target),
        )
    check_output(target, force)
    timecode = zero_timecode(None)  # cue times are the file's own seconds
    spots = SpotList(
        [Spot(source, e.start, e.end, e.start, "audio", timecode, duration, query=e.label) for e in events]
    )
    name, write = chosen

    def written(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8", newline="\n") as out:
            write(spots, out)

    write_atomically(target, written)
    return CaptionReport(str(target), name, len(spots.spots))
