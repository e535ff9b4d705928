"""A stored segment as the query (`like`): its own vectors, no model needed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pe_search.models.catalogue import CATALOGUE
from pe_search.query.engine import QueryVectors
from pe_search.query.routes import AUDIO, ROUTES, VIDEO, QueryError, Route
from pe_search.query.routes import LIKE as LIKE_OPTION
from pe_search.store import SEARCHABLE_STATUSES, LibraryStore

LIKE = re.compile(r"^(?P<path>.+)@(?P<start>[0-9.:]+)-(?P<end>[0-9.:]+)$")
CLIP_SPACES = CATALOGUE.targets


def parse_like(like: str | tuple[str, float, float]) -> tuple[str, float, float]:
    """(path, start, end) of "PATH@START-END" (seconds or mm:ss), or of the tuple itself."""
    if not isinstance(like, str):
        return like
    match = LIKE.match(like)
    if match is None:
        raise QueryError(
            f"{{0}} takes PATH@START-END (seconds or mm:ss), got {like!r}", options=(LIKE_OPTION,), value=like
        )
    return match["path"], seconds(match["start"]), seconds(match["end"])


def like_query(
    store: LibraryStore, like: str | tuple[str, float, float], target: str | None
) -> tuple[QueryVectors, Route, int]:
    """The segment's stored vectors, the route they search `target` by, and the file's media id
    (so that the file asked about can be left out of its own results)."""
    path, start, end = parse_like(like)
    resolved = str(Path(path).expanduser().resolve())
    media = store.find_media(resolved)
    if media is None or media.status not in SEARCHABLE_STATUSES:
        raise QueryError(
            f"{path} is not indexed",
            "index it first, or query with {0}/{1}",
            options=(AUDIO, VIDEO),
            value=path,
        )
    own = {}
    for space in CLIP_SPACES:
        found = store.segment_vectors(media.id, space, start, end)
        if len(found):
            overlap = np.minimum(found.ends, end) - np.maximum(found.starts, start)
            own[space] = found.vectors[int(np.argmax(overlap))]
    if not own:
        raise QueryError(f"{path} has no clip segments between {start} and {end} s")
    target = target or ("video" if "video" in own else "audio")
    # which of the segment's own vectors query the target, cross-modal (its audio finds video) first
    source = next((s for s in CATALOGUE.like_sources(target) if s in own), None)
    if source is None:
        raise QueryError(f"the segment has no vectors to search {target} with")

    def no_model(embedding: str) -> np.ndarray:
        raise QueryError(f"a {{0}} query cannot compute {embedding}", options=(LIKE_OPTION,))

    return QueryVectors(no_model, frozenset(), frozenset(), dict(own)), ROUTES[(source, target)], media.id


def seconds(text: str) -> float:
    """ "75.5", "1:15.5" or "1:01:15" -> seconds."""
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + float(part)
    return value
