"""Which vectors answer which query: the route table of the query layer.

A route names the embedding computed for the query, the stored space it is searched against,
and the model space whose logit scale and bias turn a score into the model's probability. Same-
modality routes (audio -> audio, video -> video) have no trained logit: no probability.
"""

from __future__ import annotations

from dataclasses import dataclass

from pe_search.errors import Option, PeSearchError


class QueryError(PeSearchError):
    """A query that cannot be answered as asked (missing input, a target the library lacks)."""


# The query's options, as `Library.search` names them and as the CLI spells them.
TEXT = Option("text", flag="TEXT")
AUDIO = Option("audio")
VIDEO = Option("video")
LIKE = Option("like")


@dataclass(frozen=True)
class Route:
    query: str  # "text", "audio", "video", "audio+text", "video+text"
    target: str  # the stored space searched
    embedding: str  # the query-side embedding
    calibration: str | None  # the model space giving sigmoid(dot * scale + bias), None: no probability


ROUTES: dict[tuple[str, str], Route] = {
    (r.query, r.target): r
    for r in (
        Route("text", "audio", "text_audio", "text_audio"),
        Route("text", "video", "text_video", "text_video"),
        Route("text", "audio_video", "text_audio_video", "text_audio_video"),
        Route("text", "audio_frame", "text_audio_frame", "text_audio_frame"),
        Route("text", "video_frame", "text_video", "text_video"),
        Route("audio", "video", "audio", "audio_video"),
        Route("video", "audio", "video", "audio_video"),
        Route("audio", "audio", "audio", None),
        Route("video", "video", "video", None),
        Route("audio+text", "video", "audio_plus_text", "audio_plus_text"),
        Route("video+text", "audio", "video_plus_text", "video_plus_text"),
    )
}

# Where to look when no --target is given.
DEFAULT_TARGETS = {
    "text": ("audio", "video"),  # merged by probability: calibrated scores are comparable
    "audio": ("video",),
    "video": ("audio",),
    "audio+text": ("video",),
    "video+text": ("audio",),
}

# Frame-level space that localises a hit of a clip-level target, with the query embedding it needs
# (None: the route's own, since video frames live in the video space).
MOMENTS = {
    "audio": ("audio_frame", "text_audio_frame"),
    "audio_video": ("audio_frame", "text_audio_frame"),
    "video": ("video_frame", None),
}


def query_kind(text: str | None, audio, video) -> str:
    if audio is not None and video is not None:
        raise QueryError("give {0} or {1}, not both", options=(AUDIO, VIDEO))
    if text is not None and not text.strip():
        raise QueryError("the text query is empty: say what to look for")
    if audio is not None:
        return "audio+text" if text else "audio"
    if video is not None:
        return "video+text" if text else "video"
    if text:
        return "text"
    raise QueryError(
        "no query given",
        "pass {0}, {1}, {2} or {3}",
        options=(TEXT, Option("audio", "FILE"), Option("video", "FILE"), Option("like", "PATH@START-END")),
    )


def route(kind: str, target: str) -> Route:
    found = ROUTES.get((kind, target))
    if found is None:
        possible = sorted(t for q, t in ROUTES if q == kind and not t.endswith("_frame"))
        raise QueryError(
            f"a {kind} query cannot search {target} segments; targets for it: {', '.join(possible)}"
        )
    return found
