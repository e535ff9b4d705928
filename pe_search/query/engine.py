"""Answering queries: route, embed, search coarse (clip vectors) then fine (frame vectors).

A hit's `score` comes from `LibraryStore.search` (the raw inner product of the query vector and
the stored vector); its probability from `Calibration.probability` of the route's space, with
the scale and bias recorded in the library's model identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from pe_search.errors import Option
from pe_search.models.catalogue import CATALOGUE
from pe_search.models.spaces import Calibration
from pe_search.query.frames import (
    APPROXIMATE_NOTE,
    ExactFrames,
    Proposal,
    best_frames,
    block_readers,
    library_spans,
    propose,
)
from pe_search.query.results import Hit, LocatedSpan, Moment
from pe_search.query.routes import DEFAULT_TARGETS, ROUTES, QueryError, Route, moment_route, route
from pe_search.query.spans import LOCATE_THRESHOLD
from pe_search.store import LibraryStore, SearchFilter, SearchHit

# Clip windows the coarse step of a library-wide locate proposes (at least; 4 per span asked for).
LOCATE_PROPOSALS = 64
# The clip space whose windows propose candidates for a frame space (the catalogue's `proposer`).
FRAME_PROPOSERS: dict[str, str] = CATALOGUE.frame_proposers()
# The frame space `locate` reads, and the text reach that scores it.
LOCATE_SPACE, LOCATE_REACH = CATALOGUE.locate_space()


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
        self.identity = store.require_identity()
        self.calibrations = {name: Calibration(*pair) for name, pair in self.identity.calibration.items()}
        self.spaces = self._counts()

    def refresh(self) -> None:
        """Re-read the live vector count of each space (and the calibrations if the store's model
        record changed)."""
        identity = self.store.require_identity()
        if identity != self.identity:
            self.identity = identity
            self.calibrations = {name: Calibration(*pair) for name, pair in identity.calibration.items()}
        self.spaces = self._counts()

    def _counts(self) -> dict[str, int]:
        """Live vectors per clip space and live frames per frame space (stored as blocks)."""
        return {**self.store.counts(), **self.store.frame_counts()}

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
        localise: bool = True,
    ) -> list[Hit]:
        """`localise=False`: no best frame per hit (a caller that keeps only some hits localises
        those with `localise`)."""
        routes = fixed_routes or [route(kind, t) for t in (targets or DEFAULT_TARGETS[kind])]
        if not any(self.spaces.get(r.target) for r in routes):
            if not any(self.spaces.values()):
                raise QueryError("the library is empty", "index some media first")
            have = ", ".join(sorted(s for s, n in self.spaces.items() if n and not CATALOGUE.is_frame(s)))
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
                hits += self._search_route(
                    r, vectors[r.embedding], need, min_prob, all_segments, filters, vectors
                )
        hits.sort(key=lambda h: -(h.probability if len(routes) > 1 else h.score))
        if not all_segments and len(routes) > 1:
            hits = _best_per_file(hits)
        if not localise:
            return hits[offset:need]
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
        vectors: QueryVectors | None = None,
    ) -> list[Hit]:
        calibration = self.calibration(r.calibration)
        cutoff = calibration.score_for_probability(min_prob) if min_prob is not None and calibration else None
        if r.target in FRAME_PROPOSERS:
            return self._search_frames(r, query, vectors, need, cutoff, all_segments, filters, calibration)
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

    def _proposals(
        self, frame_space: str, query: QueryVectors | None, count: int, filters: SearchFilter | None
    ) -> list[Proposal] | None:
        """Coarse step: files and windows from the clip space that proposes for `frame_space`
        (None when the library or the query cannot: then every block is scanned)."""
        clip = FRAME_PROPOSERS[frame_space]
        proposer = ROUTES.get(("text", clip))
        if query is None or not self.spaces.get(clip) or proposer is None or "text" not in query.parts:
            return None
        if not query.can_give(proposer.embedding):
            return None
        total = self.spaces[clip]
        return propose(self.store, clip, query[proposer.embedding], min(total, count), filters)

    def _all_blocks(self, frame_space: str, filters: SearchFilter | None) -> list[Proposal]:
        allowed = self.store.media_ids(filters) if filters is not None and not filters.is_empty() else None
        paths = {media.id: media.path for media in self.store.iter_media()}
        return [
            Proposal(info.media_id, paths[info.media_id], ())
            for info, _ in self.store.frame_blocks(frame_space)
            if allowed is None or info.media_id in allowed
        ]

    def _search_frames(
        self,
        r: Route,
        query: np.ndarray,
        vectors: QueryVectors | None,
        need: int,
        cutoff: float | None,
        all_segments: bool,
        filters: SearchFilter | None,
        calibration: Calibration | None,
    ) -> list[Hit]:
        """Frame-level hits: clip windows propose, the frames inside them are scored exactly."""
        proposals = self._proposals(r.target, vectors, max(need * 4, LOCATE_PROPOSALS), filters)
        if proposals is None:
            proposals = self._all_blocks(r.target, filters)
        readers = block_readers(self.store, r.target, [p.media_id for p in proposals])
        hits = []
        for proposal in proposals:
            if proposal.media_id not in readers:
                continue
            for score, start, end in best_frames(readers[proposal.media_id], proposal, query):
                if cutoff is not None and score < cutoff:
                    break
                hits.append(
                    Hit(
                        path=proposal.path,
                        start=start,
                        end=end,
                        score=score,
                        probability=float(calibration.probability(score)) if calibration else None,
                        space=r.calibration,
                        target=r.target,
                        kind=self.store.media_kind(proposal.media_id),
                        level="frame",
                        segment_id=-1,  # frames have no segment rows: they live in the file's block
                        media_id=proposal.media_id,
                    )
                )
                if not all_segments:
                    break
        hits.sort(key=lambda h: -h.score)
        return hits[:need]

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

    def localise(self, hit: Hit, r: Route, vectors: QueryVectors) -> Hit:
        """A hit of `search(..., localise=False)` with its best frame, as `search` would give it."""
        return self._localise(hit, r, vectors)

    def _localise(self, hit: Hit, r: Route, vectors: QueryVectors) -> Hit:
        """The best frame inside a clip hit, from the file's frame-level vectors."""
        moment = moment_route(r) if hit.level == "clip" else None
        if moment is None:
            return hit
        if "text" in moment.query.split("+") and "text" not in vectors.parts:
            return hit
        if not self.spaces.get(moment.target) or not vectors.can_give(moment.embedding):
            return hit
        frames = self.store.segment_vectors(hit.media_id, moment.target, hit.start, hit.end)
        if not len(frames):
            return hit
        scores = frames.vectors @ vectors[moment.embedding]
        best = int(np.argmax(scores))
        calibration = self.calibration(moment.calibration)
        probability = float(calibration.probability(scores[best])) if calibration else None
        moment = Moment(
            float(frames.starts[best]), float(frames.ends[best]), float(scores[best]), probability
        )
        return replace(hit, moment=moment)

    # ------------------------------------------------------------------------------ locate
    def locate(
        self,
        query: np.ndarray,
        threshold: float = LOCATE_THRESHOLD,
        min_duration: float = 0.0,
        media_id: int | None = None,
        path: str | None = None,
        k: int = 20,
        clip_query: QueryVectors | None = None,
        exact: ExactFrames | None = None,
        filters: SearchFilter | None = None,
    ) -> list[LocatedSpan]:
        """Spans where PE-A-Frame's probability for the text passes `threshold`.

        Across the library it is coarse-to-fine: clip-level search with `clip_query` (the same
        text, embedded for the clip model) proposes files and windows, and only their frames are
        scored, exactly; without a clip query or clip vectors every file's block is scanned.
        `exact` gives the float32 vectors of frames a compact code cannot decide (see `frames`);
        `filters` narrow the files across the library (a tag)."""
        calibration = self.calibration(LOCATE_REACH.calibration)
        if calibration is None:
            raise QueryError("the library has no 40 ms audio frame vectors: index it with a frame model")
        if not self.spaces.get(LOCATE_SPACE):  # built with a frame model, but no frames stored
            if not any(self.spaces.values()):
                raise QueryError("the library is empty", "index media into it first")
            raise QueryError("no file in the library has 40 ms audio frames (none has audio to locate in)")
        if media_id is not None:
            candidates = [Proposal(media_id, path or "", ())]
        else:
            candidates = self._proposals(LOCATE_SPACE, clip_query, max(4 * k, LOCATE_PROPOSALS), filters)
            if candidates is None:
                candidates = self._all_blocks(LOCATE_SPACE, filters)
        readers = block_readers(self.store, LOCATE_SPACE, [c.media_id for c in candidates])
        spans: list[LocatedSpan] = []
        # every candidate's windows scanned together (one hand-off to the scan threads per round)
        found_spans = library_spans(readers, candidates, query, calibration, threshold, min_duration, exact)
        for candidate, (found, decided) in zip(candidates, found_spans, strict=True):
            note = None if decided else APPROXIMATE_NOTE
            spans += [LocatedSpan(candidate.path, s.start, s.end, s.probability, note) for s in found]
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
