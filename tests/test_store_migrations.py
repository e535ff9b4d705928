"""Migrations: applied on open, upgrading an old library keeps its rows, models == migrations."""

from __future__ import annotations

import sqlite3

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from test_store_support import make_identity

from pe_search.store import LibraryLayout, LibraryStore, LibraryVersionError
from pe_search.store.database import alembic_config, head_revision, open_engine, upgrade
from pe_search.store.schema import Base, is_managed_table


@pytest.fixture
def library(tmp_path):
    return tmp_path / "library"


@pytest.fixture
def identity():
    return make_identity()


def _make_revision_1_library(library) -> None:
    """A library as the first migration made it, with rows in every table."""
    library.mkdir(parents=True)
    (library / "vectors").mkdir()
    engine = open_engine(LibraryLayout(library).database, writer=True)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    db = sqlite3.connect(LibraryLayout(library).database)
    db.executescript(
        """
        INSERT INTO media_files (id, path, size, mtime, content_hash, duration, has_audio, has_video, status, error)
        VALUES (1, '/m/song.flac', 10, 1.0, 'aa', 3.5, 1, 0, 'indexed', NULL),
               (2, '/m/clip.mp4', 20, 2.0, 'bb', 7.0, 1, 1, 'indexed', NULL),
               (3, '/m/broken.mp4', 30, 3.0, NULL, NULL, 0, 0, 'failed', 'no streams');
        INSERT INTO segments (id, media_file_id, start_s, end_s, level) VALUES
               (1, 1, 0.0, 3.5, 'clip'), (2, 2, 0.0, 7.0, 'clip'), (3, 2, 0.0, 0.04, 'frame');
        INSERT INTO model_fingerprint (id, model_ids, config_hash, weights_hash, dim, calibration)
        VALUES (1, '["facebook/pe-av-small"]', 'cccc', 'wwww', 16, '{}');
        """
    )
    db.commit()
    db.close()


def test_new_library_is_created_at_head(library, identity):
    with LibraryStore.open(library, identity) as store:
        assert store.status().schema_revision == head_revision()
    assert head_revision() != "0001", "there must be a migration after the initial one"


def test_upgrade_from_first_migration_keeps_rows(library):
    _make_revision_1_library(library)
    with LibraryStore.open(library) as store:  # no identity: keep the stored one
        assert any(f"0001 to {head_revision()}" in message for message in store.messages)
        assert store.status().schema_revision == head_revision()
        song, clip, broken = (store.find_media(p) for p in ("/m/song.flac", "/m/clip.mp4", "/m/broken.mp4"))
        assert song.duration == 3.5 and song.content_hash == "aa"
        assert broken.status == "failed" and broken.error == "no streams"
        assert store.find_media_by_hash("bb")[0].path == "/m/clip.mp4"
        assert store.status().segments == 3
        assert store.identity.model_ids == ("facebook/pe-av-small",)
    db = sqlite3.connect(LibraryLayout(library).database)
    kinds = dict(db.execute("SELECT path, kind FROM media_files"))
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert kinds == {"/m/song.flac": "audio", "/m/clip.mp4": "video", "/m/broken.mp4": "audio"}
    assert {"ix_media_files_content_hash", "ix_segments_media_file_id", "ix_vectors_segment_id"} <= indexes


def test_autogenerate_finds_no_difference(library, identity):
    LibraryStore.open(library, identity).close()
    engine = open_engine(LibraryLayout(library).database, writer=False)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": lambda name, type_, _: type_ != "table" or is_managed_table(name)},
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_unknown_newer_revision_is_refused(library, identity):
    LibraryStore.open(library, identity).close()
    db = sqlite3.connect(LibraryLayout(library).database)
    db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.commit()
    db.close()
    with pytest.raises(LibraryVersionError, match="newer pe-search"):
        LibraryStore.open(library, identity)
    with pytest.raises(LibraryVersionError, match="newer pe-search"):
        LibraryStore.open(library, identity, readonly=True)


def test_reader_refuses_old_schema_and_writer_upgrades(library):
    _make_revision_1_library(library)
    with pytest.raises(LibraryVersionError, match="open the library for writing"):
        LibraryStore.open(library, readonly=True)
    engine = open_engine(LibraryLayout(library).database, writer=True)
    assert upgrade(engine) == [
        "0002",
        "0003",
        "0004_frame_blocks",
        "0003_text_search",
        "0004_audio_fingerprints",
        "0005",
        "0006_source_timecodes",
        "0007_frame_block_checksums",
        "0008_tags",
        "0009_media_status_index",
        "0010_transcripts",
        "0011_duplicate_pairs",
    ]
    assert upgrade(engine) == []
    engine.dispose()
    LibraryStore.open(library, readonly=True).close()
