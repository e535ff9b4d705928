"""The spot list: each result as the span of a file to export, checked against the file as it is
now. A file gone or changed since it was indexed is left out (and listed), a span past the file's
end is clamped (and said), a span of zero length is left out, and a timecode that did not parse
is exported as 00:00:00:00 (and said): nothing is dropped silently."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pe_search.media.timecode import SourceTimecode, zero_timecode
from pe_search.query.results import Hit, LocatedSpan

_END_SLACK = 1e-3  # seconds a span may pass the file's end by (rounding) without a note


@dataclass(frozen=True)
class FileFacts:
    """What the library knows of a file (None where it does not: a file that is not indexed)."""

    duration: float | None
    kind: str | None = None  # audio or video
    size: int | None = None  # as indexed: a file whose size or mtime differs has changed since
    mtime: float | None = None


@dataclass(frozen=True)
class Spot:
    """One result to export: a span of `path` in seconds, the moment found in it, and why."""

    path: str
    start: float
    end: float
    moment: float
    kind: str
    timecode: SourceTimecode
    duration: float | None
    probability: float | None = None
    space: str | None = None
    query: str | None = None
    why: dict | None = None
    said: str | None = None  # the spoken words the result matched (a transcript hit), as one line


@dataclass(frozen=True)
class LeftOut:
    path: str
    reason: str


@dataclass
class SpotList:
    spots: list[Spot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was changed to export it (clamped, timecode)
    left_out: list[LeftOut] = field(default_factory=list)


def spot_list(
    results: Iterable[Hit | LocatedSpan],
    facts: Mapping[str, FileFacts | None],
    query: str | None = None,
    said: Sequence[str | None] | None = None,
) -> SpotList:
    """Check each result against its file (`facts`: what the library recorded of it) and keep
    those that can be exported. `said`: per result, the spoken words it matched (or None)."""
    found = SpotList()
    gone: dict[str, str | None] = {}
    for index, result in enumerate(results):
        known = facts.get(result.path)
        if result.path not in gone:
            gone[result.path] = _why_unusable(result.path, known)
            if gone[result.path] is None and result.timecode is not None and result.timecode.note:
                found.notes.append(f"{result.path}: {result.timecode.note}")
        if gone[result.path] is not None:
            found.left_out.append(LeftOut(result.path, gone[result.path]))
            continue
        spot = _spot(result, known, query, found.notes)
        if spot is not None and said is not None and said[index]:
            spot = dataclasses.replace(spot, said=said[index])
        if spot is None:
            found.left_out.append(
                LeftOut(result.path, f"the range {result.start:g}-{result.end:g} s is empty")
            )
        else:
            found.spots.append(spot)
    return found


def _why_unusable(path: str, known: FileFacts | None) -> str | None:
    try:
        status = os.stat(path)
    except OSError:
        return "gone since it was indexed"
    recorded = known is not None and known.size is not None and known.mtime is not None
    if recorded and (status.st_size != known.size or abs(status.st_mtime - known.mtime) > 1e-3):
        return "changed since it was indexed (index it again)"
    return None


def _spot(
    result: Hit | LocatedSpan, known: FileFacts | None, query: str | None, notes: list[str]
) -> Spot | None:
    duration = known.duration if known else None
    start, end = max(result.start, 0.0), result.end
    if duration is not None and end > duration + _END_SLACK:
        notes.append(
            f"{result.path}: the span {result.start:.3f}-{result.end:.3f} s runs past the file's end "
            f"({duration:.3f} s): clamped"
        )
        end = duration
    if end - start <= 0:
        return None
    moment = result.moment.start if isinstance(result, Hit) and result.moment else start
    why = result.why if isinstance(result, Hit) else None
    timecode = result.timecode or zero_timecode(None)
    return Spot(
        path=result.path,
        start=start,
        end=end,
        moment=min(max(moment, start), end),
        kind=(result.kind if isinstance(result, Hit) else None) or (known.kind if known else None) or "audio",
        timecode=timecode,
        duration=duration,
        probability=result.probability,
        space=result.space if isinstance(result, Hit) else None,
        query=query,
        why=None if why is None else _plain(why),
    )


def _plain(why) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(why).items()}
