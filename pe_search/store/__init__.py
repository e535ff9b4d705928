"""The library store: one directory with a SQLite database (media files, segments, vector ids,
model identity, index state; Alembic migrations applied on open) and, per embedding space, a
durable file of full-precision vectors plus a FAISS index whose type follows the library's size;
frame spaces are kept as one block of coded frames per file.

This package is the store's one face: other layers (query, indexer, models, duplicates, the front
doors) import from `pe_search.store` only, never from its modules (an import-linter contract holds
them to it). What is exported here is what they may use: the store and its write transaction,
records and filters, errors, and the constants and helpers other layers need.

See docs/store.md for the layout, the consistency rules and the benchmark.

Its names are loaded on first use (PEP 562): a command that needs only a few of them (`pe-search
status` reads SQLite alone) does not pay for importing FAISS, NumPy and Alembic behind the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from pe_search.store.frame_slice import FrameScan, FrameSlice, scan_slices
    from pe_search.store.layout import DEFAULT_LIBRARY, LIBRARY_ENV, LibraryLayout, resolve_library_dir
    from pe_search.store.library import LibraryStore
    from pe_search.store.lock import WriterLock
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
    from pe_search.store.transcripts import SpokenWord, TranscriptPhrase, TranscriptRecord
    from pe_search.store.vectors import IndexSpec

# name -> the module of this package that defines it
_EXPORTS = {
    "disk_errors": "disk",
    "DuplicateUpdate": "duplicate_books",
    "FingerprintEntry": "duplicate_books",
    "GroupedMedia": "duplicate_books",
    "Postings": "duplicate_books",
    "SavedDuplicates": "duplicate_books",
    "SlotRows": "duplicate_books",
    "LibraryBusyError": "errors",
    "LibraryDamagedError": "errors",
    "LibraryDiskFullError": "errors",
    "LibraryNotFoundError": "errors",
    "LibraryReadOnlyError": "errors",
    "LibraryVersionError": "errors",
    "ModelMismatchError": "errors",
    "ModelRecordError": "errors",
    "TextIndexDamagedError": "errors",
    "SearchFilter": "filters",
    "DEFAULT_FRAME_CODES": "frame_codes",
    "FRAME_CODES": "frame_codes",
    "FramePolicy": "frame_records",
    "FrameScan": "frame_slice",
    "FrameSlice": "frame_slice",
    "scan_slices": "frame_slice",
    "DEFAULT_LIBRARY": "layout",
    "LIBRARY_ENV": "layout",
    "LibraryLayout": "layout",
    "resolve_library_dir": "layout",
    "LibraryStore": "library",
    "WriterLock": "lock",
    "recorded_model_ids": "model_record",
    "IndexPolicy": "policy",
    "DamagedFrames": "records",
    "LibraryStatus": "records",
    "MediaInfo": "records",
    "MediaRecord": "records",
    "SearchHit": "records",
    "SegmentRecord": "records",
    "SegmentVectors": "records",
    "SpaceStatus": "records",
    "media_kind": "records",
    "SEARCHABLE_STATUSES": "schema",
    "NO_LABEL": "tags",
    "FileTagsRecord": "tags",
    "RecordedVocabulary": "tags",
    "SegmentTags": "tags",
    "TextEntryRecord": "text_index",
    "TextMatch": "text_index",
    "path_entries": "text_index",
    "WriteTransaction": "transaction",
    "SpokenWord": "transcripts",
    "TranscriptPhrase": "transcripts",
    "TranscriptRecord": "transcripts",
    "IndexSpec": "vectors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
    "scan_slices",
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
    "SpokenWord",
    "TextEntryRecord",
    "TextMatch",
    "TranscriptPhrase",
    "TranscriptRecord",
    "WriteTransaction",
    "WriterLock",
    "disk_errors",
    "media_kind",
    "path_entries",
    "recorded_model_ids",
    "resolve_library_dir",
]
