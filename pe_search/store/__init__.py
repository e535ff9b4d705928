"""The library store: one directory with a SQLite database (media files, segments, vector ids,
model identity, index state; Alembic migrations applied on open) and, per embedding space, a
durable file of full-precision vectors plus a FAISS index whose type follows the library's size;
frame spaces are kept as one block of coded frames per file.

This package is the store's one face: other layers (query, indexer, models, duplicates, the front
doors) import from `pe_search.store` only, never from its modules (an import-linter contract holds
them to it). What is exported here is what they may use: the store and its write transaction,
records and filters, errors, and the constants and helpers other layers need.

See docs/store.md for the layout, the consistency rules and the benchmark.
"""

from pe_search.store.disk import disk_errors
from pe_search.store.duplicate_books import (
    DuplicateUpdate,
    FingerprintEntry,
    GroupedMedia,
    Postings,
    SavedDuplicates,
    SlotRows,
)
from pe_search.store.errors import (
    LibraryBusyError,
    LibraryDamagedError,
    LibraryDiskFullError,
    LibraryNotFoundError,
    LibraryReadOnlyError,
    LibraryVersionError,
    ModelMismatchError,
    ModelRecordError,
    TextIndexDamagedError,
)
from pe_search.store.filters import SearchFilter
from pe_search.store.frame_codes import DEFAULT_FRAME_CODES, FRAME_CODES
from pe_search.store.frame_records import FramePolicy
from pe_search.store.frame_slice import FrameScan, FrameSlice
from pe_search.store.layout import DEFAULT_LIBRARY, LIBRARY_ENV, LibraryLayout, resolve_library_dir
from pe_search.store.library import LibraryStore
from pe_search.store.model_record import recorded_model_ids
from pe_search.store.policy import IndexPolicy
from pe_search.store.records import (
    DamagedFrames,
    LibraryStatus,
    MediaInfo,
    MediaRecord,
    SearchHit,
    SegmentRecord,
    SegmentVectors,
    SpaceStatus,
    media_kind,
)
from pe_search.store.schema import SEARCHABLE_STATUSES
from pe_search.store.tags import NO_LABEL, FileTagsRecord, RecordedVocabulary, SegmentTags
from pe_search.store.text_index import TextEntryRecord, TextMatch, path_entries
from pe_search.store.transaction import WriteTransaction
from pe_search.store.vectors import IndexSpec

__all__ = [
    "DuplicateUpdate",
    "FingerprintEntry",
    "GroupedMedia",
    "Postings",
    "SavedDuplicates",
    "SlotRows",
    "DEFAULT_FRAME_CODES",
    "DEFAULT_LIBRARY",
    "FRAME_CODES",
    "LIBRARY_ENV",
    "SEARCHABLE_STATUSES",
    "DamagedFrames",
    "FramePolicy",
    "FrameScan",
    "FrameSlice",
    "IndexPolicy",
    "IndexSpec",
    "NO_LABEL",
    "FileTagsRecord",
    "RecordedVocabulary",
    "SegmentTags",
    "LibraryBusyError",
    "LibraryDamagedError",
    "LibraryDiskFullError",
    "TextIndexDamagedError",
    "LibraryLayout",
    "LibraryNotFoundError",
    "LibraryReadOnlyError",
    "LibraryStatus",
    "LibraryStore",
    "LibraryVersionError",
    "MediaInfo",
    "MediaRecord",
    "ModelMismatchError",
    "ModelRecordError",
    "SearchFilter",
    "SearchHit",
    "SegmentRecord",
    "SegmentVectors",
    "SpaceStatus",
    "TextEntryRecord",
    "TextMatch",
    "WriteTransaction",
    "disk_errors",
    "media_kind",
    "path_entries",
    "recorded_model_ids",
    "resolve_library_dir",
]
