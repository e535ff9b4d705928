"""A range of a file as the query (`like`, "more like this"). A range that is one of the
library's stored segments queries with that segment's own vectors (no model needed, and the file
itself is left out of its results). Any other range, of an indexed file or not, is decoded and
embedded with the library's clip model, as the indexer embeds a window (a range shorter than a
window as it is, a longer one by its first window); its own file then competes like any other."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pe_search.models.catalogue import CATALOGUE
from pe_search.query.engine import QueryVectors
from pe_search.query.inputs import QuerySampling
from pe_search.query.routes import AUDIO, ROUTES, VIDEO, QueryError, Route
from pe_search.query.routes import LIKE as LIKE_OPTION
from pe_search.store import SEARCHABLE_STATUSES, LibraryStore

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.model_set import ModelSet

LIKE = re.compile(r"^(?P<path>.+)@(?P<start>[0-9.:]+)-(?P<end>[0-9.:]+)$")
CLIP_SPACES = CATALOGUE.targets
SAME_SEGMENT = 0.02  # s: a range whose ends are this close to a stored segment's is that segment


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
    store: LibraryStore,
    like: str | tuple[str, float, float],
    target: str | None,
    models: Callable[[], ModelSet] | None = None,
) -> tuple[QueryVectors, Route, int | None]:
    """The range's vectors, the route they search `target` by, and the media id to leave out of
    the results (the file of a stored segment; None for a decoded range)."""
    path, start, end = parse_like(like)
    resolved = str(Path(path).expanduser().resolve())
    media = store.find_media(resolved)
    indexed = media is not None and media.status in SEARCHABLE_STATUSES
    own = _stored_segment(store, media.id, start, end) if indexed else {}
    left_out = media.id if own else None
    if not own:
        if not Path(resolved).is_file():
            raise QueryError(
                f"{path} is not indexed, and there is no such file to decode",
                "index it first, or query with {0}/{1}",
                options=(AUDIO, VIDEO),
                value=path,
            )
        if models is None:
            raise QueryError(f"{path}: the range {start:g}-{end:g} s is not a stored segment")
        own = range_vectors(models(), store, resolved, start, end)
    target = target or ("video" if "video" in own else "audio")
    # which of the range's vectors query the target, cross-modal (its audio finds video) first
    source = next((s for s in CATALOGUE.like_sources(target) if s in own), None)
    if source is None:
        raise QueryError(f"the range has no vectors to search {target} with")

    def no_model(embedding: str) -> np.ndarray:
        raise QueryError(f"a {{0}} query cannot compute {embedding}", options=(LIKE_OPTION,))

    return QueryVectors(no_model, frozenset(), frozenset(), dict(own)), ROUTES[(source, target)], left_out


def _stored_segment(store: LibraryStore, media_id: int, start: float, end: float) -> dict[str, np.ndarray]:
    """The clip vectors of the stored segment that is [start, end] (to within SAME_SEGMENT), by space."""
    own = {}
    for space in CLIP_SPACES:
        found = store.segment_vectors(media_id, space, start, end)
        if len(found):
            same = (np.abs(found.starts - start) <= SAME_SEGMENT) & (np.abs(found.ends - end) <= SAME_SEGMENT)
            if same.any():
                own[space] = found.vectors[int(np.argmax(same))]
    return own


def range_vectors(
    models: ModelSet, store: LibraryStore, path: str, start: float, end: float
) -> dict[str, np.ndarray]:
    """The clip model's audio and video embeddings of [start, end) of `path`, sampled as the
    library samples a window (its recorded settings); at most one window long."""
    from pe_search.media.audio import read_audio
    from pe_search.media.frame_pick import window_frame_times
    from pe_search.media.probe import probe
    from pe_search.media.video import iter_video_frames

    info = probe(path)
    if info.duration is not None and start >= info.duration:
        raise QueryError(
            f"{{0}} starts at {start:g} s, past the end of {path} ({info.duration:.3f} s)",
            options=(LIKE_OPTION,),
            value=start,
        )
    sampling = QuerySampling.of(store.index_settings())
    end = min(end, start + sampling.window, info.duration or end)
    wanted = set(models.embeddings)
    own: dict[str, np.ndarray] = {}
    if info.has_audio and "audio" in wanted:
        samples = read_audio(path, start, end)
        if samples.size:
            own["audio"] = np.asarray(models.embed_query("audio", audio=samples), np.float32).reshape(-1)
    preprocess = models.clip.frame_preprocessing
    if info.has_video and "video" in wanted and preprocess is not None:
        times = window_frame_times(
            start,
            end,
            fps=sampling.fps,
            frames_per_window=sampling.frames_per_window,
            frame_rate=info.frame_rate,
        )
        rgb = [frame.rgb for frame in iter_video_frames(path, times)]
        if rgb:
            video = preprocess(np.ascontiguousarray(np.stack(rgb))).numpy()
            own["video"] = np.asarray(models.embed_query("video", video=video), np.float32).reshape(-1)
    if not own:
        raise QueryError(f"{path} has nothing the library's model can embed between {start:g} and {end:g} s")
    return own


def seconds(text: str) -> float:
    """ "75.5", "1:15.5" or "1:01:15" -> seconds."""
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + float(part)
    return value
