"""An event timeline as captions for non-speech sounds (issue 23): one cue per event, "[Dog
barking]", in WebVTT or SubRip, for archives and accessibility.

Events that overlap (a dog barking over rain) stay separate cues with their own times: WebVTT
allows overlapping cues and players show them stacked, as SubRip players (VLC, mpv) do too, so
each sound keeps its own start and end rather than being cut where another begins. The cues are
written by `cues.py`'s writers, atomically, refusing an existing file unless forced (`write_cues`,
which a file's transcript goes through too)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pe_search.export import cues
from pe_search.export.errors import ExportError
from pe_search.export.output import check_output, write_atomically
from pe_search.export.spots import Spot, SpotList
from pe_search.media.timecode import zero_timecode
from pe_search.query.events import Event

CueWriter = Callable[[SpotList, TextIO], None]
WRITERS: Mapping[str, tuple[str, CueWriter]] = {
    ".vtt": ("vtt", cues.write_vtt),
    ".srt": ("srt", cues.write_srt),
}


@dataclass(frozen=True)
class CaptionReport:
    path: str
    format: str  # vtt or srt (or txt, for a transcript)
    cues: int


def write_captions(
    events: Sequence[Event], path: str | Path, source: str, duration: float | None, force: bool = False
) -> CaptionReport:
    """Write `events` (of the file `source`) as cues to `path`, its format from its extension."""
    timecode = zero_timecode(None)  # cue times are the file's own seconds
    spots = SpotList(
        [Spot(source, e.start, e.end, e.start, "audio", timecode, duration, query=e.label) for e in events]
    )
    return write_cues(spots, path, force, what="captions")


def write_cues(
    spots: SpotList,
    path: str | Path,
    force: bool = False,
    *,
    what: str,
    writers: Mapping[str, tuple[str, CueWriter]] = WRITERS,
) -> CaptionReport:
    """Write one file's `spots` as cues to `path` with the writer of its extension (`writers`);
    `what` names the content in the refusal of another extension."""
    target = Path(path).expanduser()
    chosen = writers.get(target.suffix.lower())
    if chosen is None:
        extensions = list(writers)
        said = ", ".join(extensions[:-1]) + f" or {extensions[-1]}"
        raise ExportError(
            f"{what} are written as {said}, not {target.suffix or '(no extension)'!r}",
            "name the file " + ", ".join(f"FILE{e}" for e in extensions[:-1]) + f" or FILE{extensions[-1]}",
            value=str(target),
        )
    check_output(target, force)
    name, write = chosen

    def written(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8", newline="\n") as out:
            write(spots, out)

    write_atomically(target, written)
    return CaptionReport(str(target), name, len(spots.spots))
