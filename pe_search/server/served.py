"""The one `Library` a server process holds, and the lock its queries take.

The library opens its store and loads its models once (Library guards that with its own lock);
queries then run one at a time under `query_lock`, since a tokenizer must not be shared across
threads mid-call and the model uses every core anyway. Reads that need no model (files, media,
status) run beside them. Each query reads the store's last committed state: the store brings its
indexes up to the newest generation another process (`pe-search index`) committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import HTTPException, Request

from pe_search.api import Library
from pe_search.server.config import ServerConfig
from pe_search.server.indexing import IndexRunner
from pe_search.store import MediaInfo

# The store's ids are SQLite integers: an id past them names no file (and must not reach the store,
# whose driver cannot even bind it).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ServedLibrary:
    def __init__(self, config: ServerConfig, library: Library | None = None) -> None:
        self.config = config
        self.library = library or Library.open(config.library)
        self.query_lock = threading.Lock()
        self.indexing = IndexRunner(self.library, config.index_folders, config.run_options())
        if config.watch:
            self.indexing.watch()

    @contextmanager
    def querying(self) -> Iterator[Library]:
        with self.query_lock:
            yield self.library

    def warm_up(self) -> None:
        """Open the store, read its indexes ahead and load the models now rather than on the first
        query."""
        self.library.store.warm_up()
        _ = self.library.models

    def file(self, file_id: int) -> MediaInfo:
        """The library's file with this id, or 404: ids are the only way a client names a file."""
        media = self.library.file(file_id) if INT64_MIN <= file_id <= INT64_MAX else None
        if media is None:
            raise HTTPException(404, f"no file with id {file_id} in the library")
        return media

    def file_id_of(self, path: str) -> int | None:
        media = self.library.store.find_media(str(Path(path)))
        return media.id if media is not None else None

    def close(self) -> None:
        self.indexing.close()  # a run stops after its current batch before the library closes
        self.library.close()


def served(request: Request) -> ServedLibrary:
    """FastAPI dependency: the app's library."""
    return request.app.state.served
