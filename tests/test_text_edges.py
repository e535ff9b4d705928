"""Edges of the full-text side: names in either Unicode normal form, subtitle cues outside the
media, oversized sidecars (issue 27, defects 19 and 20)."""

from __future__ import annotations

import unicodedata

import pytest
from test_store_support import make_identity

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
