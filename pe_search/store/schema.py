"""The library's tables (SQLAlchemy 2 declarative). Migrations in `migrations/versions` must build
exactly this; `tests/test_store_migrations.py` checks that autogenerate finds no difference.

Vector ids are per space and never reused: `index_state.next_vector_id` only grows, and row `i` of
the space's vector file holds vector `i`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints let Alembic's batch mode (table copy on SQLite) find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# partial: indexed for what decodes (`error` says why the rest did not); ignored: not audio or
# video (`error` says what it is), kept so later runs skip it without opening it again; sidecar:
# subtitles or text beside a media file of its stem (read into full-text search with it).
MEDIA_STATUSES = ("pending", "indexed", "partial", "failed", "ignored", "sidecar")
SEARCHABLE_STATUSES = ("indexed", "partial")
SEGMENT_LEVELS = ("clip", "frame")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MediaFile(Base):
    """One audio or video file. `kind` is "video" when it has a picture stream, else "audio"."""

    __tablename__ = "media_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String, unique=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime: Mapped[float] = mapped_column(Float)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    duration: Mapped[float | None] = mapped_column(Float)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    has_video: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(8))


class Segment(Base):
    """A stretch of a media file with vectors: a clip window or one frame (`level`)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_file_id: Mapped[int] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))


class Vector(Base):
    """Which segment a vector of a space belongs to; the vector itself is in the space's file."""

    __tablename__ = "vectors"

    space: Mapped[str] = mapped_column(String(32), primary_key=True)
    vector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)


class ModelIdentityRow(Base):
    """The model that built the library (one row, id 1)."""

    __tablename__ = "model_fingerprint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_ids: Mapped[list[str]] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64))
    weights_hash: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    calibration: Mapped[dict[str, Any]] = mapped_column(JSON)


class IndexSettingsRow(Base):
    """How the library's files were cut and sampled (one row, id 1; JSON written by the indexer)."""

    __tablename__ = "index_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)


class IndexState(Base):
    """Per space: the committed truth (`generation`, `count`, `next_vector_id`) and the last saved index.

    `generation` grows with every commit that changes the space's vectors. An index file records the
    generation it holds; when that is behind (a crash before the index was saved), opening the
    library brings it up to date from the stored vectors.
    """

    __tablename__ = "index_state"

    space: Mapped[str] = mapped_column(String(32), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    next_vector_id: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    count: Mapped[int] = mapped_column(Integer, default=0)
    index_type: Mapped[str] = mapped_column(String(16))
    index_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_generation: Mapped[int] = mapped_column(Integer, default=-1)
    # CRC-32 of the vector file's rows [0, next_vector_id); NULL in libraries made before it existed
    vectors_crc32: Mapped[int | None] = mapped_column(Integer)


class FrameFile(Base):
    """Per frame space: the live block file (`generation`), its committed `tail`, the bytes and
    frames of live blocks, and the code the library asked for (with the PQ codebook once trained).

    Bytes between `live_bytes` and `tail` are dead (freed blocks) until compaction.
    """

    __tablename__ = "frame_files"

    space: Mapped[str] = mapped_column(String(32), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    tail: Mapped[int] = mapped_column(Integer, default=0)
    live_bytes: Mapped[int] = mapped_column(Integer, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    codes: Mapped[str] = mapped_column(String(8))
    codebook_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    codebook: Mapped[bytes | None] = mapped_column(LargeBinary)


class FrameBlock(Base):
    """One block: a file's frames of one space, at `offset` in the space's live block file."""

    __tablename__ = "frame_blocks"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    space: Mapped[str] = mapped_column(String(32), primary_key=True)
    offset: Mapped[int] = mapped_column(Integer)
    nbytes: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    encoding: Mapped[str] = mapped_column(String(8))
    # CRC-32 of each 1 MiB piece of the block (store/checksums.py), uint32 little endian; NULL in
    # blocks written before migration 0006 until a writer opens the library
    crcs: Mapped[bytes | None] = mapped_column(LargeBinary)


class VectorChunk(Base):
    """CRC-32 of one chunk (`checksums.CHUNK_BYTES`) of a space's vector file, over the rows the
    library holds; the last chunk's is continued by each commit that appends to it."""

    __tablename__ = "vector_chunks"

    space: Mapped[str] = mapped_column(String(32), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    crc32: Mapped[int] = mapped_column(Integer)


class ScrubState(Base):
    """Where the last writer's open stopped verifying checksums (a byte position in the order
    `store/scrub.py` walks them), so the next open goes on from there."""

    __tablename__ = "scrub_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


# Filtered search narrows by media kind and date together.
Index("ix_media_files_kind_mtime", MediaFile.kind, MediaFile.mtime)
# The status report counts files by status and lists the failed ones by path (migration 0009).
Index("ix_media_files_status_path", MediaFile.status, MediaFile.path)


class TextEntry(Base):
    """A piece of text a media file carries: its name, folder, a container tag, a subtitle cue or
    a same-stem .txt. `start_s`/`end_s` are set for timed text (subtitle cues). Searched through
    the FTS5 table `text_fts` (external content, kept in step by triggers; see text_index.py)."""

    __tablename__ = "text_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_file_id: Mapped[int] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(64))
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


class TextSource(Base):
    """What a file's text entries were read from (sidecar names, sizes, mtimes), to re-read on change."""

    __tablename__ = "text_sources"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    signature: Mapped[str] = mapped_column(String(64))


class AudioFingerprint(Base):
    """A file's audio fingerprint (`pe_search.duplicates.audio_fingerprint`): uint32 codes, little
    endian, one per hop; 0 marks a quiet frame. `content_hash` is the file content it was made from."""

    __tablename__ = "audio_fingerprints"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    codes: Mapped[bytes] = mapped_column(LargeBinary)


class DuplicateState(Base):
    """What `pe-search duplicates` learnt about one kind of file ("audio", "video"), so a later run
    matches only what is new (pe_search/duplicates/incremental.py): the match settings and
    fingerprint version it holds for (`settings`, a digest), and the next slot to hand out (slots
    are never reused, so postings of a file that went away never come back to life)."""

    __tablename__ = "duplicate_state"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    settings: Mapped[str] = mapped_column(String(64))
    next_slot: Mapped[int] = mapped_column(Integer)


class DuplicateSlot(Base):
    """A fingerprint the duplicate postings hold, under its slot: which file, and which of its
    fingerprints (content hash, version, size: a changed file gets a new slot). No foreign key:
    the next run reads what went away here, to drop its pairs and recount its keys."""

    __tablename__ = "duplicate_slots"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    media_file_id: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    code_bytes: Mapped[int] = mapped_column(Integer)
    share_bits: Mapped[int] = mapped_column(Integer)


class DuplicatePostings(Base):
    """One chunk of a sorted posting list of duplicate lookup: `book` "keys" (every slot's lookup
    keys) or "codes" (the codes of short files, with their unreliable bits in `masks`), little
    endian arrays of uint32 values, uint32 slots, uint16 positions. A run adds one segment per
    book; runs of equal values never straddle two chunks."""

    __tablename__ = "duplicate_postings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    book: Mapped[str] = mapped_column(String(8))
    segment: Mapped[int] = mapped_column(Integer)
    values: Mapped[bytes] = mapped_column(LargeBinary)
    slots: Mapped[bytes] = mapped_column(LargeBinary)
    positions: Mapped[bytes] = mapped_column(LargeBinary)
    masks: Mapped[bytes | None] = mapped_column(LargeBinary)


Index("ix_duplicate_postings_kind_book", DuplicatePostings.kind, DuplicatePostings.book)


class DuplicatePair(Base):
    """Two files (a < b by media id) that hold the same recording: b's code at p + offset is a's
    at p. Deleting either file drops the pair; a changed one's pairs go at the next run."""

    __tablename__ = "duplicate_pairs"

    a: Mapped[int] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True)
    b: Mapped[int] = mapped_column(ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True)
    offset: Mapped[int] = mapped_column(Integer)
    bit_error: Mapped[float] = mapped_column(Float)
    frames: Mapped[int] = mapped_column(Integer)


Index("ix_duplicate_pairs_b", DuplicatePair.b)


# FTS5 keeps its index in these tables, made by migration 0003_text_search (not models: SQLAlchemy
# cannot describe a virtual table). Autogenerate comparisons skip them (`is_managed_table`).
FTS_TABLE = "text_fts"


def is_managed_table(name: str) -> bool:
    """False for FTS5's virtual and shadow tables, which the migrations own outright."""
    return not (name == FTS_TABLE or name.startswith(FTS_TABLE + "_"))


class SourceTimecodeRow(Base):
    """A file's source timecode as read at index time (`pe_search.media.timecode`): the clock time
    of its first frame in seconds, the frame rate timecode counts at, whether it is drop frame, the
    timecode as shown, where it came from (tag, bext, none) and a note when it did not parse. A
    file without a row has not been read yet (the next index run reads it without re-encoding)."""

    __tablename__ = "source_timecodes"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    start: Mapped[str] = mapped_column(String(16))
    rate: Mapped[float] = mapped_column(Float)
    drop_frame: Mapped[bool] = mapped_column(Boolean)
    start_seconds: Mapped[float] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)


class TagVocabularyRow(Base):
    """The vocabulary the library is tagged with (one row, id 1; issue 23): its name, digest and
    labels as `pe_search.tagging` writes them, so later commands reuse it without the file."""

    __tablename__ = "tag_vocabulary"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    digest: Mapped[str] = mapped_column(String(64))
    labels: Mapped[list[Any]] = mapped_column(JSON)


class LabelEmbeddingRow(Base):
    """Text embeddings of a vocabulary's prompts, computed once per model weights, vocabulary,
    query embedding and prompt form: float32 (count, dim), little endian."""

    __tablename__ = "label_embeddings"

    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    vocabulary: Mapped[str] = mapped_column(String(64), primary_key=True)
    embedding: Mapped[str] = mapped_column(String(32), primary_key=True)
    prompt: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    dim: Mapped[int] = mapped_column(Integer)
    vectors: Mapped[bytes] = mapped_column(LargeBinary)


class TaggedFile(Base):
    """A file's segment tags: for each clip segment of the tagged space in time order, the top
    labels above the threshold as uint16 label ids then uint8 probabilities (p * 255), `width` per
    segment (id 65535: none). `key` names the vocabulary and tagging rule they were computed with."""

    __tablename__ = "tagged_files"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    segments: Mapped[bytes] = mapped_column(LargeBinary)


class FileTag(Base):
    """A file's tag (label id in the recorded vocabulary) with its probability: the summary of its
    segment tags the filters, facets and counts read."""

    __tablename__ = "file_tags"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    probability: Mapped[float] = mapped_column(Float)


class TranscriptRow(Base):
    """A file's transcript (issue 26): the model that heard it (as given, and its weights digest),
    the language, and whether the whole speech stream was heard (`reason` when not). Its phrases
    are text entries of field "transcript" (store/transcripts.py)."""

    __tablename__ = "transcripts"

    media_file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String)
    weights_digest: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    complete: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)


class TranscriptPhraseRow(Base):
    """The words of one transcript phrase (a text entry) with their times: JSON [[text, start,
    end], ...] in seconds from the file's start. Deleted with its entry."""

    __tablename__ = "transcript_phrases"

    entry_id: Mapped[int] = mapped_column(ForeignKey("text_entries.id", ondelete="CASCADE"), primary_key=True)
    words: Mapped[list[Any]] = mapped_column(JSON)


class TranscriptionModelRow(Base):
    """The library's transcription model (one row, id 1): as given and its weights digest."""

    __tablename__ = "transcription_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String)
    weights_digest: Mapped[str] = mapped_column(String(64))
