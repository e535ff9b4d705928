"""The text side's results stay what BM25 says they are (issue 24: ranking reads the full-text
index alone and only kept entries are highlighted).

The library holds generated text whose matches are known: every entry is a few words from a
small vocabulary of words the Porter stemmer leaves as they are, so which entries hold which
query words is worked out here by splitting on spaces, and each entry's BM25 by FTS5's
documented formula (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6),
computed by hand from those counts (a word in more than half the entries gets FTS5's floor idf
of 1e-6: such scores are compared to 1e-9). The store must return exactly the entries holding a query
word, best BM25 first (ties by entry id), each with exactly its query words marked.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from test_store_support import make_identity

from pe_search.store import LibraryStore, MediaRecord, SearchFilter, TextEntryRecord, text_ranking

# Words FTS5's porter tokenizer keeps whole (no suffix to strip), so a match is the word itself.
VOCABULARY = ["bark", "drum", "horn", "bell", "wind", "rain", "door", "gong", "harp", "lamp", "moth", "kelp"]
FILES = 240
K1, B = 1.2, 0.75


def entry_texts(rng: np.random.Generator) -> list[list[str]]:
    """Per file: two entries of 1-5 words each, drawn with skewed frequencies (bark is common)."""
    weights = 1.0 / np.arange(1, len(VOCABULARY) + 1)
    weights /= weights.sum()
    return [
        [" ".join(rng.choice(VOCABULARY, size=int(rng.integers(1, 6)), p=weights)) for _ in range(2)]
        for _ in range(FILES)
    ]


@pytest.fixture(scope="module", params=[text_ranking.RARE_ENTRIES, 60], ids=["as-shipped", "pruning"])
def library(request, tmp_path_factory):
    """(store, {entry id: (path, text, status)}) with every tenth file failed."""
    texts = entry_texts(np.random.default_rng(5))
    directory = tmp_path_factory.mktemp("ranking") / "lib"
    store = LibraryStore.open(directory, make_identity())
    entries: dict[int, tuple[str, str, str]] = {}
    next_id = 1
    with store.write() as tx:
        for index, pair in enumerate(texts):
            status = "failed" if index % 10 == 9 else "indexed"
            path = f"/lib/{'a' if index < FILES // 2 else 'b'}/file{index:03d}.wav"
            media_id = tx.upsert_media(MediaRecord(path=path, size=1, mtime=0.0, status=status, duration=5.0))
            tx.set_text(media_id, [TextEntryRecord("tag", text, key="comment") for text in pair], "test")
            for text in pair:  # ids are given in insertion order on a fresh table
                entries[next_id] = (path, text, status)
                next_id += 1
    # "pruning": words in more than 60 entries together count as common, so most queries here take
    # the path that scores only the rarer words' entries (as common words do at a million files)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(text_ranking, "RARE_ENTRIES", request.param)
        yield store, entries
    store.close()


def bm25_ranking(entries: dict[int, tuple[str, str, str]], query_words: list[str]) -> list[tuple[int, float]]:
    """(entry id, FTS5-style rank: minus the BM25 score) of every entry holding a query word or
    phrase, best first, by FTS5's formula over every entry of the library (failed files' too; a
    phrase counts as one term: its idf from the entries holding it, its frequency its occurrences)."""
    tokens = {entry_id: text.split() for entry_id, (_, text, _) in entries.items()}
    rows = len(tokens)
    average = sum(len(t) for t in tokens.values()) / rows
    ranking = []
    for entry_id, words in tokens.items():
        score = 0.0
        for word in query_words:
            hits = sum(1 for t in tokens.values() if occurrences(t, word))
            idf = max(math.log((rows - hits + 0.5) / (hits + 0.5)), 1e-6) if hits else 0.0
            freq = occurrences(words, word)
            score += idf * freq * (K1 + 1) / (freq + K1 * (1 - B + B * len(words) / average))
        if any(occurrences(words, word) for word in query_words):
            ranking.append((entry_id, -score))
    # equal scores (to nine significant digits: float noise) in entry id order, as the store breaks ties
    return sorted(ranking, key=lambda pair: (float(f"{pair[1]:.9g}"), pair[0]))


def occurrences(tokens: list[str], term: str) -> int:
    """How often a word, or a phrase (words joined by spaces: side by side, in order), occurs."""
    phrase = term.split()
    return sum(1 for i in range(len(tokens) - len(phrase) + 1) if tokens[i : i + len(phrase)] == phrase)


def kept(entries, ranking, keep=lambda path, status: status == "indexed"):
    return [
        (entry_id, rank) for entry_id, rank in ranking if keep(entries[entry_id][0], entries[entry_id][2])
    ]


@pytest.mark.parametrize("query", ["bark", "gong kelp", "bark drum moth", "horn the lamp"])
def test_every_match_in_bm25_order_with_its_words_marked(library, query):
    store, entries = library
    words = [w for w in query.split() if w != "the"]  # "the" is a stopword
    expected = kept(entries, bm25_ranking(entries, words))
    found = store.search_text(query, limit=10_000)
    by_text = {(entries[i][0], entries[i][1]) for i, _ in expected}
    assert {(m.path, m.snippet.replace("[", "").replace("]", "")) for m in found} == by_text
    assert len(found) == len(expected)
    assert [m.rank for m in found] == pytest.approx([rank for _, rank in expected], rel=1e-9, abs=1e-9)
    for match, (entry_id, _) in zip(found, expected, strict=True):
        path, text, _ = entries[entry_id]
        assert match.path == path
        present = [w for w in dict.fromkeys(text.split()) if w in words]
        assert match.matched_words == tuple(present)
        # every occurrence of a query word marked, nothing else
        assert re.findall(r"\[(\w+)\]", match.snippet) == [w for w in text.split() if w in words]


@pytest.mark.parametrize("limit", [1, 3, 10, 40, 120])
@pytest.mark.parametrize("query", ["bark harp", "drum moth", "horn kelp gong", "drum bark"])
def test_top_k_is_the_head_of_the_whole_ranking(library, limit, query):
    """Entries holding only the common word compete with the rare word's at the deeper limits."""
    store, entries = library
    expected = kept(entries, bm25_ranking(entries, query.split()))[:limit]
    found = store.search_text(query, limit=limit)
    assert [(m.path, m.snippet.replace("[", "").replace("]", "")) for m in found] == [
        (entries[i][0], entries[i][1]) for i, _ in expected
    ]


def test_a_narrow_filter_reads_the_ranking_deeper(library):
    """Files the filter keeps may rank anywhere: the top-k among them still comes back whole."""
    store, entries = library
    wanted = {f"/lib/b/file{i:03d}.wav" for i in (201, 203, 231, 233)}  # the glob below
    ranking = bm25_ranking(entries, ["bark"])
    expected = kept(entries, ranking, lambda path, status: status == "indexed" and path in wanted)
    assert expected and ranking.index(expected[0]) > 20  # they are not near the top
    found = store.search_text("bark", limit=5, filters=SearchFilter(path_glob="/lib/b/file2[03][13].wav"))
    assert [m.path for m in found] == [entries[i][0] for i, _ in expected][:5]
    assert [m.rank for m in found] == pytest.approx([r for _, r in expected][:5], rel=1e-9, abs=1e-9)


def test_failed_files_never_come_back(library):
    store, entries = library
    found = store.search_text("bark drum horn bell wind rain door gong harp lamp moth kelp", limit=10_000)
    failed = {path for path, _, status in entries.values() if status == "failed"}
    assert found and not failed & {m.path for m in found}


def _ranked_matches(monkeypatch) -> list[str]:
    """The MATCH expressions FTS5 is asked to rank, in order (rare below 60 entries)."""
    monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 60)
    run: list[str] = []
    original = text_ranking._rank
    monkeypatch.setattr(
        text_ranking, "_rank", lambda c, match, depth: run.append(match) or original(c, match, depth)
    )
    return run


def test_pruning_never_scores_the_common_words_entries(library, monkeypatch):
    """With a rare word strong enough, the full query (which scores every entry holding "bark",
    more than half the library) is never run, and the answer is still the head of the ranking."""
    store, entries = library
    run = _ranked_matches(monkeypatch)
    found = store.search_text("bark harp", limit=5)
    assert '"bark" OR "harp"' not in run and '"harp"' in run
    expected = kept(entries, bm25_ranking(entries, ["bark", "harp"]))[:5]
    assert [m.rank for m in found] == pytest.approx([r for _, r in expected], rel=1e-9, abs=1e-9)


def test_the_index_totals_are_read_as_fts5_keeps_them(library):
    store, entries = library
    with store._read_engine.connect() as connection:
        rows, tokens = text_ranking._totals(connection)
    assert (rows, tokens) == (len(entries), sum(len(text.split()) for _, text, _ in entries.values()))


def test_entries_of_common_words_alone_still_win_when_they_score_higher(tmp_path, monkeypatch):
    """Short entries holding only the common word outscore long ones holding the rare word: the
    bound must let them in (scoring only the rare word's entries would miss every one)."""
    texts = ["kelp gong harp lamp gong harp lamp gong"] * 30 + ["drum"] * 40 + ["gong harp lamp"] * 200
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        with store.write() as tx:
            for index, text in enumerate(texts):
                media_id = tx.upsert_media(
                    MediaRecord(path=f"/x/{index:03d}.wav", size=1, mtime=0.0, status="indexed")
                )
                tx.set_text(media_id, [TextEntryRecord("tag", text, key="comment")], "test")
        monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 35)  # kelp (30 entries) is rare, drum common
        entries = {i + 1: (f"/x/{i:03d}.wav", text, "indexed") for i, text in enumerate(texts)}
        expected = kept(entries, bm25_ranking(entries, ["kelp", "drum"]))[:10]
        assert all(entries[i][1] == "drum" for i, _ in expected)  # the common word's entries lead
        found = store.search_text("kelp drum", limit=10)
    assert [m.path for m in found] == [entries[i][0] for i, _ in expected]


def _write(store: LibraryStore, texts: list[str], first: int = 0) -> None:
    with store.write() as tx:
        for index, text in enumerate(texts, start=first):
            media_id = tx.upsert_media(
                MediaRecord(path=f"/x/{index:04d}.wav", size=1, mtime=0.0, status="indexed")
            )
            tx.set_text(media_id, [TextEntryRecord("tag", text, key="comment")], "test")


def test_pruned_ranking_is_fts5s_own_float_for_float(tmp_path, monkeypatch):
    """The scores worked out from FTS5's tokens (`_scores`) are the floats bm25() gives over the
    whole query, in its order, ties by id, words the stemmer folds included (drums, drumming and
    drum are one token to FTS5's porter tokenizer, so one word of the query)."""
    texts = (
        ["kelp"] * 12
        + ["kelp drums gong"] * 6
        + ["drumming gong harp lamp moth bark"] * 150
        + ["drum drum"] * 20
        + ["gong"] * 60
    )
    pruned = []
    original = text_ranking._pruned
    monkeypatch.setattr(text_ranking, "_pruned", lambda *a: pruned.append(original(*a)) or pruned[-1])
    monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 20)  # kelp (18 entries) is rare
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        _write(store, texts)
        with store._read_engine.connect() as connection:
            for terms in (["kelp", "drum"], ["drumming", "kelp", "gong"], ["gong", "kelp"]):
                found = text_ranking.ranked(connection, terms, 10)
                assert found == text_ranking._rank(connection, text_ranking.expression(terms), 10), terms
    assert len(pruned) == 3 and all(p is not None for p in pruned)  # each was answered by pruning


def test_rare_words_entries_keep_fts5s_rank_float_for_float(tmp_path, monkeypatch):
    """The rank bm25() gives the rare words' entries that hold no common word is used as it is
    (only entries holding a common word too are scored in Python): it must be the float the whole
    query gives, so the rare words are summed in the query's order, not the order of their counts
    (floating-point addition of three parts depends on the order). Entries here hold three rare
    words each, with term frequencies and lengths that vary, so the parts differ."""
    rng = np.random.default_rng(11)
    rare = ["moth", "kelp", "lamp"]  # the query's order; counts: lamp < kelp < moth
    texts = []
    for _ in range(36):
        words = ["moth"] * int(rng.integers(1, 4)) + ["kelp"] * int(rng.integers(1, 3))
        words += ["lamp"] * int(rng.integers(1, 3)) + ["wind"] * int(rng.integers(0, 4))
        words += ["gong"] * int(rng.integers(0, 2))  # some hold the common word too
        texts.append(" ".join(rng.permutation(words)))
    texts += ["moth"] * 14 + ["kelp"] * 6 + ["gong harp door"] * 150 + ["gong"] * 40
    pruned = []
    original = text_ranking._pruned
    monkeypatch.setattr(text_ranking, "_pruned", lambda *a: pruned.append(original(*a)) or pruned[-1])
    monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 130)  # moth, kelp, lamp (128) rare; gong not
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        _write(store, texts)
        entries = {i + 1: (f"/x/{i:04d}.wav", text, "indexed") for i, text in enumerate(texts)}
        with store._read_engine.connect() as connection:
            found = text_ranking.ranked(connection, [*rare, "gong"], 40)
            assert found == text_ranking._rank(connection, text_ranking.expression([*rare, "gong"]), 40)
    assert len(pruned) == 1 and pruned[0] is not None  # answered by pruning
    expected = bm25_ranking(entries, [*rare, "gong"])[:40]
    assert [i for i, _ in found] == [i for i, _ in expected]


def test_a_word_too_common_to_be_rare_first_joins_the_rare_ones_when_they_cannot_prove_it(
    tmp_path, monkeypatch
):
    """Short entries holding "harp" alone outscore the long ones holding "kelp", the only word
    rare enough at first: the bound of "harp" and "gong" lets nothing be proved from "kelp"'s
    entries. With "harp" rare too, only "gong" (in most entries, FTS5's floor idf) is left, and
    the answer is proved without ranking every match of the full query: the same ids and floats."""
    texts = ["kelp door wind rain bell lamp moth"] * 12 + ["harp"] * 30 + ["gong bell"] * 200
    pruned, run = [], []
    original_pruned, original_rank = text_ranking._pruned, text_ranking._rank
    monkeypatch.setattr(text_ranking, "_pruned", lambda *a: pruned.append(original_pruned(*a)) or pruned[-1])
    monkeypatch.setattr(text_ranking, "_rank", lambda c, m, d: run.append(m) or original_rank(c, m, d))
    monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 20)  # kelp (12 entries) rare, harp (30) not
    monkeypatch.setattr(text_ranking, "WIDER_RARE_ENTRIES", 100)
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        _write(store, texts)
        entries = {i + 1: (f"/x/{i:04d}.wav", text, "indexed") for i, text in enumerate(texts)}
        terms = ["kelp", "harp", "gong"]
        with store._read_engine.connect() as connection:
            found = text_ranking.ranked(connection, terms, 10)
            assert pruned == [None, found] and text_ranking.expression(terms) not in run
            assert found == text_ranking._rank(connection, text_ranking.expression(terms), 10)
    assert [i for i, _ in found] == [i for i, _ in bm25_ranking(entries, terms)[:10]]
    assert all(entries[i][1] == "harp" for i, _ in found)


def test_rare_sets_widen_while_few_and_leave_a_common_word(monkeypatch):
    """Worked by hand: the first set is as many of the rarest as hold RARE_ENTRIES (20,000)
    together; then one more word at a time while they hold at most WIDER_RARE_ENTRIES (60,000)
    and fewer entries than the words left."""
    monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 20_000)  # the module's fixture may lower it
    monkeypatch.setattr(text_ranking, "WIDER_RARE_ENTRIES", 60_000)
    sets = text_ranking.rare_sets
    assert sets(["a", "b", "c", "d"], {"a": 100, "b": 150, "c": 23_600, "d": 1_000_000}) == [
        ["a", "b"],
        ["a", "b", "c"],
    ]
    assert sets(["a", "b"], {"a": 6_000, "b": 13_000}) == []  # 19,000 in all: rank every match
    assert sets(["a", "b"], {"a": 22_000, "b": 60_001}) == [["a"]]  # the rarest alone, widened
    assert sets(["a", "b"], {"a": 22_000, "b": 21_000}) == []  # the rest holds fewer: no gain
    assert sets(["a", "b", "c"], {"a": 3_900, "b": 48_000, "c": 60_001}) == [["a"], ["a", "b"]]
    assert sets(["a", "b", "c"], {"a": 3_900, "b": 58_000, "c": 60_001}) == [["a"]]  # 61,900 > 60,000
    assert sets(["a", "b"], {"a": 70_000, "b": 60_001}) == []


def test_word_counts_are_taken_again_after_a_write(tmp_path, monkeypatch):
    """Counts are kept per version of the index: a write that makes the common word commoner (its
    idf lower) and adds rare-word entries changes the ranking, and the next query gives the BM25
    of the library as it is now."""
    monkeypatch.setattr(text_ranking, "RARE_ENTRIES", 50)
    pruned = []
    original = text_ranking._pruned
    monkeypatch.setattr(text_ranking, "_pruned", lambda *a: pruned.append(original(*a)) or pruned[-1])
    texts = ["kelp"] * 45 + ["drum gong harp lamp"] * 80 + ["gong harp lamp"] * 400
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        _write(store, texts)
        for more in ([], ["drum harp"] * 150 + ["kelp"] * 3):
            if more:
                _write(store, more, first=len(texts))
                texts = texts + more
            entries = {i + 1: (f"/x/{i:04d}.wav", text, "indexed") for i, text in enumerate(texts)}
            expected = kept(entries, bm25_ranking(entries, ["kelp", "drum"]))[:10]
            found = store.search_text("kelp drum", limit=10)
            assert [m.path for m in found] == [entries[i][0] for i, _ in expected]
            assert [m.rank for m in found] == pytest.approx([r for _, r in expected], rel=1e-9, abs=1e-9)
    assert len(pruned) == 2 and all(p is not None for p in pruned)  # both answered by pruning


@pytest.mark.parametrize("limit", [1, 5, 10_000])
@pytest.mark.parametrize(
    "query, terms",
    [
        ('"bark drum"', ["bark drum"]),
        ('"drum bark"', ["drum bark"]),
        ('"bark drum" harp', ["bark drum", "harp"]),
        ('kelp "horn bark" "bell"', ["kelp", "horn bark", "bell"]),
        ('"bark bark"', ["bark bark"]),
        ('"horn bark" bark', ["horn bark", "bark"]),
        ('harp "bark bark"', ["harp", "bark bark"]),
    ],
)
def test_quoted_phrases_match_in_order_and_rank_by_bm25(library, query, terms, limit):
    """A phrase matches only entries holding its words side by side in that order (an entry with
    them in another order is not found), scored as one BM25 term: also on the pruning path, whose
    bound must hold for a phrase (it occurs at most as often as its first word)."""
    store, entries = library
    expected = kept(entries, bm25_ranking(entries, terms))[:limit]
    for phrase in [t.split() for t in terms if len(set(t.split())) > 1]:
        # the library holds entries with the phrase's words the other way round only (not found)
        assert any(
            occurrences(text.split(), " ".join(reversed(phrase)))
            and not occurrences(text.split(), " ".join(phrase))
            for _, text, _ in entries.values()
        )
    found = store.search_text(query, limit=limit)
    assert [(m.path, m.snippet.replace("[", "").replace("]", "")) for m in found] == [
        (entries[i][0], entries[i][1]) for i, _ in expected
    ]
    assert [m.rank for m in found] == pytest.approx([r for _, r in expected], rel=1e-9, abs=1e-9)
    for match in found:  # each phrase marked whole; overlapping matches as one (FTS5's highlight())
        text = match.snippet.replace("[", "").replace("]", "")
        assert re.findall(r"\[([\w ]+)\]", match.snippet) == marked_runs(text.split(), terms)
        assert match.matched_words == tuple(dict.fromkeys(marked_runs(text.split(), terms)))


def marked_runs(tokens: list[str], terms: list[str]) -> list[str]:
    """The stretches highlight() marks: each occurrence of a term, those that overlap merged."""
    spans = sorted(
        (i, i + len(t.split()) - 1)
        for t in terms
        for i in range(len(tokens))
        if tokens[i : i + len(t.split())] == t.split()
    )
    runs: list[list[int]] = []
    for first, last in spans:
        if runs and first <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], last)
        else:
            runs.append([first, last])
    return [" ".join(tokens[first : last + 1]) for first, last in runs]


@pytest.mark.parametrize("query, rare", [('"horn bark" bark', '"horn bark"'), ('harp "bark bark"', '"harp"')])
def test_pruning_takes_a_phrase_as_one_term(library, monkeypatch, query, rare):
    """A phrase is one term of the pruning path, as a rare term ("horn bark" in 33 entries) or as
    a common one ("bark bark" in 95): the rare term is ranked first, and the answer is the head of
    the ranking worked out by hand. (The pruned scoring computes BM25 from single tokens, so a
    query holding a phrase is then answered by FTS5's ranking of the full query.)"""
    store, entries = library
    run = _ranked_matches(monkeypatch)
    found = store.search_text(query, limit=5)
    assert run and run[0] == rare
    terms = [t.strip('"') for t in re.findall(r'"[^"]+"|\w+', query)]
    expected = kept(entries, bm25_ranking(entries, terms))[:5]
    assert [m.rank for m in found] == pytest.approx([r for _, r in expected], rel=1e-9, abs=1e-9)
