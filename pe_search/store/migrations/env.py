"""Alembic environment for a pe-search library database.

Run two ways: by `pe_search.store.database.upgrade` when a library is opened (it passes its
connection in `config.attributes["connection"]`), or by the `alembic` command for developers
(`alembic -c alembic/alembic.ini -x library=DIR ...`, see alembic/README.md).
"""

from __future__ import annotations

from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine

from pe_search.store.schema import Base, is_managed_table

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, _parent) -> bool:
    """Autogenerate leaves FTS5's tables alone: migrations make them with raw SQL."""
    return type_ != "table" or is_managed_table(name)


def _configure_and_run(connection) -> None:
    # The library's engines BEGIN explicitly, so on SQLite the DDL is transactional after all.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        transactional_ddl=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    library = context.get_x_argument(as_dictionary=True).get("library")
    if library:
        from pe_search.store.layout import LibraryLayout

        return f"sqlite:///{LibraryLayout(Path(library)).database}"
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass -x library=DIR (a library directory) or set sqlalchemy.url")
    return url


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    engine = create_engine(_url())
    with engine.connect() as connection:
        _configure_and_run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: migrations run on an open library")
run_migrations_online()
