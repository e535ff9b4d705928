"""Full-text side of the library: the FTS5 migration, what is read from a file, incremental updates."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

import av
import numpy as np
import pytest
from alembic import command
from test_store_support import make_identity

from indexer.file_text import read_file_text, subtitle_cues
from indexer.pipeline import run_index
from indexer.settings import IndexSettings
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryLayout, LibraryStore, MediaRecord, TextEntryRecord, path_entries
from pe_search.store.database import alembic_config, head_revision, open_engine
from pe_search.store.text_index import fts_query, words
from testkit import media

SRT = """1
00:00:01,000 --> 00:00:02,500
The <i>lighthouse</i> keeper waves

2
00:01:03,250 --> 00:01:05,000
A foghorn sounds twice
"""

VTT = """WEBVTT

intro
00:00.500 --> 00:02.000
Welcome aboard the ferry

00:00:04.000 --> 00:00:06.000 align:start
Seagulls over the harbour
"""


def write_tagged(path, tags: dict[str, str], seconds: float = 1.5, freq: float = 440.0) -> None:
    """An audio file with container tags, written with PyAV."""
    signal = media.tone(freq, seconds, 48_000)
    with av.open(str(path), "w") as container:
        container.metadata.update(tags)
        stream = container.add_stream("flac", rate=48_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(signal, format="fltp", layout="mono")
        frame.sample_rate = 48_000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


# ------------------------------------------------------------------------------------------ pure parts
def test_names_are_split_into_words():
    assert words("door_slam_03") == ["door", "slam", "03"]
    assert words("DoorSlam-take2") == ["Door", "Slam", "take", "2"]
    name, folder = path_entries("/home/me/Foley/Doors/door_slam_03.wav")
    assert (name.field, name.text) == ("name", "door slam 03")
    assert folder.field == "folder" and folder.text == "me / Foley / Doors"


def test_query_words_become_a_literal_any_word_query():
    assert fts_query("a door slams") == '"door" OR "slams"'
    assert fts_query('NEAR("x" AND y') == '"near" OR "x" OR "y"'  # FTS5 syntax taken literally
    assert fts_query("the") == '"the"'  # only stopwords: keep them rather than match nothing
    assert fts_query("  ...  ") is None


def test_quoted_phrases_become_fts5_phrases_and_lone_quotes_stay_punctuation():
    assert fts_query('"we need more time"') == '"we need more time"'  # one phrase, stopwords kept
    assert fts_query('door "the slam" of hinges') == '"door" OR "the slam" OR "hinges"'
    assert (
        fts_query("\u201cneed more\u201d time") == '"need more" OR "time"'
    )  # curly quotes as typed on a Mac
    assert fts_query('door "slam') == fts_query("door slam") == '"door" OR "slam"'  # lone quote
    assert fts_query('a "b" "c" "d') == '"b" OR "c" OR "d"'  # the last of an odd number is the lone one
    assert fts_query('door ""') == '"door"' and fts_query('""') is None  # an empty phrase adds nothing
    assert fts_query('"the" of') == '"the"'  # a quoted stopword is asked for; the loose one is not
    assert fts_query('"NEAR(x" AND y)') == '"near x" OR "y"'  # FTS5 syntax inside a phrase is words too


def test_subtitle_cues_of_srt_and_vtt():
    assert subtitle_cues(SRT) == [
        (1.0, 2.5, "The lighthouse keeper waves"),
        (63.25, 65.0, "A foghorn sounds twice"),
    ]
    assert subtitle_cues(VTT) == [
        (0.5, 2.0, "Welcome aboard the ferry"),
        (4.0, 6.0, "Seagulls over the harbour"),
    ]


def test_file_text_reads_tags_and_sidecars(tmp_path):
    path = tmp_path / "harbour_walk.flac"
    write_tagged(path, {"title": "Harbour at dawn", "artist": "Ada Field", "encoder": "Lavf"})
    (tmp_path / "harbour_walk.en.srt").write_text(SRT)
    (tmp_path / "harbour_walk.txt").write_text("Recorded from the north pier.")
    (tmp_path / "other.srt").write_text(SRT)  # another file's subtitles
    entries = read_file_text(path).entries
    by_field = {(e.field, e.key): e for e in entries}
    assert by_field[("name", None)].text == "harbour walk"
    assert by_field[("tag", "title")].text == "Harbour at dawn"
    assert by_field[("tag", "artist")].text == "Ada Field"
    assert ("tag", "encoder") not in by_field  # technical tags say nothing about the content
    cues = [e for e in entries if e.field == "subtitle"]
    assert [(c.start, c.end, c.key) for c in cues] == [
        (1.0, 2.5, "harbour_walk.en.srt"),
        (63.25, 65.0, "harbour_walk.en.srt"),
    ]
    assert by_field[("text_file", "harbour_walk.txt")].text == "Recorded from the north pier."


# ------------------------------------------------------------------------------------------ the store
def _add_file(store, path, entries, status="indexed"):
    with store.write() as tx:
        media_id = tx.upsert_media(MediaRecord(path=path, size=1, mtime=1.0, status=status, has_audio=True))
        tx.set_text(media_id, path_entries(path) + entries, "sig")
    return media_id


def test_fts_migration_upgrades_an_old_library_and_indexes_text(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    (library / "vectors").mkdir()
    engine = open_engine(LibraryLayout(library).database, writer=True)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    engine.dispose()
    db = sqlite3.connect(LibraryLayout(library).database)
    db.execute(
        "INSERT INTO media_files (id, path, size, mtime, has_audio, has_video, status, kind) "
        "VALUES (1, '/m/old_song.flac', 1, 1.0, 1, 0, 'indexed', 'audio')"
    )
    db.commit()
    db.close()
    with LibraryStore.open(library, make_identity()) as store:
        assert any(f"from 0003 to {head_revision()}" in m for m in store.messages)
        assert store.search_text("song") == []  # the old file's text comes with the next index run
        with store.write() as tx:
            tx.set_text(1, path_entries("/m/old_song.flac"), "sig")
        (hit,) = store.search_text("song")
        assert (hit.path, hit.field, hit.matched_words) == ("/m/old_song.flac", "name", ("song",))
    tables = {
        row[0]
        for row in sqlite3.connect(LibraryLayout(library).database).execute("SELECT name FROM sqlite_master")
    }
    assert {"text_entries", "text_fts", "text_sources", "audio_fingerprints"} <= tables


def test_store_text_follows_moves_and_deletes(tmp_path):
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        subtitle = TextEntryRecord("subtitle", "the ferry horn blows", key="a.srt", start=12.0, end=14.5)
        _add_file(store, "/m/clips/door_slam_03.wav", [subtitle])
        _add_file(store, "/m/clips/rain.wav", [TextEntryRecord("tag", "Door of the barn", key="title")])
        _add_file(store, "/m/failed_door.wav", [], status="failed")
        hits = store.search_text("door slam")
        assert [h.path for h in hits][:2] == ["/m/clips/door_slam_03.wav", "/m/clips/rain.wav"]
        assert hits[0].matched_words == ("door", "slam") and hits[0].field == "name"
        assert hits[1].field == "tag" and hits[1].key == "title" and hits[1].matched_words == ("door",)
        assert "/m/failed_door.wav" not in [h.path for h in hits]  # only indexed files are found
        (cue,) = store.search_text("horn")
        assert (cue.field, cue.start, cue.end) == ("subtitle", 12.0, 14.5)
        assert cue.snippet == "the ferry [horn] blows"

        store.move_media("/m/clips/door_slam_03.wav", "/m/archive/gate_creak.wav")
        assert [h.path for h in store.search_text("slam")] == []
        assert [h.path for h in store.search_text("gate archive")] == ["/m/archive/gate_creak.wav"] * 2
        assert [h.start for h in store.search_text("horn")] == [12.0]  # timed text kept across the move

        assert store.delete_media("/m/archive/gate_creak.wav")
        assert store.search_text("horn") == [] and store.search_text("gate") == []
        count = sqlite3.connect(LibraryLayout(tmp_path / "lib").database).execute(
            "SELECT count(*) FROM text_fts WHERE text_fts MATCH 'horn OR gate'"
        )
        assert count.fetchone()[0] == 0  # the FTS index itself forgot them, not only the join


# ------------------------------------------------------------------------------------------ indexing
@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> ModelSet:
    return ModelSet.load(checkpoint_dirs["audio_video"])


def _index(folder, library, models):
    settings = IndexSettings(window=1.0, hop=1.0, frames_per_window=4, audio_frames=False)
    with LibraryStore.open(library, models.identity()) as store:
        return run_index([folder], store, models, settings, workers=0, progress=False)


def _found(library, query):
    with LibraryStore.open(library, readonly=True) as store:
        return sorted((h.path.rsplit("/", 1)[-1], h.field, h.start) for h in store.search_text(query))


INSIDE_SRT = SRT.replace("00:01:03,250 --> 00:01:05,000", "00:00:01,250 --> 00:00:01,400")


def test_indexing_keeps_text_up_to_date(tmp_path, models):
    folder, library = tmp_path / "media", tmp_path / "lib"
    folder.mkdir()
    write_tagged(folder / "harbour.flac", {"title": "Lighthouse at dawn", "genre": "Field recording"})
    (folder / "harbour.srt").write_text(INSIDE_SRT)  # cues inside the 1.5 s file (others are dropped)
    write_tagged(folder / "market.flac", {"comment": "busy stalls"}, freq=660.0)
    _index(folder, library, models)
    assert _found(library, "lighthouse") == [("harbour.flac", "subtitle", 1.0), ("harbour.flac", "tag", None)]
    assert _found(library, "stalls") == [("market.flac", "tag", None)]
    with LibraryStore.open(library, readonly=True) as store:
        assert all(store.has_audio_fingerprint(m.id, 1) for m in store.iter_media() if m.status == "indexed")

    # A sidecar changes while the media does not: the cues are read again.
    (folder / "harbour.srt").write_text(INSIDE_SRT.replace("foghorn", "bell buoy"))
    os.utime(folder / "harbour.srt", ns=(time.time_ns() + 10**9,) * 2)
    summary = _index(folder, library, models)
    assert summary.files_indexed == 0  # nothing re-encoded
    assert _found(library, "foghorn") == [] and _found(library, "buoy") == [
        ("harbour.flac", "subtitle", 1.25)
    ]

    # The media changes: its tags are read again.
    write_tagged(folder / "market.flac", {"comment": "quiet stalls at closing"}, seconds=1.7, freq=660.0)
    _index(folder, library, models)
    assert _found(library, "closing") == [("market.flac", "tag", None)]

    # A move: the name follows; a deletion: the text goes.
    (folder / "sub").mkdir()
    shutil.move(folder / "harbour.flac", folder / "sub" / "pier_at_night.flac")
    summary = _index(folder, library, models)
    assert summary.moved == 1
    assert _found(library, "pier night") == [("pier_at_night.flac", "name", None)]
    assert _found(library, "harbour") == []
    (folder / "market.flac").unlink()
    assert _index(folder, library, models).removed == 1
    assert _found(library, "stalls") == []
    np.testing.assert_equal(len(_found(library, "lighthouse")), 1)  # the tag, moved with its file
