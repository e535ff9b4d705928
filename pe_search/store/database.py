"""SQLite engines for a library and its migrations, applied when the library is opened.

Alembic is imported only to migrate (a writer's open): a reader checks the revision by reading
`alembic_version` and the migration scripts' `revision` lines itself (`revisions`), so a command
that only reads (`pe-search status`) does not pay for importing it (issue 24).

WAL lets many readers run beside the one writer. The writer's transactions start with
`BEGIN IMMEDIATE`, so it holds SQLite's write lock from the first statement and two writers can
never interleave; readers use deferred `BEGIN`, which gives each read transaction one snapshot.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event

from pe_search.store.disk import disk_full
from pe_search.store.errors import LibraryDamagedError, LibraryVersionError, TextIndexDamagedError
from pe_search.store.schema import FTS_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
# Readers map up to this much of the database instead of copying its pages into SQLite's cache
# (issue 24): ranking a text query reads each matching entry's size from FTS5's docsize table,
# thousands of scattered lookups at a million files, and through the map the median text query
# there took 48 ms of CPU instead of 58 (hybrid 42 instead of 55). The pages a process touches
# count in its RSS, as page cache the kernel can take back; a larger page cache (64 MB) did not
# help. A writing process keeps SQLite's own reads, on its read engine too (`mapped=False`): its
# memory is budgeted for indexing, and reading a space's live ids before each retune or rebuild
# left ~500 MB of the database's pages in its RSS at 5,900 hours (issue 24, item 6).
READER_MMAP_BYTES = 1 << 30


def open_engine(database: Path, *, writer: bool, mapped: bool = True) -> Engine:
    """An engine on `database` in WAL mode; `writer` makes every transaction BEGIN IMMEDIATE;
    a reading engine maps the file unless `mapped` is False (the writing process's).

    Readers open the file read-only (`mode=ro`) and change nothing, not even a PRAGMA that is
    stored in the file; where the library's folder cannot be written (a read-only disk or mount),
    they open it `immutable`, since SQLite could not make the WAL index (`-shm`) it needs there
    and nobody can be writing it anyway."""
    if writer:
        url = f"sqlite:///{database}"
    else:
        url = f"sqlite:///file:{quote(str(database))}?mode={_read_mode(database)}&uri=true"
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (pysqlite would defer them).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if writer:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        elif mapped:
            cursor.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql(begin)

    @event.listens_for(engine, "handle_error")
    def _on_error(context) -> None:
        if _text_index_damage(context.original_exception, context.statement):
            raise TextIndexDamagedError(database) from None
        damage = _damage(context.original_exception)
        if damage is not None:
            raise LibraryDamagedError(
                f"{database} {damage}",
                "restore it from a backup, or move the library aside and "
                "index your folders again (your media files are not touched)",
                value=str(database),
            ) from None

    return engine


def _read_mode(database: Path) -> str:
    """`ro`, or `ro&immutable=1` where the folder cannot be written or its disk is full and the
    WAL is empty (SQLite could not make or grow the shared-memory file it needs; `immutable` would
    ignore a non-empty WAL; no writer can commit much to a full disk meanwhile)."""
    if os.access(database.parent, os.W_OK) and not disk_full(database.parent):
        return "ro"
    wal = database.with_name(database.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return "ro"  # SQLite reads the WAL read-only through the existing -shm
    return "ro&immutable=1"


def _text_index_damage(error: BaseException, statement: str | None = None) -> bool:
    """Whether SQLite says the full-text index is damaged (FTS5 is the library's only virtual
    table, and SQLITE_CORRUPT_VTAB is a virtual table's damage). Garbage in FTS5's structure
    record can also read as sizes too large to allocate: SQLite then says it is out of memory
    (Python's MemoryError; 12 of 300 random damages in tests/test_text_damage.py's way)."""
    if isinstance(error, MemoryError):
        return FTS_TABLE in (statement or "")
    return type(error) is sqlite3.DatabaseError and (
        getattr(error, "sqlite_errorname", None) == "SQLITE_CORRUPT_VTAB" or FTS_TABLE in str(error)
    )


def _damage(error: BaseException) -> str | None:
    """What a SQLite error says about the file, when it says the file is not a usable library."""
    message = str(error)
    if type(error) is sqlite3.DatabaseError:  # not one of its subclasses (locked, integrity, ...)
        return f"is damaged ({message})"
    if isinstance(error, sqlite3.OperationalError) and message.startswith("no such table"):
        return "holds no pe-search library (its tables are missing)"
    return None


def database_name(engine: Engine) -> str:
    """The database file of an engine, as the user knows it (readers open it through a URI)."""
    return unquote((engine.url.database or "").removeprefix("file:"))


def alembic_config() -> Config:
    """An Alembic configuration that finds the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    return revisions().head


_ASSIGNED = r"^{name}(?:\s*:[^=\n]+)?\s*=\s*(None|\"[^\"\n]+\"|'[^'\n]+')\s*$"


@dataclass(frozen=True)
class Revisions:
    """The migrations shipped: every revision known, and the newest (the one none follows)."""

    known: frozenset[str]
    head: str


def revisions() -> Revisions:
    """The shipped migrations' revisions, read from each script's `revision = "..."` and
    `down_revision = ...` lines (what Alembic reads them for) without importing Alembic; a
    script written another way (a merge's tuple) or a chain with more than one head is left to
    Alembic's own reading, which says what is wrong with it."""
    follows: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if script.name == "__init__.py":
            continue
        text = script.read_text(encoding="utf-8")
        found = [re.search(_ASSIGNED.format(name=name), text, re.M) for name in ("revision", "down_revision")]
        if found[0] is None or found[1] is None or found[0].group(1) == "None":
            return _alembic_revisions()
        revision, before = (None if m.group(1) == "None" else m.group(1)[1:-1] for m in found)
        follows[revision] = before
    heads = set(follows) - set(follows.values())
    if len(heads) != 1:
        return _alembic_revisions()
    return Revisions(frozenset(follows), heads.pop())


def _alembic_revisions() -> Revisions:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    return Revisions(frozenset(rev.revision for rev in script.walk_revisions()), head)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (Alembic's one-row `alembic_version`; None: no table)."""
    with engine.connect() as connection:
        table = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).first()
        if table is None:
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def check_revision(engine: Engine) -> None:
    """Refuse a database this code does not know (written by a newer pe-search) or not at head."""
    current = current_revision(engine)
    if current is None:
        name = database_name(engine)
        what = "is empty (0 bytes)" if os.path.getsize(name) == 0 else "holds no pe-search library"
        raise LibraryDamagedError(
            f"{name} {what}",
            "restore it from a backup, or index your folders into the library "
            "again to rebuild it (your media files are not touched)",
            value=name,
        )
    shipped = revisions()
    if current is not None and current not in shipped.known:
        raise LibraryVersionError(
            f"{database_name(engine)}: written by a newer pe-search (schema {current})",
            "upgrade pe-search",
            value=current,
        )
    if current != shipped.head:
        raise LibraryVersionError(
            f"{database_name(engine)}: schema {current} is older than this pe-search's ({shipped.head})",
            "open the library for writing once to upgrade it",
            value=current,
        )


def upgrade(engine: Engine) -> list[str]:
    """Bring the database to the newest schema; returns the revisions applied (oldest first).

    Foreign keys are off while migrating: a batch migration copies a table and drops the old one,
    which with foreign keys on would cascade into the rows that refer to it.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    start = current_revision(engine)
    if start == head:
        return []
    known = {rev.revision for rev in script.walk_revisions()}
    if start is not None and start not in known:
        raise LibraryVersionError(
            f"{database_name(engine)}: written by a newer pe-search (schema {start})",
            "upgrade pe-search",
            value=start,
        )
    applied = [rev.revision for rev in script.iterate_revisions(head, start)][::-1]
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left {len(broken)} rows with broken foreign keys")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
    log.info("%s: schema upgraded %s -> %s", database_name(engine), start or "empty", head)
    return applied
