"""Rebuilding the full-text index in place when its rows are damaged.

`text_fts` is FTS5 over external content: everything it holds can be worked out again from
`text_entries`, so damage to its own rows (`text_fts_data`, `text_fts_idx`) loses nothing. FTS5's
`integrity-check` finds the damage and its `rebuild` command rewrites the index from the
entries. When the damage reaches the records FTS5 reads to open the table at all (its structure
record), `rebuild` cannot run either; then those records are taken from a fresh, empty FTS5
table of the same definition, made by SQLite in the temp schema, and the index is rebuilt.
Statements go through the library's engine, so any other error is worded as the store words it.
"""

from __future__ import annotations

from sqlalchemy import Connection

from pe_search.store.errors import TextIndexDamagedError
from pe_search.store.schema import FTS_TABLE

FRESH = "pe_search_fresh_fts"


def text_index_damaged(connection: Connection) -> bool:
    """Whether FTS5's own check finds the full-text index damaged (a read of the whole index:
    about 0.5 s per 200,000 entries)."""
    try:
        connection.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')")
    except TextIndexDamagedError:
        return True
    return False


def rebuild_text_index(connection: Connection) -> None:
    """Rewrite the full-text index from `text_entries`, inside the caller's transaction."""
    try:
        connection.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        return
    except TextIndexDamagedError:
        pass  # FTS5 cannot open the table: give it fresh records first
    definition = connection.exec_driver_sql(
        "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
    ).scalar_one()
    connection.exec_driver_sql(definition.replace(FTS_TABLE, f"temp.{FRESH}", 1))
    try:
        connection.exec_driver_sql(f"DELETE FROM main.{FTS_TABLE}_data")
        connection.exec_driver_sql(f"DELETE FROM main.{FTS_TABLE}_idx")
        connection.exec_driver_sql(f"INSERT INTO main.{FTS_TABLE}_data SELECT * FROM temp.{FRESH}_data")
    finally:
        connection.exec_driver_sql(f"DROP TABLE temp.{FRESH}")
    connection.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
