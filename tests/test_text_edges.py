"""Edges of the full-text side: names in either Unicode normal form, subtitle cues outside the
media, oversized sidecars (issue 27, defects 19 and 20)."""

from __future__ import annotations

import logging
import unicodedata

import pytest
from test_store_support import make_identity
from test_text_index import write_tagged

from indexer.file_text import MAX_SUBTITLE_CHARS, MAX_TEXT_CHARS, read_file_text, subtitle_cues
from indexer.pipeline import run_index
from indexer.settings import IndexSettings
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore, MediaRecord, path_entries
from pe_search.store.text_index import fts_query, words


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ------------------------------------------------------------------------------ Unicode normal forms
def test_nfd_and_nfc_names_give_the_same_words():
    name = "café-crème"
    assert nfd(name) != nfc(name)  # the test means something only if the two forms differ
    assert words(nfd(name)) == words(nfc(name)) == ["café", "crème"]
    assert path_entries(nfd(f"/m/Été/{name}.flac")) == path_entries(nfc(f"/m/Été/{name}.flac"))
    assert fts_query(nfd("crème brûlée")) == fts_query(nfc("crème brûlée")) == '"crème" OR "brûlée"'


def _add(store: LibraryStore, path: str) -> None:
    with store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(path=path, size=1, mtime=1.0, status="indexed", has_audio=True)
        )
        tx.set_text(media_id, path_entries(path), "sig")


@pytest.mark.parametrize(
    ("name_form", "query_form"),
    [(nfd, nfc), (nfc, nfd), (nfd, nfd), (nfc, nfc)],
    ids=["nfd-name", "nfd-query", "both-nfd", "both-nfc"],
)
def test_a_name_in_one_form_is_found_by_a_query_in_the_other(tmp_path, name_form, query_form):
    path = name_form("/media/Été/café-crème.flac")
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        _add(store, path)
        for query in ("crème", "café", "été"):
            hits = store.search_text(query_form(query))
            assert [h.path for h in hits] == [path], query
        (hit,) = store.search_text(query_form("crème"))
        assert hit.field == "name" and [nfc(w) for w in hit.matched_words] == ["crème"]
        assert store.search_text("cre") == []  # no stray fragment of a split word


# ------------------------------------------------------------------------------ cues outside the media
FAR_SRT = """1
00:00:01,000 --> 00:00:02,000
A gull calls

2
00:00:05,000 --> 00:00:09,000
The tide turns

3
99:00:00,000 --> 99:00:02,000
Lost in the future

4
12345678901234567890:00:00,000 --> 12345678901234567890:00:01,000
Absurd hour
"""


def test_cues_after_the_end_are_dropped_and_cues_past_it_clamped():
    assert subtitle_cues(FAR_SRT, duration=5.7) == [(1.0, 2.0, "A gull calls"), (5.0, 5.7, "The tide turns")]
    assert subtitle_cues(FAR_SRT, duration=5.0) == [
        (1.0, 2.0, "A gull calls")
    ]  # starts at the end: nothing shows
    assert len(subtitle_cues(FAR_SRT)) == 4  # the duration unknown: every cue kept as written


def _index(folder, library, models):
    settings = IndexSettings(window=1.0, hop=1.0, frames_per_window=4, audio_frames=False)
    with LibraryStore.open(library, models.identity()) as store:
        return run_index([folder], store, models, settings, workers=0, progress=False)


def _cues(library):
    with LibraryStore.open(library, readonly=True) as store:
        (media,) = [m for m in store.iter_media() if m.status == "indexed"]
        hits = store.search_text("gull tide future absurd lighthouse")
        return media.duration, sorted((h.start, h.end) for h in hits if h.field == "subtitle")


def test_indexed_cues_stay_inside_the_media(tmp_path, checkpoint_dirs):
    models = ModelSet.load(checkpoint_dirs["audio_video"])
    folder, library = tmp_path / "media", tmp_path / "lib"
    folder.mkdir()
    write_tagged(folder / "shore.flac", {}, seconds=5.7)
    (folder / "shore.srt").write_text(FAR_SRT)
    _index(folder, library, models)
    duration, cues = _cues(library)
    assert duration == pytest.approx(5.7, abs=0.05)
    assert cues == [(1.0, 2.0), (5.0, duration)]

    # A sidecar that changes while the media does not is read again (`refresh`): the same rule.
    (folder / "shore.srt").write_text(FAR_SRT.replace("A gull calls", "A lighthouse blinks") + "\n")
    assert _index(folder, library, models).files_indexed == 0  # not re-encoded: `refresh` read it
    assert _cues(library) == (duration, [(1.0, 2.0), (5.0, duration)])
    with LibraryStore.open(library, readonly=True) as store:
        assert [(h.start, h.end) for h in store.search_text("lighthouse")] == [(1.0, 2.0)]


# ------------------------------------------------------------------------------ oversized sidecars
def _numbered_srt(count: int) -> str:
    return "".join(
        f"{i + 1}\n00:00:{i // 1000 % 60:02d},{i % 1000:03d} --> 00:00:{i // 1000 % 60:02d},{i % 1000:03d}\ncue number {i}\n\n"
        for i in range(count)
    )


def test_an_oversized_subtitle_is_read_up_to_the_cap_with_a_note(tmp_path, caplog):
    one_cue = len(_numbered_srt(1))
    count = MAX_SUBTITLE_CHARS // one_cue * 3  # about three times the cap (cue lengths vary a little)
    content = _numbered_srt(count)
    assert len(content) > 2 * MAX_SUBTITLE_CHARS
    media = tmp_path / "long.flac"
    media.write_bytes(b"")  # never opened: the tags are given
    (tmp_path / "long.srt").write_text(content)
    with caplog.at_level(logging.WARNING, logger="indexer.file_text"):
        entries = read_file_text(media, tags=[]).entries
    texts = [e.text for e in entries if e.field == "subtitle"]
    kept = len(_numbered_srt(len(texts)))
    assert texts == [f"cue number {i}" for i in range(len(texts))]  # the first cues, each whole
    assert MAX_SUBTITLE_CHARS - 2 * one_cue <= kept <= MAX_SUBTITLE_CHARS  # up to the cap, not beyond
    (note,) = [r.getMessage() for r in caplog.records if "long.srt" in r.getMessage()]
    assert f"{MAX_SUBTITLE_CHARS:,}" in note


def test_an_oversized_text_file_is_cut_at_its_cap_with_a_note(tmp_path, caplog):
    media = tmp_path / "notes.flac"
    media.write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x" * (MAX_TEXT_CHARS + 5000))
    with caplog.at_level(logging.WARNING, logger="indexer.file_text"):
        (text,) = [e.text for e in read_file_text(media, tags=[]).entries if e.field == "text_file"]
    assert text == "x" * MAX_TEXT_CHARS
    assert any("notes.txt" in r.getMessage() for r in caplog.records)
