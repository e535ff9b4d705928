"""The spot list as an OpenTimelineIO timeline, in one of two layouts editors use:

- sequence: each spot a clip (plus `handles` seconds of media each side), end to end, in the
  results' order; video files on the video track and sound files on the audio track, with gaps
  so a result sits at the same place on both;
- markers: one clip per file (the whole file) with a marker at each spot.

Each clip references its file (an external reference: its URL and its available range, from the
file's start timecode and duration) at the file's own frame rate, so in and out points are the
source timecode an editor relinks to. Seconds become frames here, at the edge, rounded to the
nearest frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from pe_search.export.spots import Spot, SpotList
from pe_search.media.timecode import nearest_frame

MARKER_NAME = "pe-search"


@dataclass(frozen=True)
class Layout:
    """How the spots are laid out: `markers_only` or a sequence with `handles` seconds each side."""

    handles: float = 0.0
    markers_only: bool = False

    @property
    def name(self) -> str:
        return "markers" if self.markers_only else "sequence"


def _frames(spot: Spot, seconds: float) -> otio.opentime.RationalTime:
    """`seconds` into the spot's file as a whole frame of its source timecode."""
    rate = spot.timecode.rate
    return otio.opentime.RationalTime(nearest_frame((spot.timecode.start_seconds + seconds) * rate), rate)


def _range(spot: Spot, start: float, end: float) -> otio.opentime.TimeRange:
    first, last = _frames(spot, start), _frames(spot, end)
    length = max(last.value - first.value, 1)
    return otio.opentime.TimeRange(first, otio.opentime.RationalTime(length, spot.timecode.rate))


def _reference(spot: Spot) -> otio.schema.ExternalReference:
    available = _range(spot, 0.0, spot.duration) if spot.duration else None
    return otio.schema.ExternalReference(target_url=Path(spot.path).as_uri(), available_range=available)


def _facts(spot: Spot) -> dict:
    """What pe-search found, kept in the clip's or marker's metadata."""
    return {
        "path": spot.path,
        "start": spot.start,
        "end": spot.end,
        "moment": spot.moment,
        "query": spot.query,
        "probability": spot.probability,
        "space": spot.space,
        "why": spot.why,
        "said": spot.said,
        "source_timecode": spot.timecode.start,
        "rate": spot.timecode.rate,
    }


def said_name(said: str) -> str:
    """The spoken words as a marker or clip name: quoted, "we need more time"."""
    return f'"{said}"'


def _label(spot: Spot) -> str:
    words = said_name(spot.said) if spot.said else spot.query or MARKER_NAME
    return f"{words} {spot.probability:.2f}" if spot.probability is not None else words


def _marker(spot: Spot) -> otio.schema.Marker:
    return otio.schema.Marker(
        name=_label(spot),
        marked_range=_range(spot, spot.start, spot.end),
        color=otio.schema.MarkerColor.RED,
        metadata={"pe_search": _facts(spot)},
    )


def build_timeline(
    spots: SpotList, layout: Layout, name: str = MARKER_NAME, single_track: bool = False
) -> otio.schema.Timeline:
    """The timeline of `spots` in `layout` (the spots have been checked: see `spots.spot_list`).
    `single_track`: every clip on one track (video when any file is video), for an EDL."""
    clips = (
        _marker_clips(spots.spots) if layout.markers_only else _sequence_clips(spots.spots, layout.handles)
    )
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    if single_track:
        one = video if any(kind == "video" for kind, _ in clips) else audio
        one.extend(clip for _, clip in clips)
        clips = []
    for kind, clip in clips:
        own, other = (video, audio) if kind == "video" else (audio, video)
        own.append(clip)
        other.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=clip.duration())))
    timeline = otio.schema.Timeline(name=name)
    timeline.tracks.extend(
        track for track in (video, audio) if any(isinstance(i, otio.schema.Clip) for i in track)
    )
    first = spots.spots[0].timecode.rate if spots.spots else 25.0
    timeline.global_start_time = otio.opentime.RationalTime(0, first)
    return timeline


def _sequence_clips(spots: list[Spot], handles: float) -> list[tuple[str, otio.schema.Clip]]:
    clips = []
    for spot in spots:
        start = max(spot.start - handles, 0.0)
        end = min(spot.end + handles, spot.duration) if spot.duration else spot.end + handles
        name = Path(spot.path).name
        clip = otio.schema.Clip(
            name=f"{name} {said_name(spot.said)}" if spot.said else name,
            media_reference=_reference(spot),
            source_range=_range(spot, start, end),
            metadata={"pe_search": _facts(spot)},
        )
        clip.markers.append(_marker(spot))
        clips.append((spot.kind, clip))
    return clips


def _marker_clips(spots: list[Spot]) -> list[tuple[str, otio.schema.Clip]]:
    by_file: dict[str, list[Spot]] = {}
    for spot in spots:
        by_file.setdefault(spot.path, []).append(spot)
    clips = []
    for path, found in by_file.items():
        first = found[0]
        whole = first.duration or max(spot.end for spot in found)
        clip = otio.schema.Clip(
            name=Path(path).name,
            media_reference=_reference(first),
            source_range=_range(first, 0.0, whole),
            metadata={
                "pe_search": {"path": path, "spots": len(found), "source_timecode": first.timecode.start}
            },
        )
        clip.markers.extend(_marker(spot) for spot in found)
        clips.append((first.kind, clip))
    return clips
