"""What a query returns. Every score is traceable: `score` is the raw dot product of the query
vector with the stored vector; `probability` is `sigmoid(score * scale + bias)` with the
scale and bias of `space` (None for same-modality routes, which have no trained logit)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from pe_search.media.timecode import SourceTimecode, timecode_at
from pe_search.store import SpokenWord
from pe_search.tagging.listing import Tag


@dataclass(frozen=True)
class Moment:
    """The best frame (40 ms of audio, or one sampled video frame) inside a hit."""

    start: float
    end: float
    score: float
    probability: float | None


@dataclass(frozen=True)
class WhyMatched:
    """Why a hit is in the results: its place on each side of the search and what matched.

    `vector_probability`/`vector_score`: the model's, for the file's best segment (also for a hit
    the text side found, when its vectors can be scored); `text_field`: name, folder, tag,
    subtitle, transcript, text_file or label, `text_key` the tag or sidecar it came from, `matched_words` the words
    of the query FTS5 matched (stemmed forms as they appear in the file's text)."""

    mode: str  # vector, text or hybrid
    fused_score: float | None = None  # reciprocal rank fusion score (hybrid)
    vector_rank: int | None = None
    vector_probability: float | None = None
    vector_score: float | None = None
    text_rank: int | None = None
    text_field: str | None = None
    text_key: str | None = None
    text_snippet: str | None = None
    matched_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    path: str
    start: float
    end: float
    score: float
    probability: float | None
    space: str | None  # the calibration space (model logit) of the probability
    target: str  # the stored vectors searched: audio, video, audio_video, audio_frame, ...
    kind: str  # the media file's kind: audio or video
    level: str  # clip or frame; file, subtitle or transcript for a hit whose time the text gave
    segment_id: int | None  # None for a hit whose time the text gave (a file, a cue, spoken words)
    media_id: int
    moment: Moment | None = None
    why: WhyMatched | None = None
    # True when the file is gone from disk since it was indexed (checked as the hit is made): its
    # vectors still answer until the next index run prunes it.
    missing: bool = field(default=False, compare=False)
    # The file's source timecode (its first frame on the recorder's clock), None when unknown.
    timecode: SourceTimecode | None = field(default=None, compare=False)
    # The file's best tags (label, probability), best first (issue 23).
    tags: tuple[Tag, ...] = field(default=(), compare=False)
    # The spoken words the query matched in the file's transcript, with their times (issue 26):
    # a hit that lands on them (level "transcript") starts at the first and ends at the last.
    words: tuple[SpokenWord, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing", not os.path.exists(self.path))

    def to_dict(self) -> dict:
        return _with_timecode_in_out(self)


@dataclass(frozen=True)
class LocatedSpan:
    """A stretch of a file where the frame model says the described event happens."""

    path: str
    start: float
    end: float
    probability: float  # the highest frame probability inside the span
    note: str | None = None
    missing: bool = field(default=False, compare=False)  # the file is gone from disk since indexing
    timecode: SourceTimecode | None = field(default=None, compare=False)  # as `Hit.timecode`

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing", not os.path.exists(self.path))

    def to_dict(self) -> dict:
        return _with_timecode_in_out(self)


def _with_timecode_in_out(result: Hit | LocatedSpan) -> dict:
    """The result as a dict, with `timecode_in`/`timecode_out`: its start and end at the file's
    source timecode (None without one), computed here at the edge from the seconds."""
    found = dataclasses.asdict(result)
    timecode = result.timecode
    found["timecode_in"] = timecode_at(timecode, result.start) if timecode else None
    found["timecode_out"] = timecode_at(timecode, result.end) if timecode else None
    return found
