"""The library store: one directory with a SQLite database (media files, segments, vector ids,
model identity, index state; Alembic migrations applied on open) and, per embedding space, a
durable file of full-precision vectors plus a FAISS index whose type follows the library's size.

See docs/store.md for the layout, the consistency rules and the benchmark.
"""

from pe_search.store.errors import (
    LibraryBusyError,
    LibraryClosedError,
    LibraryDamagedError,
    LibraryNotFoundError,
    LibraryVersionError,
    ModelMismatchError,
)
from pe_search.store.filters import SearchFilter
from pe_search.store.identity import ModelIdentity
from pe_search.store.layout import DEFAULT_LIBRARY, LIBRARY_ENV, LibraryLayout, resolve_library_dir
from pe_search.store.library import LibraryStore
from pe_search.store.policy import IndexPolicy
from pe_search.store.records import (
    LibraryStatus,
    MediaInfo,
    MediaRecord,
    SearchHit,
    SegmentRecord,
    SegmentVectors,
    SpaceStatus,
)
from pe_search.store.transaction import WriteTransaction
from pe_search.store.vectors import IndexSpec

__all__ = [
    "DEFAULT_LIBRARY",
    "LIBRARY_ENV",
    "IndexPolicy",
    "IndexSpec",
    "LibraryBusyError",
    "LibraryClosedError",
    "LibraryDamagedError",
    "LibraryLayout",
    "LibraryNotFoundError",
    "LibraryStatus",
    "LibraryStore",
    "LibraryVersionError",
    "MediaInfo",
    "MediaRecord",
    "ModelIdentity",
    "ModelMismatchError",
    "SearchFilter",
    "SearchHit",
    "SegmentRecord",
    "SegmentVectors",
    "SpaceStatus",
    "WriteTransaction",
    "resolve_library_dir",
]
