"""The spans of one file as subtitle cues (WebVTT, SubRip), "[door slam] 0.97", so a player or an
editor shows what was found where. Cue times are the file's own seconds, not its timecode."""

from __future__ import annotations

from typing import TextIO

from pe_search.export.spots import Spot, SpotList


def clock(seconds: float, decimal: str) -> str:
    """hh:mm:ss and milliseconds after `decimal` ("." in WebVTT, "," in SubRip)."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{decimal}{millis:03d}"


def _text(spot: Spot) -> str:
    if spot.said:  # spoken words are the cue's text, as subtitles show speech
        return f"{spot.said} {spot.probability:.2f}" if spot.probability is not None else spot.said
    words = f"[{spot.query}]" if spot.query else "[pe-search]"
    return f"{words} {spot.probability:.2f}" if spot.probability is not None else words


def write_vtt(spots: SpotList, out: TextIO) -> None:
    out.write("WEBVTT\n")
    for spot in spots.spots:
        out.write(f"\n{clock(spot.start, '.')} --> {clock(spot.end, '.')}\n{_text(spot)}\n")


def write_srt(spots: SpotList, out: TextIO) -> None:
    for number, spot in enumerate(spots.spots, start=1):
        out.write(f"{number}\n{clock(spot.start, ',')} --> {clock(spot.end, ',')}\n{_text(spot)}\n\n")
