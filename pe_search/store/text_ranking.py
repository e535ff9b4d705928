"""The best entries for a text query by FTS5's BM25, without scoring every match (issue 24).

A query is any of its words, so a common word ("field", "take", a folder every file sits in)
matches a large share of a million-file library, and FTS5 scores every match before it can sort:
about 1 us an entry, 0.2 s for a word in 300,000 entries. The top entries can be found exactly
while scoring only the entries that hold a rarer word (the MaxScore idea of Turtle and Flood,
1995, with FTS5 doing the scoring):

- An entry's BM25 score is a sum over the query's words it holds, each word's part at most
  `idf * (k1 + 1) / (1 + k1 * b / avgdl)` (a word cannot occur more often than the entry has
  tokens), so an entry holding only the common words scores below the sum of their bounds.
- The rare words' entries are scored with FTS5's own `bm25()`: those holding a common word too by
  the expression `(rare) AND (common)` (each word once, so the sum is the full query's), the rest
  by `(rare)` alone. FTS5's idf is global (the library's row count and each word's entries), so
  these are the very scores the full query gives.
- A quoted phrase is one term throughout: FTS5 scores it as one (its idf from the entries holding
  the phrase, its frequency the phrase's occurrences), and it occurs at most as often as an entry
  has tokens, so its bound is a word's.
- If the `depth`-th best of them scores above the common words' bound, no entry holding only
  common words can enter: that is the answer. Otherwise (every word common, or rare words too
  weak, or the rare words' entries too many to beat the common ones' bound) the full query ranks
  every match as before.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection

from pe_search.store.schema import FTS_TABLE

K1, B = 1.2, 0.75  # FTS5's bm25() constants (fts5_aux.c)
RARE_ENTRIES = 20_000  # entries the rare words may hold together: what is scored instead
_RANK = f"SELECT rowid, bm25({FTS_TABLE}) AS r FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY r, rowid"


def expression(terms: list[str]) -> str:
    """Any of these terms, each quoted so FTS5 takes it literally: a word, or a phrase (words
    joined by spaces, which FTS5 matches in order and side by side)."""
    return " OR ".join(f'"{t}"' for t in terms)


def ranked(connection: Connection, terms: list[str], depth: int) -> list[tuple[int, float]]:
    """The best `depth` entries holding any of `terms` as (entry id, FTS5 rank: minus BM25),
    best first, ties by entry id: exactly what ranking every match gives."""
    if len(terms) > 1:
        # first how many entries each word holds, up to the budget: a word past it on its own
        # is common, and if every word is, nothing can be pruned (no need to count them all)
        probed = {t: _entries_with(connection, t, RARE_ENTRIES + 1) for t in terms}
        rare: list[str] = []
        for term in sorted(terms, key=lambda t: probed[t]):
            if sum(probed[t] for t in rare) + probed[term] > RARE_ENTRIES:
                break
            rare.append(term)
        common = [t for t in terms if t not in rare]
        if rare and common:
            counts = probed | {t: _entries_with(connection, t) for t in common}
            found = _pruned(connection, rare, common, counts, depth)
            if found is not None:
                return found
    return _rank(connection, expression(terms), depth)


def _pruned(
    connection: Connection, rare: list[str], common: list[str], counts: dict[str, int], depth: int
) -> list[tuple[int, float]] | None:
    """The top `depth` from the rare words' entries alone, or None when that cannot be proved."""
    rows, tokens = _totals(connection)
    if not rows:
        return None
    bound = sum(_word_bound(rows, counts[t], tokens / rows) for t in common)
    # an entry without a common word scores its rare words' part alone, so only the best `depth`
    # of those can be among the best `depth` in all; those with one score higher, all are read
    scores = dict(_rank(connection, expression(rare), depth))
    scores.update(_rank(connection, f"({expression(rare)}) AND ({expression(common)})", None))
    best = sorted(scores.items(), key=lambda pair: (pair[1], pair[0]))[:depth]
    if len(best) < depth or -best[-1][1] <= bound:
        return None
    return best


def _word_bound(rows: int, entries: int, average_tokens: float) -> float:
    """The most one word can add to an entry's score (FTS5's idf, floor 1e-6, times the largest
    term-frequency factor an entry of at least as many tokens as occurrences can have)."""
    idf = math.log((rows - entries + 0.5) / (entries + 0.5))
    if idf <= 0.0:
        idf = 1e-6
    return idf * (K1 + 1) / (1 + K1 * B / average_tokens)


def _rank(connection: Connection, match: str, depth: int | None) -> list[tuple[int, float]]:
    sql = _RANK if depth is None else f"{_RANK} LIMIT {int(depth)}"
    return [(row[0], row[1]) for row in connection.exec_driver_sql(sql, (match,))]


def _entries_with(connection: Connection, term: str, most: int | None = None) -> int:
    """How many entries hold the word (what FTS5's idf counts), counting at most `most`."""
    found = f"SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?" + (f" LIMIT {int(most)}" if most else "")
    return connection.exec_driver_sql(f"SELECT count(*) FROM ({found})", (expression([term]),)).scalar_one()


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
