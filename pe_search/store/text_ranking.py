"""The best entries for a text query by FTS5's BM25, without scoring every match (issue 24).

A query is any of its words, so a common word ("field", "take", a folder every file sits in)
matches a large share of a million-file library, and FTS5 scores every match before it can sort:
about 1 us an entry, 0.2 s for a word in 300,000 entries. The top entries can be found exactly
while scoring only the entries that hold a rarer word (the MaxScore idea of Turtle and Flood,
1995, with FTS5 doing the scoring):

- An entry's BM25 score is a sum over the query's words it holds, each word's part at most
  `idf * (k1 + 1) / (1 + k1 * b / avgdl)` (a word cannot occur more often than the entry has
  tokens), so an entry holding only the common words scores below the sum of their bounds.
- The rare words' entries are ranked by FTS5's own `bm25()` over `(rare)` alone; the best `depth`
  of them and every entry holding a common word too (`(rare) AND (common)`, without `bm25()`)
  are then scored here by FTS5's formula, with each entry's tokens as FTS5's own tokenizer makes
  them (`_scores`): `bm25()` over an expression with a common word would count that word's
  entries again on every query (tens of ms for a word in a million entries), which is what this
  avoids. FTS5's idf is global (the library's row count and each word's entries), so these are
  the very scores the full query gives, summed in the same order.
- Each word's entry count (its idf) is kept per index version (`_Counts`: the version is FTS5's
  structure and averages records, which every write changes), so a common word is counted once
  per version in a process, not on every query.
- A quoted phrase is one term throughout: FTS5 scores it as one (its idf from the entries holding
  the phrase, its frequency the phrase's occurrences), and it occurs at most as often as an entry
  has tokens, so its bound is a word's.
- If the `depth`-th best of them scores above the common words' bound, no entry holding only
  common words can enter: that is the answer. Otherwise the next-rarest word joins the rare ones
  and pruning tries again, while they stay few (`rare_sets`); when none can prove it (every word
  common, or the rare words holding fewer entries than are ranked, or entries holding only
  common words truly among the best) the full query ranks every match as before.
- The rare words' entries that hold no common word keep the rank bm25() gives them over the rare
  words alone (summed in the query's order, it is the float the whole query gives); only those
  holding a common word too are scored here.

Why not per-word maximum scores (block-max WAND): at a million files, on each of the four queries
of the benchmark's 30 where the first rare set's entries could not answer, the best entry holding
only common words scores above the `depth`-th of the full ranking ("toca bime locife": 5.57
against 5.38), so
no bound however tight would have let the rare words' entries alone answer; those entries must be
found and ranked, which FTS5 can only do by scoring every match (issue 24, docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter

from sqlalchemy import Connection

from pe_search.store.schema import FTS_TABLE, TextEntry

K1, B = 1.2, 0.75  # FTS5's bm25() constants (fts5_aux.c)
RARE_ENTRIES = 20_000  # entries the rare words may hold together: what is scored instead
# how many they may hold when the first rare set could not prove the answer (`rare_sets`): a
# pruning attempt ranks its rare words' entries (about 2 us an entry), ranking every match
# costs about 1 us an entry of every word
WIDER_RARE_ENTRIES = 60_000
_RANK = f"SELECT rowid, bm25({FTS_TABLE}) AS r FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY r, rowid"
_IDS_PER_READ = 5000  # entry ids per statement (SQLite binds at most 32,766 parameters)
_LIBRARIES_KEPT = 16  # libraries whose word counts a process keeps


def expression(terms: list[str]) -> str:
    """Any of these terms, each quoted so FTS5 takes it literally: a word, or a phrase (words
    joined by spaces, which FTS5 matches in order and side by side)."""
    return " OR ".join(f'"{t}"' for t in terms)


def ranked(connection: Connection, terms: list[str], depth: int) -> list[tuple[int, float]]:
    """The best `depth` entries holding any of `terms` as (entry id, FTS5 rank: minus BM25),
    best first, ties by entry id: exactly what ranking every match gives."""
    if len(terms) > 1:
        counts = _Counts.of(connection)
        # first how many entries each word holds, up to the widest rare set: a word past it on
        # its own is common, and if every word is, nothing can be pruned (no need to count them all)
        probed = {t: counts.entries_with(connection, t, WIDER_RARE_ENTRIES + 1) for t in terms}
        for rare in rare_sets(sorted(terms, key=lambda t: probed[t]), probed):
            common = [t for t in terms if t not in rare]
            exact = probed | {t: counts.entries_with(connection, t) for t in common}
            try:
                found = _pruned(connection, terms, rare, common, exact, depth)
            except _NotSingleTokens:
                break
            if found is not None:
                return found
    return _rank(connection, expression(terms), depth)


def rare_sets(order: list[str], entries: dict[str, int]) -> list[list[str]]:
    """The rare sets pruning tries, in turn, for words `order`ed rarest first (`entries`: each
    word's entries, counted up to a cap past `WIDER_RARE_ENTRIES`).

    First the rarest words holding at most `RARE_ENTRIES` together, as many as fit (the rarest
    alone when it holds more). When those cannot prove the answer (the best entries holding only
    the other words score above theirs: at a million files "povisu rohi kami bitasa", where
    "rohi" is rare and "kami" in 23,600 entries is not), the next-rarest word joins, and so on
    while the rare words hold at most `WIDER_RARE_ENTRIES` together and fewer entries than the
    words left (otherwise ranking every match costs about as much). At least one word is left
    common; none is tried when every word together holds at most `RARE_ENTRIES` (ranking every
    match is then cheap)."""
    sizes = list(itertools.accumulate(entries[t] for t in order))
    if len(order) < 2 or sizes[-1] <= RARE_ENTRIES:
        return []
    first = max((n for n in range(1, len(order)) if sizes[n - 1] <= RARE_ENTRIES), default=1)
    tried = []
    for n in range(first, len(order)):
        held, left = sizes[n - 1], sizes[-1] - sizes[n - 1]
        if held > RARE_ENTRIES and (held > WIDER_RARE_ENTRIES or left <= held):
            break
        tried.append(order[:n])
    return tried


class _NotSingleTokens(Exception):
    """A query word is not one token (a phrase): the pruned scoring cannot work it out."""


def _pruned(
    connection: Connection,
    terms: list[str],
    rare: list[str],
    common: list[str],
    counts: dict[str, int],
    depth: int,
) -> list[tuple[int, float]] | None:
    """The top `depth` from the rare words' entries alone, or None when that cannot be proved."""
    rows, tokens = _totals(connection)
    if not rows:
        return None
    bound = sum(_word_bound(rows, counts[t], tokens / rows) for t in common)
    # an entry without a common word scores its rare words' part alone, so only the best `depth`
    # of those can be among the best `depth` in all; those with one score higher, all are read.
    # The rare words in the query's order: bm25() then sums their parts in the order the full
    # query does (a common word's part in such an entry is 0.0, which adds nothing), so the rank
    # bm25() gives an entry holding no common word is already its rank for the whole query, and
    # only the entries holding a common word too are scored here (`_scores`).
    scores = dict(_rank(connection, expression([t for t in terms if t in rare]), depth))
    both = [
        row[0]
        for row in connection.exec_driver_sql(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?",
            (f"({expression(rare)}) AND ({expression(common)})",),
        )
    ]
    if both:
        rescored = _scores(connection, both, terms, counts, rows, tokens)
        if rescored is None:
            raise _NotSingleTokens
        scores.update(rescored)
    best = sorted(scores.items(), key=lambda pair: (pair[1], pair[0]))[:depth]
    if len(best) < depth or -best[-1][1] <= bound:
        return None
    return best


def _word_bound(rows: int, entries: int, average_tokens: float) -> float:
    """The most one word can add to an entry's score (FTS5's idf, floor 1e-6, times the largest
    term-frequency factor an entry of at least as many tokens as occurrences can have)."""
    return _idf(rows, entries) * (K1 + 1) / (1 + K1 * B / average_tokens)


def _idf(rows: int, entries: int) -> float:
    """FTS5's idf of a word in `entries` of `rows` entries (fts5Bm25GetData)."""
    idf = math.log((rows - entries + 0.5) / (entries + 0.5))
    return idf if idf > 0.0 else 1e-6


def _scores(
    connection: Connection,
    ids: list[int],
    terms: list[str],
    counts: dict[str, int],
    rows: int,
    tokens: int,
) -> dict[int, float] | None:
    """FTS5's rank (minus bm25()) of these entries for the query `terms` ("a" OR "b" ...), worked
    out as fts5Bm25Function does (each phrase in the query's order, idf from the whole index's
    counts, k1 = 1.2, b = 0.75): each entry's words and length come from FTS5's own tokenizer,
    run on the entries' text in a scratch table of this connection's temp schema (and its
    fts5vocab 'instance' view). None when a query word is not one token (a phrase): the caller
    ranks through FTS5 then."""
    _make_scratch(connection)
    connection.exec_driver_sql(f"DELETE FROM temp.{SCRATCH}")
    for first in range(0, len(ids), _IDS_PER_READ):
        part = ids[first : first + _IDS_PER_READ]
        texts = connection.exec_driver_sql(
            f"SELECT id, text FROM {TextEntry.__tablename__} WHERE id IN ({','.join('?' * len(part))})",
            tuple(part),
        ).all()
        connection.exec_driver_sql(
            f"INSERT INTO temp.{SCRATCH}(rowid, text) VALUES (?, ?)", [tuple(row) for row in texts]
        )
    # the query's words as documents of their own (negative ids): their tokens as FTS5 makes them
    connection.exec_driver_sql(
        f"INSERT INTO temp.{SCRATCH}(rowid, text) VALUES (?, ?)",
        [(-1 - n, term) for n, term in enumerate(terms)],
    )
    length: Counter[int] = Counter()
    frequency: Counter[tuple[int, str]] = Counter()
    query_tokens: dict[int, list[str]] = {}
    for token, doc in connection.exec_driver_sql(f"SELECT term, doc FROM temp.{SCRATCH_VOCAB}"):
        if doc < 0:
            query_tokens.setdefault(-1 - doc, []).append(token)
        else:
            length[doc] += 1
            frequency[doc, token] += 1
    connection.exec_driver_sql(f"DELETE FROM temp.{SCRATCH}")
    if any(len(query_tokens.get(n, ())) != 1 for n in range(len(terms))):
        return None
    phrases = [(query_tokens[n][0], _idf(rows, counts[term])) for n, term in enumerate(terms)]
    average = float(tokens) / float(rows)
    scores = {}
    for entry in ids:
        size = float(length[entry])
        score = 0.0
        for token, idf in phrases:
            freq = float(frequency[entry, token])
            score += idf * ((freq * (K1 + 1.0)) / (freq + K1 * (1 - B + B * size / average)))
        scores[entry] = -1.0 * score
    return scores


SCRATCH = "pe_search_rank_text"
SCRATCH_VOCAB = "pe_search_rank_vocab"
_TOKENIZE = re.compile(r"tokenize\s*=\s*('(?:[^']|'')*'|\"[^\"]*\")", re.I)


def _make_scratch(connection: Connection) -> None:
    """Make (once per connection) the scratch FTS5 table, tokenized as the library's own, and
    its fts5vocab table of every token instance."""
    exists = connection.exec_driver_sql(
        "SELECT 1 FROM temp.sqlite_master WHERE name = ?", (SCRATCH_VOCAB,)
    ).first()
    if exists is None:
        connection.exec_driver_sql(
            f"CREATE VIRTUAL TABLE temp.{SCRATCH} USING fts5(text{tokenize_option(connection)})"
        )
        connection.exec_driver_sql(
            f"CREATE VIRTUAL TABLE temp.{SCRATCH_VOCAB} USING fts5vocab('temp', '{SCRATCH}', 'instance')"
        )


def tokenize_option(connection: Connection) -> str:
    """`, tokenize=...` as the library's FTS5 table declares it ('' for FTS5's default)."""
    definition = connection.exec_driver_sql(
        "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
    ).scalar_one()
    found = _TOKENIZE.search(definition)
    return f", tokenize={found.group(1)}" if found else ""


def _rank(connection: Connection, match: str, depth: int | None) -> list[tuple[int, float]]:
    sql = _RANK if depth is None else f"{_RANK} LIMIT {int(depth)}"
    return [(row[0], row[1]) for row in connection.exec_driver_sql(sql, (match,))]


def _entries_with(connection: Connection, term: str, most: int | None = None) -> int:
    """How many entries hold the word (what FTS5's idf counts), counting at most `most`."""
    found = f"SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?" + (f" LIMIT {int(most)}" if most else "")
    return connection.exec_driver_sql(f"SELECT count(*) FROM ({found})", (expression([term]),)).scalar_one()


class _Counts:
    """Each word's exact entry count in one version of one library's text index, kept in this
    process: FTS5 has no stored count (bm25() walks a word's whole entry list for it), and a
    common word's list is most of a large library. The version is FTS5's structure record (its
    segments; every committed write adds one) with its averages record (row and token counts),
    read in the caller's transaction, so a count is never used against another snapshot."""

    _lock = threading.Lock()
    _by_database: dict[str, _Counts] = {}

    def __init__(self, version: bytes) -> None:
        self.version = version
        self.counts: dict[str, int] = {}

    @classmethod
    def of(cls, connection: Connection) -> _Counts:
        database = next(
            (row[2] for row in connection.exec_driver_sql("PRAGMA database_list") if row[1] == "main"), ""
        )
        version = b"|".join(
            bytes(row[0] or b"")
            for row in connection.exec_driver_sql(
                f"SELECT block FROM {FTS_TABLE}_data WHERE id IN (1, 10) ORDER BY id"
            )
        )
        with cls._lock:
            held = cls._by_database.get(database)
            if held is None or held.version != version or not database:
                if len(cls._by_database) >= _LIBRARIES_KEPT:  # a process that opened many libraries
                    cls._by_database.clear()
                held = cls._by_database[database] = cls(version)
            return held

    def entries_with(self, connection: Connection, term: str, most: int | None = None) -> int:
        """Exact when counted before in this version (or when `most` is None), else at most `most`."""
        known = self.counts.get(term)
        if known is not None:
            return known
        found = _entries_with(connection, term, most)
        if most is None or found < most:
            self.counts[term] = found
        return found


def _totals(connection: Connection) -> tuple[int, int]:
    """(entries, tokens) of the whole index, from FTS5's averages record (%_data row 1: the row
    count, then each column's token count, as SQLite varints): what bm25() reads for avgdl."""
    block = connection.exec_driver_sql(f"SELECT block FROM {FTS_TABLE}_data WHERE id = 1").scalar()
    if not block:
        return 0, 0
    rows, at = _varint(block, 0)
    tokens, _ = _varint(block, at)
    return rows, tokens


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for n in range(8):
        byte = data[at + n]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + n + 1
    return (value << 8) | data[at + 8], at + 9
