"""The model ids a library records, read on their own: when opening the whole store fails (a
damaged vector file, a schema of another revision), the record of which model built the library
usually still reads, and choosing that model is what lets the next index run repair the library
instead of re-encoding it with a default model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pe_search.store.errors import ModelRecordError
from pe_search.store.layout import LibraryLayout
from pe_search.store.schema import ModelIdentityRow


def recorded_model_ids(library_dir: str | Path) -> tuple[str, ...]:
    """The model ids recorded in the library at `library_dir` (empty: none recorded yet).

    Reads one row through a read-only SQLite connection, nothing else of the store. Raises
    `ModelRecordError` when the database or the row cannot be read."""
    layout = LibraryLayout(Path(library_dir))
    table = ModelIdentityRow.__tablename__
    try:
        connection = sqlite3.connect(f"{layout.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = connection.execute(f"SELECT model_ids FROM {table} WHERE id = 1").fetchone()  # noqa: S608
        finally:
            connection.close()
        ids = [] if row is None else json.loads(row[0])
    except (sqlite3.Error, ValueError, TypeError) as error:
        raise ModelRecordError(
            layout.root, str(error).splitlines()[0] if str(error) else type(error).__name__
        ) from error
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise ModelRecordError(layout.root, f"model ids {ids!r} are not a list of names")
    return tuple(ids)
