"""A file's transcript (issue 26) for reading and for subtitles: the words spoken in it with their
times, as a dict for JSON, as lines of text, and as .srt / .vtt cues (one per phrase, through
`captions.write_cues`) or a .txt file with each phrase's times. And the words a transcript hit
matched, read back by the hit's time range, which name its marker in an export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pe_search.export import cues
from pe_search.export.captions import WRITERS, CaptionReport, CueWriter, write_cues
from pe_search.export.spots import Spot, SpotList
from pe_search.media.timecode import zero_timecode
from pe_search.store import SpokenWord, TranscriptRecord

TRANSCRIPT_FIELD = "transcript"  # the text field a transcript's phrases are entries of (the store's)
_SLACK = 1e-3  # s: a word on a range's edge (times rounded in storage) still belongs to it


@dataclass(frozen=True)
class FileTranscript:
    """One indexed file and its transcript (None: the file was not transcribed)."""

    path: str
    file_id: int
    duration: float | None
    record: TranscriptRecord | None

    def to_dict(self) -> dict:
        record = self.record
        found = {"path": self.path, "file_id": self.file_id, "duration": self.duration, "transcript": None}
        if record is not None:
            found["transcript"] = {
                "model": record.model,
                "language": record.language,
                "complete": record.complete,
                "reason": record.reason,
                "phrases": [
                    {
                        "start": phrase.start,
                        "end": phrase.end,
                        "text": phrase.text,
                        "words": [{"text": w.text, "start": w.start, "end": w.end} for w in phrase.words],
                    }
                    for phrase in record.phrases
                ],
            }
        return found


def words_between(record: TranscriptRecord | None, start: float, end: float) -> tuple[SpokenWord, ...]:
    """The transcript's words lying within [start, end] (a transcript hit's range: its first
    matched word's start to its last's end), in time order."""
    if record is None:
        return ()
    return tuple(
        word
        for phrase in record.phrases
        for word in phrase.words
        if word.start >= start - _SLACK and word.end <= end + _SLACK
    )


def clock(seconds: float) -> str:
    """hh:mm:ss.mmm, as WebVTT writes a time."""
    return cues.clock(seconds, ".")


def _write_text(spots: SpotList, out: TextIO) -> None:
    for spot in spots.spots:
        out.write(f"[{clock(spot.start)} - {clock(spot.end)}] {spot.said}\n")


TRANSCRIPT_WRITERS: Mapping[str, tuple[str, CueWriter]] = {**WRITERS, ".txt": ("txt", _write_text)}


def write_transcript(transcript: FileTranscript, path: str | Path, force: bool = False) -> CaptionReport:
    """Write the file's transcript to `path`: .srt or .vtt (a cue per phrase, its words as the
    cue's text) or .txt (a line per phrase: its start and end, then its words). Refused like
    every export: an existing file unless `force`, a folder that cannot be written."""
    timecode = zero_timecode(None)  # cue times are the file's own seconds
    phrases = transcript.record.phrases if transcript.record is not None else ()
    spots = SpotList(
        [
            Spot(
                transcript.path,
                p.start,
                p.end,
                p.start,
                "audio",
                timecode,
                transcript.duration,
                said=p.text,
            )
            for p in phrases
        ]
    )
    return write_cues(spots, path, force, what="transcripts", writers=TRANSCRIPT_WRITERS)
