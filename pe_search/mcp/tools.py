"""The four tools, as plain functions of validated arguments: each calls the `Library` (the query
entry point the CLI and the HTTP API call too) and answers a JSON-ready dict. Queries run one at a
time, as the HTTP server runs them (a tokenizer must not be shared across threads mid-call)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pe_search.api import Library
from pe_search.errors import Option, PeSearchError
from pe_search.mcp.arguments import FileArguments, LocateArguments, SearchArguments, StatusArguments
from pe_search.mcp.results import (
    LocateResult,
    McpFile,
    MediaUrls,
    SearchResult,
    file_result,
    hit_result,
    span_result,
)
from pe_search.media.probe import probe
from pe_search.models.catalogue import CATALOGUE
from pe_search.status_report import status_report


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what it is for, its arguments' model and its answer's (None: free-form)."""

    name: str
    description: str
    arguments: type[BaseModel]
    result: type[BaseModel] | None
    run: Callable[[Any], dict[str, Any]]


class LibraryTools:
    """The tools over one open library. `allow_paths`: may `search` read a file path the client
    sends (yes over stdio, where the client is the user who started it; no over HTTP)."""

    def __init__(self, library: Library, urls: MediaUrls, *, allow_paths: bool) -> None:
        self.library = library
        self.urls = urls
        self.allow_paths = allow_paths
        self._query_lock = threading.Lock()

    def warm_up(self) -> None:
        """Read the indexes ahead and load the models now (a background thread at start), so the
        first query does not wait for them as long; a model that cannot load is left for that
        query to word."""
        with contextlib.suppress(PeSearchError):
            self.library.store.warm_up()
        with contextlib.suppress(PeSearchError):
            _ = self.library.models

    def specs(self) -> list[ToolSpec]:
        return [
            ToolSpec(
                "search",
                "Search the media library by meaning: words (q), a sound or clip file (file), or a range "
                "of an indexed file (like); filters by kind, folder, glob, duration, date. Hits carry "
                "the file's path, start and end (s), and the model's probability; a hit on spoken words "
                '(q finds them in transcripts; "quoted phrases" match in order) carries the words with '
                "their times.",
                SearchArguments,
                SearchResult,
                self.search,
            ),
            ToolSpec(
                "locate",
                "Where a described sound happens (40 ms spans from the frame model), across the library "
                "or inside one indexed file (file_id). Spans carry path, start, end and probability.",
                LocateArguments,
                LocateResult,
                self.locate,
            ),
            ToolSpec(
                "file", "One indexed file's details, by its file_id.", FileArguments, McpFile, self.file
            ),
            ToolSpec(
                "status",
                "What the library holds: models, files by status, segments, failures.",
                StatusArguments,
                None,
                self.status,
            ),
        ]

    def search(self, arguments: SearchArguments) -> dict[str, Any]:
        like = None
        if arguments.like is not None:
            media = self._file(arguments.like.file_id, "like.file_id")
            like = (media.path, arguments.like.start, arguments.like.end)
        streams = self._query_file(arguments) if arguments.file is not None else {}
        filters = arguments.library_filters()
        with self._query_lock:
            hits = self.library.search(
                arguments.q if like is None else (arguments.q or None),
                like=like,
                target=arguments.target,
                k=arguments.k,
                offset=arguments.offset,
                min_prob=arguments.min_prob,
                all_segments=arguments.all_segments,
                mode=arguments.mode,
                **streams,
                **filters,
            )
        query = arguments.model_dump(mode="json", exclude_none=True)
        return SearchResult(query=query, hits=[hit_result(h, self.urls) for h in hits]).model_dump(
            mode="json"
        )

    def _query_file(self, arguments: SearchArguments) -> dict[str, str]:
        """{"audio" or "video": path}: the file's stream that queries (the asked one, else the one
        that crosses to the target, else its picture, else its sound)."""
        if not self.allow_paths:
            raise PeSearchError(
                "{0} reads paths on the server's machine only over stdio",
                "search with {1} (a range of an indexed file) or q",
                options=(Option("file"), Option("like")),
            )
        found = probe(arguments.file)  # MediaError (not media, unreadable) names the file
        has = {"audio": found.has_audio, "video": found.has_video}
        if arguments.use is not None and not has[arguments.use]:
            raise PeSearchError(
                f"{{0}}: the file has no {'sound' if arguments.use == 'audio' else 'picture'}",
                options=(Option("use"),),
                value=arguments.use,
            )
        crossing = CATALOGUE.like_sources(arguments.target) if arguments.target else ()
        order = (arguments.use,) if arguments.use else (*crossing, "video", "audio")
        stream = next(s for s in order if has.get(s))
        return {stream: arguments.file}

    def locate(self, arguments: LocateArguments) -> dict[str, Any]:
        path = self._file(arguments.file_id, "file_id").path if arguments.file_id is not None else None
        with self._query_lock:
            spans = self.library.locate(
                arguments.q,
                path=path,
                threshold=arguments.threshold,
                min_duration=arguments.min_duration,
                k=arguments.k,
            )
        ids: dict[str, int | None] = {}
        for span in spans:
            if span.path not in ids:
                media = self.library.store.find_media(span.path)
                ids[span.path] = media.id if media is not None else None
        found = [span_result(span, ids[span.path], self.urls) for span in spans]
        return LocateResult(spans=found).model_dump(mode="json")

    def file(self, arguments: FileArguments) -> dict[str, Any]:
        return file_result(self._file(arguments.file_id, "file_id"), self.urls).model_dump(mode="json")

    def status(self, _arguments: StatusArguments) -> dict[str, Any]:
        report = status_report(self.library.store, self.library.path).as_dict()
        return {**report, "media_url": self.urls.base}

    def _file(self, file_id: int, argument: str):
        media = self.library.file(file_id) if file_id < 2**63 else None
        if media is None:
            raise PeSearchError(
                "{0}: no file with this id in the library",
                "use a file_id from a search hit or span",
                options=(Option(argument),),
                value=file_id,
            )
        return media
