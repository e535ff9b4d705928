"""The store's transcripts (issue 26): a file's transcript round trips, a new one replaces the old,
a moved file keeps it, a deleted file loses it, and its phrases are text entries search finds."""

from __future__ import annotations

import sqlite3

import pytest
from spoken_library import phrase
from test_store_support import add_file, make_identity

from pe_search.store import (
    LibraryLayout,
    LibraryStore,
    TextEntryRecord,
    TranscriptPhrase,
    TranscriptRecord,
)

LIGHTHOUSE = TranscriptRecord(
    model="openai/whisper-tiny",
    weights_digest="d" * 64,
    language="en",
    complete=True,
    reason=None,
    phrases=(
        phrase(("The", 0.5, 0.7), ("lighthouse", 0.7, 1.25), ("keeper", 1.3, 1.7), ("waves.", 1.7, 2.1)),
        phrase(("A", 4.0, 4.1), ("foghorn", 4.1, 4.6), ("sounds", 4.6, 5.0)),
    ),
)
HARBOUR = TranscriptRecord(
    model="/models/whisper-small",
    weights_digest="e" * 64,
    language="fr",
    complete=False,
    reason="the audio stream is damaged after 3.2 s",
    phrases=(phrase(("Seagulls", 1.0, 1.5), ("over", 1.5, 1.7), ("the", 1.7, 1.8), ("harbour", 1.8, 2.4)),),
)


@pytest.fixture
def store(tmp_path):
    with LibraryStore.open(tmp_path / "library", make_identity()) as opened:
        yield opened


def phrase_rows(store: LibraryStore) -> int:
    with sqlite3.connect(LibraryLayout(store.layout.root).database) as db:
        return db.execute("SELECT count(*) FROM transcript_phrases").fetchone()[0]


def transcript_matches(store: LibraryStore, query: str) -> list[tuple[str, float, float, str]]:
    return [
        (m.path, m.start, m.end, m.snippet)
        for m in store.search_text(query, limit=20)
        if m.field == "transcript"
    ]


def test_a_transcript_round_trips(store):
    media_id = add_file(store, 1)
    assert store.transcript(media_id) is None
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
    assert store.transcript(media_id) == LIGHTHOUSE
    partial = add_file(store, 2)
    with store.write() as tx:
        tx.set_transcript(partial, HARBOUR)
    assert store.transcript(partial) == HARBOUR  # partial, with its reason and language
    assert store.transcribed() == {media_id: ("d" * 64, True), partial: ("e" * 64, False)}
    assert store.incomplete_transcripts() == [
        (store.get_media(partial).path, "the audio stream is damaged after 3.2 s")
    ]


def test_phrases_are_timed_text_entries_search_finds(store):
    media_id = add_file(store, 1)
    path = store.get_media(media_id).path
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
    # the phrase's start and end: its first word's start, its last word's end (given above)
    [(found_path, start, end, snippet)] = transcript_matches(store, "foghorn")
    assert (found_path, start, end) == (path, 4.0, 5.0)
    assert snippet == "A [foghorn] sounds"
    [(_, start, end, _)] = transcript_matches(store, "keeper")
    assert (start, end) == (0.5, 2.1)
    entry_ids = _transcript_entry_ids(store, media_id)
    words = store.phrase_words([*entry_ids, 999_999])
    assert sorted(words.values(), key=lambda w: w[0].start) == [p.words for p in LIGHTHOUSE.phrases]


def test_a_new_transcript_replaces_the_old(store):
    media_id = add_file(store, 1)
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
    old_ids = _transcript_entry_ids(store, media_id)
    with store.write() as tx:
        tx.set_transcript(media_id, HARBOUR)
    assert store.transcript(media_id) == HARBOUR
    assert transcript_matches(store, "foghorn") == []
    assert len(transcript_matches(store, "seagulls")) == 1
    # entry ids may be used again (SQLite's rowids): only the new phrase's words are there
    [new_id] = _transcript_entry_ids(store, media_id)
    assert store.phrase_words([*old_ids, new_id]) == {new_id: HARBOUR.phrases[0].words}
    assert phrase_rows(store) == 1


def test_side_text_and_tags_leave_the_transcript_alone(store):
    media_id = add_file(store, 1)
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
        tx.set_text(media_id, [TextEntryRecord("subtitle", "foghorn cue", start=4.0, end=5.0)], "sig")
    with store.write() as tx:  # a changed sidecar read again: its entries go, the transcript stays
        tx.set_text(media_id, [TextEntryRecord("name", "harbour")], "sig2")
    assert store.transcript(media_id) == LIGHTHOUSE
    assert [m.field for m in store.search_text("foghorn")] == ["transcript"]


def test_clear_transcript(store):
    media_id = add_file(store, 1)
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
    with store.write() as tx:
        tx.clear_transcript(media_id)
    assert store.transcript(media_id) is None
    assert transcript_matches(store, "foghorn") == []
    assert phrase_rows(store) == 0


def test_a_moved_file_keeps_its_transcript(store):
    media_id = add_file(store, 1)
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
    store.move_media(store.get_media(media_id).path, "/media/moved/lighthouse.wav")
    assert store.transcript(media_id) == LIGHTHOUSE
    assert [m[0] for m in transcript_matches(store, "foghorn")] == ["/media/moved/lighthouse.wav"]


def test_deleting_a_file_deletes_its_transcript(store):
    media_id = add_file(store, 1)
    other = add_file(store, 2)
    with store.write() as tx:
        tx.set_transcript(media_id, LIGHTHOUSE)
        tx.set_transcript(other, HARBOUR)
    entry_ids = _transcript_entry_ids(store, media_id)
    assert store.delete_media(store.get_media(media_id).path)
    assert store.transcript(media_id) is None
    assert store.phrase_words(entry_ids) == {}
    assert phrase_rows(store) == 1  # the other file's one phrase
    assert transcript_matches(store, "foghorn") == []
    assert store.transcript(other) == HARBOUR


def test_an_empty_phrase_is_refused(store):
    media_id = add_file(store, 1)
    empty = TranscriptRecord("m", "d" * 64, None, True, None, (TranscriptPhrase(()),))
    with pytest.raises(ValueError, match="at least one word"), store.write() as tx:
        tx.set_transcript(media_id, empty)
    assert store.transcript(media_id) is None  # nothing of the refused transaction was kept


def test_the_transcription_model_is_recorded_and_survives_reopening(tmp_path):
    library = tmp_path / "library"
    with LibraryStore.open(library, make_identity()) as store:
        assert store.transcription_model() is None
        store.record_transcription_model("openai/whisper-tiny", "a" * 64)
        store.record_transcription_model("/models/whisper-toy", "b" * 64)
    with LibraryStore.open(library, readonly=True) as reader:
        assert reader.transcription_model() == ("/models/whisper-toy", "b" * 64)


def _transcript_entry_ids(store: LibraryStore, media_id: int) -> list[int]:
    with sqlite3.connect(LibraryLayout(store.layout.root).database) as db:
        rows = db.execute(
            "SELECT id FROM text_entries WHERE media_file_id = ? AND field = 'transcript' ORDER BY id",
            (media_id,),
        ).fetchall()
    return [row[0] for row in rows]
