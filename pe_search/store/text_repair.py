"""Rebuilding the full-text index in place when its rows are damaged.

`text_fts` is FTS5 over external content: everything it holds can be worked out again from
`text_entries`, so damage to its own rows (`text_fts_data`, `text_fts_idx`) loses nothing. FTS5's
`integrity-check` finds the damage and its `rebuild` command rewrites the index from the
entries. When the damage reaches the records FTS5 reads to open the table at all (its structure
record), `rebuild` cannot run either; then those records are taken from a fresh, empty FTS5
table of the same definition, made by SQLite in the temp schema, and the index is rebuilt.
"""

from __future__ import annotations

import sqlite3

from pe_search.store.schema import FTS_TABLE

FRESH = "pe_search_fresh_fts"


def text_index_damaged(connection: sqlite3.Connection) -> bool:
    """Whether FTS5's own check finds the full-text index damaged (a read of the whole index:
    about 0.5 s per 200,000 entries)."""
    try:
        connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as error:
        if type(error) is sqlite3.DatabaseError:  # SQLITE_CORRUPT(_VTAB); not locked, readonly, ...
            return True
        raise
    return False


def rebuild_text_index(connection: sqlite3.Connection) -> None:
    """Rewrite the full-text index from `text_entries`, inside the caller's transaction."""
    try:
        connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        return
    except sqlite3.DatabaseError as error:
        if type(error) is not sqlite3.DatabaseError:
            raise
    (definition,) = connection.execute(
        "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
    ).fetchone()
    connection.execute(definition.replace(FTS_TABLE, f"temp.{FRESH}", 1))
    try:
        connection.execute(f"DELETE FROM main.{FTS_TABLE}_data")
        connection.execute(f"DELETE FROM main.{FTS_TABLE}_idx")
        connection.execute(f"INSERT INTO main.{FTS_TABLE}_data SELECT * FROM temp.{FRESH}_data")
    finally:
        connection.execute(f"DROP TABLE temp.{FRESH}")
    connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
