"""The one query entry point every front door calls: `QueryService.run(QueryRequest)`.

It turns the request's media into model inputs, routes it, and asks the `QueryEngine` (kept for the
store's lifetime, refreshed per query) for hits, or the frame vectors for spans. Models are loaded
only when a query needs them (a `like` query uses stored vectors only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pe_search.errors import Option
from pe_search.models.catalogue import CATALOGUE
from pe_search.query import hybrid
from pe_search.query.engine import QueryEngine, QueryVectors
from pe_search.query.inputs import QuerySampling, query_audio, query_video
from pe_search.query.like import like_query
from pe_search.query.reencode import ChunkReencoder
from pe_search.query.request import QueryRequest
from pe_search.query.results import Hit, LocatedSpan
from pe_search.query.routes import AUDIO, LIKE, TEXT, VIDEO, QueryError, query_kind
from pe_search.query.tag_filter import with_hit_tags, with_tag
from pe_search.query.timecodes import with_timecodes
from pe_search.query.unindexed import locate_in_unindexed_file
from pe_search.store import SEARCHABLE_STATUSES, LibraryStore

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.model_set import ModelSet
    from pe_search.models.text_encoder import TextModels


class QueryService:
    """Queries against one open library store, with the library's models (loaded on first need)."""

    def __init__(
        self,
        store: LibraryStore,
        models: Callable[[], ModelSet],
        text_models: Callable[[], TextModels] | None = None,
    ) -> None:
        """`text_models`: the text side alone, for queries of text alone (no audio or video
        tower loaded); without it every query embeds with `models`."""
        self.store = store
        self._models = models
        self._text_models = text_models
        self._engine: QueryEngine | None = None

    @property
    def engine(self) -> QueryEngine:
        """The store's engine, up to date with what has been written since the last query."""
        if self._engine is None:
            self._engine = QueryEngine(self.store)
        else:
            self._engine.refresh()
        return self._engine

    def run(self, request: QueryRequest) -> list[Hit] | list[LocatedSpan]:
        """Hits for a search, spans when `request.locate` is set."""
        return self.locate(request) if request.locate is not None else self.search(request)

    # ------------------------------------------------------------------------------ search
    def search(self, request: QueryRequest) -> list[Hit]:
        """Hits, each with its file's source timecode and best tags."""
        if request.tag is not None:
            request = dataclasses.replace(request, filters=with_tag(self.store, request.tag, request.filters))
        return with_hit_tags(self.store, with_timecodes(self.store, self._search(request)))

    def _search(self, request: QueryRequest) -> list[Hit]:
        targets = (request.target,) if request.target else None
        if request.like is not None:
            if request.text or request.audio is not None or request.video is not None:
                raise QueryError(
                    "{0} stands alone", "drop {1}, {2} and {3}", options=(LIKE, TEXT, AUDIO, VIDEO)
                )
            vectors, fixed, media_id = like_query(self.store, request.like, request.target, self._models)
            hits = self.engine.search(
                "like", vectors, k=request.k + 1, offset=request.offset, min_prob=request.min_prob,
                all_segments=request.all_segments, filters=request.filters, fixed_routes=[fixed],
            )  # fmt: skip
            return [h for h in hits if h.media_id != media_id][: request.k]  # not a stored segment's file
        kind = query_kind(request.text, request.audio, request.video)
        vectors = self._media_vectors(request)
        return hybrid.search(
            self.engine,
            kind,
            vectors,
            request.text,
            request.mode,
            targets,
            k=request.k,
            offset=request.offset,
            min_prob=request.min_prob,
            all_segments=request.all_segments,
            filters=request.filters,
        )

    def _media_vectors(self, request: QueryRequest) -> QueryVectors:
        text_alone = request.audio is None and request.video is None and self._text_models is not None
        models: ModelSet | TextModels = self._text_models() if text_alone else self._models()
        text = request.text
        sampling = QuerySampling.of(self.store.index_settings())  # as the library's windows are cut
        audio = query_audio(request.audio, sampling.window) if request.audio is not None else None
        video = (
            query_video(request.video, self._models().clip.frame_preprocessing, sampling)
            if request.video is not None
            else None
        )

        def embed(embedding: str) -> np.ndarray:
            return models.embed_query(embedding, text=text, audio=audio, video=video)

        given = (("text", request.text), ("audio", request.audio), ("video", request.video))
        parts = frozenset(name for name, value in given if value)
        return QueryVectors(embed, parts, frozenset(models.embeddings))

    # ------------------------------------------------------------------------------ locate
    def locate(self, request: QueryRequest) -> list[LocatedSpan]:
        """Spans, each with its file's source timecode."""
        return with_timecodes(self.store, self._locate(request))

    def _locate(self, request: QueryRequest) -> list[LocatedSpan]:
        options = request.locate
        if options is None:
            raise ValueError("a locate request needs `locate` options")
        query_kind(request.text, None, None)
        filters = with_tag(self.store, request.tag, request.filters) if request.tag is not None else None
        models = self._models()
        if models.frames is None:
            raise QueryError(
                "this library was built without a frame model",
                "re-index with {0}",
                options=(Option("frame_model"),),
            )
        _, reach = CATALOGUE.locate_space()
        query = models.embed_query(reach.embedding, text=request.text)
        engine = self.engine
        exact = ChunkReencoder.for_library(self.store, models.frames)
        if options.path is None:  # clip-level search proposes the windows whose frames are scored
            text = request.text

            def embed(embedding: str) -> np.ndarray:
                return models.embed_query(embedding, text=text)

            clip_query = QueryVectors(embed, frozenset({"text"}), frozenset(models.embeddings))
            return engine.locate(
                query,
                options.threshold,
                options.min_duration,
                k=request.k,
                clip_query=clip_query,
                exact=exact,
                filters=filters,
            )
        resolved = str(Path(options.path).expanduser().resolve())
        media = self.store.find_media(resolved)
        if media is not None and media.status in SEARCHABLE_STATUSES and media.has_audio:
            return engine.locate(
                query, options.threshold, options.min_duration, media_id=media.id, path=resolved, exact=exact
            )
        return locate_in_unindexed_file(
            models.frames, resolved, query, options.threshold, options.min_duration
        )
