"""Answering queries: route, embed, search coarse (clip vectors) then fine (frame vectors).

A hit's `score` comes from `LibraryStore.search` (the raw inner product of the query vector and
the stored vector); its probability from `Calibration.probability` of the route's space, with
the scale and bias recorded in the library's model fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from pe_search.errors import Option
from pe_search.models.spaces import Calibration
from pe_search.query.results import Hit, LocatedSpan, Moment
from pe_search.query.routes import DEFAULT_TARGETS, MOMENTS, QueryError, Route, route
from pe_search.query.spans import frames_to_spans
from pe_search.store import LibraryStore, SearchFilter, SearchHit


@dataclass
class QueryVectors:
    """The query's embeddings, computed on demand (each at most once) by `embed`.

    `parts` says what the query holds ("text", "audio", "video"); `available` names the embeddings
    `embed` can compute (the library's models'); `cache` may be pre-filled (a `like` query brings
    stored vectors instead of media, and needs no model)."""

    embed: Callable[[str], np.ndarray]
    parts: frozenset[str]
    available: frozenset[str] = frozenset()
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    def can_give(self, embedding: str) -> bool:
        return embedding in self.available or embedding in self.cache

    def __getitem__(self, embedding: str) -> np.ndarray:
        if embedding not in self.cache:
            self.cache[embedding] = np.asarray(self.embed(embedding), dtype=np.float32).reshape(-1)
        return self.cache[embedding]


class QueryEngine:
    """Search one library store. Built once per store and kept: `refresh` (one small read of the
    vector counts per space) brings it up to date with writes made since, by any process."""

    def __init__(self, store: LibraryStore) -> None:
        self.store = store
        self.fingerprint = store.require_fingerprint()
        self.calibrations = {name: Calibration(*pair) for name, pair in self.fingerprint.calibration.items()}
        self.spaces = store.counts()

    def refresh(self) -> None:
        """Re-read the live vector count of each space (and the calibrations if the store's model
        record changed)."""
        fingerprint = self.store.require_fingerprint()
        if fingerprint != self.fingerprint:
            self.fingerprint = fingerprint
            self.calibrations = {name: Calibration(*pair) for name, pair in fingerprint.calibration.items()}
        self.spaces = self.store.counts()

    def calibration(self, space: str | None) -> Calibration | None:
        return self.calibrations.get(space) if space else None

    # ------------------------------------------------------------------------------ search
    def search(
        self,
        kind: str,
        vectors: QueryVectors,
        targets: tuple[str, ...] | None = None,
        k: int = 10,
        offset: int = 0,
        min_prob: float | None = None,
        all_segments: bool = False,
        filters: SearchFilter | None = None,
        fixed_routes: list[Route] | None = None,
    ) -> list[Hit]:
        routes = fixed_routes or [route(kind, t) for t in (targets or DEFAULT_TARGETS[kind])]
        if not any(self.spaces.get(r.target) for r in routes):
            if not any(self.spaces.values()):
                raise QueryError("the library is empty: index some media first (pe-search index FOLDER)")
            have = ", ".join(sorted(s for s, n in self.spaces.items() if n and not s.endswith("_frame")))
            wanted = ", ".join(r.target for r in routes)
            raise QueryError(f"the library has no {wanted} vectors to search (it has: {have or 'none'})")
        for r in routes:
            if not vectors.can_give(r.embedding):
                raise QueryError(
                    f"the library's model cannot embed a {r.query} query for {r.target} segments"
                )
        if min_prob is not None and any(r.calibration is None for r in routes):
            raise QueryError(
                "{0} needs a cross-modal query",
                "same-modality scores have no probability",
                options=(Option("min_prob"),),
                value=min_prob,
            )
        need = offset + k
        hits: list[Hit] = []
        for r in routes:
            if self.spaces.get(r.target):
                hits += self._search_route(r, vectors[r.embedding], need, min_prob, all_segments, filters)
        hits.sort(key=lambda h: -(h.probability if len(routes) > 1 else h.score))
        if not all_segments and len(routes) > 1:
            hits = _best_per_file(hits)
        by_target = {r.target: r for r in routes}
        return [self._localise(hit, by_target[hit.target], vectors) for hit in hits[offset:need]]

    def _search_route(
        self,
        r: Route,
        query: np.ndarray,
        need: int,
        min_prob: float | None,
        all_segments: bool,
        filters: SearchFilter | None,
    ) -> list[Hit]:
        calibration = self.calibration(r.calibration)
        cutoff = calibration.score_for_probability(min_prob) if min_prob is not None and calibration else None
        total = self.spaces.get(r.target, 0)
        fetch = min(total, max(need * 4, 32))
        while True:
            found = self.store.search(r.target, query[None], fetch, filters)[0]
            hits = [self._hit(r, h, calibration) for h in found if cutoff is None or h.score >= cutoff]
            if not all_segments:
                hits = _best_per_file(hits)
            if len(hits) >= need or len(found) < fetch or fetch >= total:
                return hits[:need]
            fetch = min(total, fetch * 4)

    def _hit(self, r: Route, found: SearchHit, calibration: Calibration | None) -> Hit:
        probability = float(calibration.probability(found.score)) if calibration else None
        return Hit(
            path=found.path,
            start=found.start,
            end=found.end,
            score=float(found.score),
            probability=probability,
            space=r.calibration,
            target=r.target,
            kind=found.kind,
            level=found.level,
            segment_id=found.segment_id,
            media_id=found.media_id,
        )

    def _localise(self, hit: Hit, r: Route, vectors: QueryVectors) -> Hit:
        """The best frame inside a clip hit, from the file's frame-level vectors."""
        if hit.level != "clip" or hit.target not in MOMENTS:
            return hit
        frame_space, embedding = MOMENTS[hit.target]
        calibration_space = "text_audio_frame" if embedding else r.calibration
        embedding = embedding or r.embedding
        if embedding.startswith("text_") and "text" not in vectors.parts:
            return hit
        if not self.spaces.get(frame_space) or not vectors.can_give(embedding):
            return hit
        frames = self.store.segment_vectors(hit.media_id, frame_space, hit.start, hit.end)
        if not len(frames):
            return hit
        scores = frames.vectors @ vectors[embedding]
        best = int(np.argmax(scores))
        calibration = self.calibration(calibration_space)
        probability = float(calibration.probability(scores[best])) if calibration else None
        moment = Moment(
            float(frames.starts[best]), float(frames.ends[best]), float(scores[best]), probability
        )
        return replace(hit, moment=moment)

    # ------------------------------------------------------------------------------ locate
    def locate(
        self,
        query: np.ndarray,
        threshold: float = 0.3,
        min_duration: float = 0.0,
        media_id: int | None = None,
        path: str | None = None,
        k: int = 20,
    ) -> list[LocatedSpan]:
        """Spans where PE-A-Frame's probability for the text passes `threshold`."""
        calibration = self.calibration("text_audio_frame")
        if calibration is None or not self.spaces.get("audio_frame"):
            raise QueryError("the library has no 40 ms audio frame vectors: index it with a frame model")
        if media_id is not None:
            files = [(media_id, path)]
        else:
            cutoff = calibration.score_for_probability(threshold)
            total = self.spaces["audio_frame"]
            found = self.store.search("audio_frame", query[None], min(total, max(k * 50, 500)))[0]
            files = list(dict.fromkeys((h.media_id, h.path) for h in found if h.score > cutoff))
        spans: list[LocatedSpan] = []
        for file_id, file_path in files:
            frames = self.store.segment_vectors(file_id, "audio_frame")
            probabilities = calibration.probability(frames.vectors @ query)
            for span in frames_to_spans(frames.starts, frames.ends, probabilities, threshold, min_duration):
                spans.append(LocatedSpan(file_path, span.start, span.end, span.probability))
        spans.sort(key=lambda s: -s.probability)
        return spans[:k] if media_id is None else sorted(spans, key=lambda s: s.start)


def _best_per_file(hits: list[Hit]) -> list[Hit]:
    seen: set[int] = set()
    kept = []
    for hit in hits:
        if hit.media_id not in seen:
            seen.add(hit.media_id)
            kept.append(hit)
    return kept
