"""The library API: `Library.open(path)`, then `.index()`, `.search()`, `.locate()`, `.status()`.

    from pe_search import Library
    library = Library.open("pe-library", model="facebook/pe-av-small")
    library.index(["~/Sounds"])
    for hit in library.search("a dog barking", target="audio", k=5):
        print(hit.path, hit.start, hit.end, hit.probability)

Queries use the models recorded in the library; `model=` is only needed to build a new one.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

from pe_search.errors import MediaError
from pe_search.models.loading import paired_frame_model
from pe_search.models.model_set import ModelSet
from pe_search.query.engine import QueryEngine, QueryVectors
from pe_search.query.inputs import query_audio, query_video
from pe_search.query.results import Hit, LocatedSpan
from pe_search.query.routes import QueryError, Route, query_kind
from pe_search.query.spans import frames_to_spans
from pe_search.store import (
    LibraryLayout,
    LibraryNotFoundError,
    LibraryStatus,
    LibraryStore,
    SearchFilter,
    resolve_library_dir,
)
from pe_search.store.schema import SEARCHABLE_STATUSES

LIKE = re.compile(r"^(?P<path>.+)@(?P<start>[0-9.:]+)-(?P<end>[0-9.:]+)$")


class Library:
    """A media library on disk: one directory with the SQLite database and the vector indexes."""

    def __init__(self, path: Path, model=None, frame_model=None, device=None, dtype=None) -> None:
        self.path = path
        self._model_args = (model, frame_model)
        self._device, self._dtype = device, dtype
        self._models: ModelSet | None = None
        self._store: LibraryStore | None = None
        # Threads may share a Library: the first use of the store or the models opens or loads
        # them once, under this lock, and the others wait for it.
        self._opening = threading.RLock()

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        model: str | Path | None = None,
        frame_model: str | Path | None = None,
        device: str | None = None,
        dtype: str | None = None,
    ) -> Library:
        """Open the library at `path` (default: $PE_SEARCH_LIBRARY or ./pe-library).

        A library that does not exist yet is created on the first `.index()`, with `model`
        (and `frame_model` for 40 ms audio frames)."""
        library = cls(
            resolve_library_dir(None if path is None else str(path)), model, frame_model, device, dtype
        )
        if not LibraryLayout(library.path).exists() and model is None:
            raise LibraryNotFoundError(library.path)
        return library

    # ------------------------------------------------------------------ plumbing
    @property
    def store(self) -> LibraryStore:
        with self._opening:
            if self._store is None:
                self._store = LibraryStore.open(self.path, readonly=True)
            return self._store

    @property
    def models(self) -> ModelSet:
        """The models of this library (loaded on first use, once however many threads ask)."""
        with self._opening:
            return self._load_models()

    def _load_models(self) -> ModelSet:
        if self._models is None:
            model, frame_model = self._model_args
            if model is None:
                recorded = self.store.require_fingerprint().model_ids
                model = recorded[0]
                frame_model = frame_model or (recorded[1] if len(recorded) > 1 else None)
            frame_model = frame_model or paired_frame_model(model)
            self._models = ModelSet.load(model, frame_model, device=self._device, dtype=self._dtype)
        return self._models

    def close(self) -> None:
        with self._opening:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _engine(self, with_models: bool) -> QueryEngine:
        return QueryEngine(self.store, self.models.embeddings if with_models else ())

    # ------------------------------------------------------------------ indexing
    def index(self, paths, **options):
        """Index media under `paths`; options as `indexer.pipeline.run_index`, plus window, hop,
        fps, frames_per_window, frame_chunk (default: the library's recorded settings) and rebuild."""
        from indexer.pipeline import run_index
        from indexer.settings import RECORDED, settings_for_library

        given = {k: options.pop(k) for k in list(options) if k in RECORDED}
        rebuild = options.pop("rebuild", False)
        self.close()
        with LibraryStore.open(self.path, self.models.fingerprint(), create=True, rebuild=rebuild) as store:
            settings = settings_for_library(
                store,
                **given,
                rebuild=rebuild,
                frame_preprocessing=self.models.clip.frame_preprocessing,
                audio_frames=self.models.frames is not None,
            )
            return run_index([str(p) for p in paths], store, self.models, settings, **options)

    def status(self) -> LibraryStatus:
        return self.store.status()

    # ------------------------------------------------------------------ queries
    def search(
        self,
        text: str | None = None,
        *,
        audio=None,
        video=None,
        like: str | tuple[str, float, float] | None = None,
        target: str | None = None,
        k: int = 10,
        offset: int = 0,
        min_prob: float | None = None,
        all_segments: bool = False,
        kinds: tuple[str, ...] | None = None,
        path_prefix: str | None = None,
        path_glob: str | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        modified_after: float | None = None,
        modified_before: float | None = None,
    ) -> list[Hit]:
        """Search the library. `audio`/`video`: a file path, or (array, rate) / (frames uint8, fps).

        `target` is audio, video or audio_video (default: text searches audio and video and
        merges them by probability; audio searches video; video searches audio)."""
        if k < 1 or offset < 0:
            raise QueryError("-k must be at least 1 and --offset at least 0")
        filters = SearchFilter(
            kinds=tuple(kinds) if kinds else None,
            path_prefix=path_prefix,
            path_glob=path_glob,
            min_duration=min_duration,
            max_duration=max_duration,
            modified_after=modified_after,
            modified_before=modified_before,
        )
        targets = (target,) if target else None
        if like is not None:
            if text or audio is not None or video is not None:
                raise QueryError("--like stands alone: drop TEXT, --audio and --video")
            vectors, fixed, media_id = self._like(like, target)
            engine = self._engine(with_models=False)
            hits = engine.search(
                "like", vectors, k=k + 1, offset=offset, min_prob=min_prob, all_segments=all_segments,
                filters=filters, fixed_routes=[fixed],
            )  # fmt: skip
            return [h for h in hits if h.media_id != media_id][:k]  # not the file asked about
        kind = query_kind(text, audio, video)
        vectors = self._query_vectors(text, audio, video)
        return self._engine(with_models=True).search(
            kind,
            vectors,
            targets,
            k=k,
            offset=offset,
            min_prob=min_prob,
            all_segments=all_segments,
            filters=filters,
        )

    def locate(
        self,
        text: str,
        path: str | Path | None = None,
        threshold: float = 0.3,
        min_duration: float = 0.0,
        k: int = 20,
    ) -> list[LocatedSpan]:
        """Where does `text` happen: spans across the library, or inside one file (encoded on the
        fly if it is not in the library)."""
        query_kind(text, None, None)
        if not 0 < threshold < 1:
            raise QueryError("--threshold is a probability between 0 and 1")
        models = self.models
        if models.frames is None:
            raise QueryError("this library was built without a frame model: re-index with --frame-model")
        query = models.frames.embed_text([text], ["text_audio_frame"])["text_audio_frame"][0]
        engine = self._engine(with_models=True)
        if path is None:
            return engine.locate(query, threshold, min_duration, k=k)
        resolved = str(Path(path).expanduser().resolve())
        media = self.store.find_media(resolved)
        if media is not None and media.status in SEARCHABLE_STATUSES and media.has_audio:
            return engine.locate(query, threshold, min_duration, media_id=media.id, path=resolved)
        return self._locate_unindexed(resolved, query, threshold, min_duration)

    # ------------------------------------------------------------------ helpers
    def _query_vectors(self, text, audio, video) -> QueryVectors:
        models = self.models
        audio_clip = query_audio(audio) if audio is not None else None
        video_clip = query_video(video, models.clip.frame_preprocessing) if video is not None else None

        def embed(embedding: str) -> np.ndarray:
            encoder = models.encoder_for(embedding)
            if embedding.startswith("text_"):
                return encoder.embed_text([text], [embedding])[embedding][0]
            if embedding == "audio":
                return encoder.embed_audio([audio_clip])[0]
            if embedding == "video":
                return encoder.embed_video([video_clip])[0]
            if embedding == "audio_plus_text":
                return encoder.embed_audio_plus_text([audio_clip], [text])[0]
            if embedding == "video_plus_text":
                return encoder.embed_video_plus_text([video_clip], [text])[0]
            raise KeyError(embedding)

        parts = {name for name, value in (("text", text), ("audio", audio), ("video", video)) if value}
        return QueryVectors(embed, frozenset(parts))

    def _like(self, like, target: str | None) -> tuple[QueryVectors, Route, int]:
        """A stored segment as the query: its own vectors, no model needed."""
        if isinstance(like, str):
            match = LIKE.match(like)
            if match is None:
                raise QueryError(f"--like takes PATH@START-END (seconds or mm:ss), got {like!r}")
            path, start, end = match["path"], _seconds(match["start"]), _seconds(match["end"])
        else:
            path, start, end = like
        resolved = str(Path(path).expanduser().resolve())
        media = self.store.find_media(resolved)
        if media is None or media.status not in SEARCHABLE_STATUSES:
            raise QueryError(f"{path} is not indexed: index it first, or query with --audio/--video")
        own = {}
        for space in ("audio", "video", "audio_video"):
            found = self.store.segment_vectors(media.id, space, start, end)
            if len(found):
                overlap = np.minimum(found.ends, end) - np.maximum(found.starts, start)
                own[space] = found.vectors[int(np.argmax(overlap))]
        if not own:
            raise QueryError(f"{path} has no clip segments between {start} and {end} s")
        target = target or ("video" if "video" in own else "audio")
        if target == "video":
            fixed = (
                Route("audio", "video", "audio", "audio_video")
                if "audio" in own
                else Route("video", "video", "video", None)
            )
        elif target == "audio":
            fixed = (
                Route("video", "audio", "video", "audio_video")
                if "video" in own
                else Route("audio", "audio", "audio", None)
            )
        elif target == "audio_video" and "audio_video" in own:
            fixed = Route("audio_video", "audio_video", "audio_video", None)
        else:
            raise QueryError(f"the segment has no vectors to search {target} with")

        def no_model(embedding: str) -> np.ndarray:
            raise QueryError(f"a --like query cannot compute {embedding}")

        return QueryVectors(no_model, frozenset(), dict(own)), fixed, media.id

    def _locate_unindexed(self, path: str, query: np.ndarray, threshold: float, min_duration: float):
        from pe_search.media.audio import iter_audio
        from pe_search.media.probe import probe

        info = probe(path)
        if not info.has_audio:
            raise MediaError(path, "has no audio stream to locate sounds in")
        frames = self.models.frames
        starts, vectors = [], []
        for chunk in iter_audio(path, chunk_seconds=30.0):
            embedded = frames.embed_audio_frames([chunk.samples])[0]
            count = int(np.ceil(chunk.samples.size / frames.audio.hop_length))
            vectors.append(embedded[:count])
            starts.append(chunk.start + np.arange(count) * frames.frame_seconds)
        starts_all = np.concatenate(starts)
        ends_all = np.minimum(starts_all + frames.frame_seconds, starts_all[-1] + frames.frame_seconds)
        probabilities = frames.calibration("text_audio_frame").probability(np.concatenate(vectors) @ query)
        note = "not in the library: encoded on the fly"
        return [
            LocatedSpan(path, s.start, s.end, s.probability, note)
            for s in frames_to_spans(starts_all, ends_all, probabilities, threshold, min_duration)
        ]


def _seconds(text: str) -> float:
    """ "75.5", "1:15.5" or "1:01:15" -> seconds."""
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + float(part)
    return value
