"""A library directory opened for reading or writing: SQLite and one FAISS index per space kept
consistent, whatever moment a previous process was killed at.

    store = LibraryStore.open(library_dir, identity)         # creates, migrates, checks, repairs
    with store.write() as tx:                                 # one unit per media file
        media_id = tx.upsert_media(MediaRecord(path=..., size=..., mtime=...))
        segment_ids = tx.add_segments(media_id, [SegmentRecord(0.0, 10.0, "clip")])
        ids = tx.add_vectors("audio", segment_ids, vectors)  # float32 [n, d] -> stable ids
    hits = store.search("audio", queries, k=10, filters=SearchFilter(kinds=("video",)))

One process writes (an exclusive lock file; one transaction at a time within it); any number of
processes read (`readonly=True`): each read transaction sees one committed SQLite snapshot and
their in-memory indexes catch up with it before a search.

Each job is a module of its own, over the shared state of store/core.py: opening (and what the
library was built with) in opening.py, its repairs in repair.py, writing in writing.py, rows in
reading.py, vectors in searching.py, the status report in status.py.
"""

from __future__ import annotations

from pe_search.store.opening import Opening
from pe_search.store.reading import Reading
from pe_search.store.searching import Searching
from pe_search.store.space_index import SpaceIndex
from pe_search.store.status import Reporting
from pe_search.store.tag_access import TagAccess
from pe_search.store.transcript_access import TranscriptAccess


class LibraryStore(Opening, Reading, Searching, Reporting, TagAccess, TranscriptAccess):
    """Use `LibraryStore.open(...)`; close it (or use it as a context manager) when done."""

    def space_index(self, name: str) -> SpaceIndex | None:
        """The in-memory index of a space as this store holds it now (None: not loaded), for
        maintenance and tests; searches go through `search`/`search_ids`."""
        with self._spaces_lock:
            return self._spaces.get(name)
