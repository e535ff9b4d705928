"""Which vectors answer which query: the route table of the query layer.

A route names the embedding computed for the query, the stored space it is searched against,
and the model space whose logit scale and bias turn a score into the model's probability. Same-
modality routes (audio -> audio, video -> video) have no trained logit: no probability.
"""

from __future__ import annotations

from dataclasses import dataclass

from pe_search.errors import Option, PeSearchError
from pe_search.models.catalogue import CATALOGUE, Catalogue, Reach


class QueryError(PeSearchError):
    """A query that cannot be answered as asked (missing input, a target the library lacks)."""


# The query's options, as `Library.search` names them and as the CLI spells them.
TEXT = Option("text", flag="TEXT")
AUDIO = Option("audio")
VIDEO = Option("video")
LIKE = Option("like")
TARGET = Option("target")


@dataclass(frozen=True)
class Route:
    query: str  # "text", "audio", "video", "audio+text", "video+text"
    target: str  # the stored space searched
    embedding: str  # the query-side embedding
    calibration: str | None  # the model score giving sigmoid(dot * scale + bias), None: no probability


def routes_of(catalogue: Catalogue) -> dict[tuple[str, str], Route]:
    """Every (query kind, stored space) the catalogue's spaces are reached by."""
    return {
        (r.query, target): Route(r.query, target, r.embedding, r.calibration)
        for target, r in catalogue.routes()
    }


ROUTES: dict[tuple[str, str], Route] = routes_of(CATALOGUE)

# Where to look when no target is given (text: audio and video, merged by probability, since
# calibrated scores are comparable).
DEFAULT_TARGETS: dict[str, tuple[str, ...]] = CATALOGUE.default_targets()


def moment_route(r: Route, catalogue: Catalogue = CATALOGUE) -> Route | None:
    """The route that scores the frames giving a hit that `r` found its moment (None: no frame
    space localises `r.target`): the catalogue's `moment`, so no separate MOMENTS table."""
    found = catalogue.moment(r.target, Reach(r.query, r.embedding, r.calibration))
    if found is None:
        return None
    frames, reach = found
    return Route(reach.query, frames, reach.embedding, reach.calibration)


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
        "pass {0} (words), {1} (a sound), {2} (a clip) or {3} (a stored segment)",
        options=(TEXT, Option("audio", "FILE"), Option("video", "FILE"), Option("like", "PATH@START-END")),
    )


def route(kind: str, target: str) -> Route:
    found = ROUTES.get((kind, target))
    if found is None:
        possible = sorted(t for q, t in ROUTES if q == kind and t in CATALOGUE.targets)
        raise QueryError(
            f"a {kind} query cannot search {target} segments",
            f"{{0}} may be {' or '.join(possible)} for it",
            options=(TARGET,),
            value=target,
        )
    return found
