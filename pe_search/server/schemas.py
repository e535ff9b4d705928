"""The typed requests and responses of the HTTP API (what /openapi.json describes). Hit and span
fields are the CLI's `--json` fields, plus the file id and the URLs the page plays them from."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from pe_search.models.catalogue import TARGETS
from pe_search.query import parameters as p
from pe_search.query.parameters import Parameter


def query_field(parameter: Parameter, **extra: Any) -> Any:
    """A pydantic field from the query parameter's one declaration (default, bounds, help)."""
    bounds = {"ge": parameter.least, "le": parameter.most, "gt": parameter.above, "lt": parameter.below}
    given = {name: value for name, value in bounds.items() if value is not None}
    return Field(parameter.default, **given, description=parameter.help, **extra)


def choice_type(choices: tuple[str, ...]) -> Any:
    """`Literal[...]` of a parameter's choices (the OpenAPI enum)."""
    return Literal[choices]


Target = choice_type(TARGETS)
Mode = choice_type(p.MODE.choices or ())
Kind = Literal["audio", "video"]
MAX_K = 200
MAX_OFFSET = 10_000


class Filters(BaseModel):
    """Keep only files that match every field given (the CLI's filter options)."""

    kind: list[Kind] | None = Field(None, description="Only these kinds of file.")
    folder: str | None = Field(None, description="Only files whose path starts with this (--path-prefix).")
    glob: str | None = Field(None, description="Only paths matching this SQLite GLOB (* crosses /).")
    min_duration: float | None = Field(None, ge=0, description="Only files at least this long (s).")
    max_duration: float | None = Field(None, ge=0, description="Only files at most this long (s).")
    modified_after: datetime | None = Field(None, description="Only files modified after (ISO date).")
    modified_before: datetime | None = Field(None, description="Only files modified before (ISO date).")

    def library_filters(self) -> dict[str, Any]:
        """As `Library.search` / `Library.files` keyword arguments."""
        return {
            "kinds": tuple(self.kind) if self.kind else None,
            "path_prefix": self.folder or None,
            "path_glob": self.glob or None,
            "min_duration": self.min_duration,
            "max_duration": self.max_duration,
            "modified_after": self.modified_after.timestamp() if self.modified_after else None,
            "modified_before": self.modified_before.timestamp() if self.modified_before else None,
        }


class Paging(BaseModel):
    k: int = query_field(p.K, le=MAX_K)
    offset: int = query_field(p.OFFSET, le=MAX_OFFSET)


class LikeSegment(BaseModel):
    """A stored segment as the query (its own vectors; no model runs)."""

    file_id: int = Field(..., ge=1)
    start: float = Field(..., ge=0)
    end: float = Field(..., gt=0)


class SearchRequest(Filters, Paging):
    q: str | None = Field(None, max_length=1000, description="What to look for, in words.")
    like: LikeSegment | None = Field(
        None,
        description="Search with a range of a file instead of text (any range: a stored segment uses its own vectors, another range is decoded and embedded).",
    )
    target: Target | None = query_field(p.TARGET)
    min_prob: float | None = query_field(p.MIN_PROB)
    all_segments: bool = query_field(p.ALL_SEGMENTS)
    mode: Mode = query_field(p.MODE)
    tag: str | None = query_field(p.TAG, max_length=200)


class MomentOut(BaseModel):
    start: float
    end: float
    score: float
    probability: float | None


class WordOut(BaseModel):
    text: str = Field(..., description="The word as the transcription model wrote it.")
    start: float = Field(..., description="When it is said, seconds from the file's start.")
    end: float


class HitOut(BaseModel):
    path: str
    start: float
    end: float
    score: float
    probability: float | None
    space: str | None
    target: str
    kind: str
    level: str
    segment_id: int | None = Field(None, description="None for a hit only the text side found.")
    media_id: int
    moment: MomentOut | None = None
    missing: bool = Field(False, description="The file is gone from disk since it was indexed.")
    why: dict[str, Any] | None = Field(
        None, description="Why it matched: ranks, probability, text field, words."
    )
    timecode: dict[str, Any] | None = Field(
        None, description="The file's source timecode (start, rate, drop_frame)."
    )
    timecode_in: str | None = Field(None, description="The hit's start at the file's source timecode.")
    timecode_out: str | None = Field(None, description="The hit's end at the file's source timecode.")
    file_id: int = Field(..., description="The file's opaque id (= media_id) for /media and /api/files.")
    name: str = Field(..., description="The file's name, for display.")
    media_url: str
    poster_url: str | None = Field(None, description="A still of the hit's moment (video files).")
    tags: list[dict[str, Any]] = Field([], description="The file's best tags: label, probability.")
    words: list[WordOut] = Field(
        [], description="The spoken words the query matched in the file's transcript, with their times."
    )


class SearchResponse(BaseModel):
    query: dict[str, Any] = Field(..., description="The request as understood (echoed for the page).")
    hits: list[HitOut]
    facets: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description='Counts over the results: {"tags": [{"label", "count"}]}.'
    )


class LocateRequest(BaseModel):
    q: str = Field(..., min_length=1, max_length=1000, description="The sound event to find.")
    file_id: int | None = Field(None, ge=1, description="Only inside this indexed file.")
    threshold: float = query_field(p.THRESHOLD)
    min_duration: float = query_field(p.SPAN_MIN_DURATION)
    k: int = query_field(p.LOCATE_K, le=MAX_K)
    tag: str | None = query_field(p.TAG, max_length=200)


class SpanOut(BaseModel):
    path: str
    start: float
    end: float
    probability: float
    note: str | None = None
    timecode: dict[str, Any] | None = Field(
        None, description="The file's source timecode (start, rate, drop_frame)."
    )
    timecode_in: str | None = Field(None, description="The span's start at the file's source timecode.")
    timecode_out: str | None = Field(None, description="The span's end at the file's source timecode.")
    file_id: int | None = None


class LocateResponse(BaseModel):
    spans: list[SpanOut]


class CurveResponse(BaseModel):
    """The file's frame-level probability for the query, in time order (the page's heat strip)."""

    file_id: int
    space: str | None = Field(..., description="audio_frame (40 ms), video_frame, or null: none stored.")
    duration: float | None
    starts: list[float]
    ends: list[float]
    probabilities: list[float]
    spans: list[SpanOut] = Field(..., description="Stretches above the threshold (as locate finds them).")


class FileOut(BaseModel):
    id: int
    path: str
    name: str
    kind: str
    status: str
    duration: float | None
    size: int
    mtime: float
    has_audio: bool
    has_video: bool
    error: str | None
    media_url: str
    poster_url: str | None


class FilesResponse(BaseModel):
    total: int
    offset: int
    limit: int
    files: list[FileOut]


class SpaceOut(BaseModel):
    vectors: int
    index: str
    params: dict[str, Any]
    bytes: int


class FramesOut(BaseModel):
    frames: int
    blocks: int
    codes: str | None
    live_bytes: int
    reclaimable_bytes: int


class UploadLimits(BaseModel):
    max_bytes: int
    max_seconds: float


class StatusResponse(BaseModel):
    library: str
    models: list[str]
    dim: int | None
    index_settings: dict[str, Any] | None
    media: dict[str, int]
    segments: int
    spaces: dict[str, SpaceOut]
    frames: dict[str, FramesOut] = Field(default_factory=dict, description="Frame vectors stored in blocks.")
    failed: list[dict[str, str | None]]
    partial: list[dict[str, str | None]] = Field(
        default_factory=list, description="Files indexed in part (a stream failed), and why."
    )
    damaged: list[dict[str, str]] = Field(
        default_factory=list,
        description="Files whose stored frames are damaged (path, space, reason): left out of searches "
        "until the next index run encodes them again.",
    )
    messages: list[str]
    transcription_model: str | None = Field(
        default=None, description="The speech model transcripts are made with."
    )
    transcribed_files: int = Field(0, description="Files with a transcript (complete, partial or failed).")
    transcripts_complete: int = Field(0, description="Of those, the files whose whole speech was heard.")
    transcripts_incomplete: list[dict[str, str | None]] = Field(
        default_factory=list,
        description="Files whose transcript is partial or failed (indexed all the same), and why.",
    )
    uploads: UploadLimits
    token_required: bool


class ErrorOut(BaseModel):
    error: str
    status: int
    field: str | None = None


ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 404, 413, 415, 422, 503)}
