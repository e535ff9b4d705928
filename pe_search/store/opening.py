"""Opening a library: make or find it, migrate its schema and its old frame rows, check the model
it was built with and the settings it was indexed with, and bring each space's index up to date
with SQLite (the repairs are in store/repair.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Self

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pe_search.models.identity import ModelIdentity
from pe_search.store.core import live_ids, space_state
from pe_search.store.database import check_revision, current_revision, open_engine, upgrade
from pe_search.store.disk import disk_errors
from pe_search.store.errors import LibraryNotFoundError, ModelMismatchError, ModelRecordError
from pe_search.store.frame_migration import convert_frame_rows
from pe_search.store.frame_store import FramePolicy
from pe_search.store.layout import LibraryLayout
from pe_search.store.lock import WriterLock
from pe_search.store.policy import IndexPolicy
from pe_search.store.repair import Repair
from pe_search.store.schema import IndexSettingsRow, IndexState, ModelIdentityRow


class Opening(Repair):
    """`LibraryStore.open` and what the library was built with (model identity, index settings)."""

    @classmethod
    def open(
        cls,
        library_dir: str | Path,
        identity: ModelIdentity | None = None,
        *,
        create: bool = True,
        readonly: bool = False,
        rebuild: bool = False,
        indexes: bool = True,
        policy: IndexPolicy | None = None,
        frame_policy: FramePolicy | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Self:
        """Open (and with `create`, make) the library in `library_dir`.

        Applies pending migrations, refuses an `identity` other than the one that built the
        library (unless `rebuild`, which drops every vector and marks every file pending), and
        brings each space's index up to date with SQLite, rebuilding it from the stored vectors
        when it is missing or unreadable; `store.messages` says what was repaired. A library
        with frame rows of an older format has them converted into blocks (`progress` hears how
        far that has got).

        `indexes=False` (a reader only) leaves each space's index to be loaded by its first search
        instead of now: `status()` then reports the indexes as SQLite records them, and a status
        report of a library with millions of vectors does not read them (issue 24). The stored
        vectors and frames are checked all the same.
        """
        if not indexes and not readonly:
            raise ValueError("indexes=False is for readers: a writer keeps its indexes up to date")
        layout = LibraryLayout(Path(library_dir))
        if not layout.exists():
            if readonly or not create:
                raise LibraryNotFoundError(layout.root)
            layout.vectors_dir.mkdir(parents=True, exist_ok=True)
        store = cls(layout, policy or IndexPolicy(), readonly=readonly, frame_policy=frame_policy)
        try:
            with disk_errors(layout.root):  # a writer on a full or read-only disk: one line
                store._open(identity, rebuild, progress, indexes)
        except BaseException:
            store.close(save=False)
            raise
        return store

    def _open(
        self,
        identity: ModelIdentity | None,
        rebuild: bool,
        progress: Callable[[str], None] | None,
        indexes: bool = True,
    ) -> None:
        database = self.layout.database
        if not self.readonly:
            self._lock = WriterLock(self.layout.lock)
            self._lock.acquire()
            self._write_engine = open_engine(database, writer=True)
            before = current_revision(self._write_engine)
            applied = upgrade(self._write_engine)
            if applied and before is not None:
                self._say(f"upgraded the library's schema from {before} to {applied[-1]}")
        self._read_engine = open_engine(database, writer=False, mapped=self.readonly)
        if self.readonly:
            check_revision(self._read_engine)
        if not self._check_model(identity, rebuild) and rebuild and not self.readonly:
            # asked for, with the same model: every file is encoded again all the same (a repair)
            self._drop_encodings("rebuild asked for")
        if not self.readonly:
            self._repair_text_index()
            self._remove_leftovers()
            for message in convert_frame_rows(self, progress):
                self._say(message)
        if indexes:
            self._load_spaces()
        else:
            self._check_stored_vectors()

    def _load_spaces(self) -> None:
        self._check_stored_vectors()
        with self._read_engine.connect() as connection:
            states = [space_state(row) for row in connection.execute(select(IndexState))]
        for state in states:
            space = self._new_space(state.space, state.dim)
            with self._read_engine.connect() as connection:
                messages = space.load(state, lambda s=state.space, c=connection: live_ids(c, s))
            for message in messages:
                self._say(message)
            if not self.readonly and self._maintain(space, state.count) is not None and space.dirty:
                self._save(space)

    # -- the model that built the library -------------------------------------------------------------

    def _check_model(self, identity: ModelIdentity | None, rebuild: bool) -> bool:
        """Record or check the model; True when another model (with `rebuild`) dropped every
        encoding."""
        dropped = False
        stored = self._stored_identity()
        if stored is not None and identity is not None:
            difference = stored.difference(identity)
            if difference is not None:
                if not rebuild or self.readonly:
                    raise ModelMismatchError(self.layout.root, difference)
                self._reset_for_model(identity, difference)
                stored = identity
                dropped = True
            elif stored.weights_hash != identity.weights_hash and not self.readonly:
                self._record_weights_hash(identity.weights_hash)
                stored = replace(stored, weights_hash=identity.weights_hash)
        elif stored is None and identity is not None and not self.readonly:
            with self._session() as session:
                session.add(_identity_row(identity))
                session.commit()
            stored = identity
        self.identity = stored or identity
        return dropped

    def _stored_identity(self) -> ModelIdentity | None:
        try:
            with self._read_engine.connect() as connection:
                row = connection.execute(select(ModelIdentityRow).where(ModelIdentityRow.id == 1)).first()
            return ModelIdentity.from_json(row._asdict()) if row is not None else None
        except (ValueError, TypeError, KeyError) as error:  # a damaged row: one line, not a traceback
            raise ModelRecordError(
                self.layout.root, f"{type(error).__name__}: {error}".splitlines()[0]
            ) from error

    def _record_weights_hash(self, weights_hash: str) -> None:
        """The same weights recorded under an older release's hash: record today's form, so the
        library opens under any copy of them without working out the older forms again."""
        with self._session() as session:
            session.execute(
                update(ModelIdentityRow).where(ModelIdentityRow.id == 1).values(weights_hash=weights_hash)
            )
            session.commit()
        self._say("recorded the model's weights hash in this release's form (same weights)")

    def _reset_for_model(self, identity: ModelIdentity, difference: str) -> None:
        """Drop every vector and segment, keep the files' rows as pending, record the new model."""

        def record(session: Session) -> None:
            session.execute(delete(ModelIdentityRow))
            session.add(_identity_row(identity))

        self._drop_encodings(f"model changed ({difference})", record)

    # -- the settings the files were indexed with ---------------------------------------------------

    def index_settings(self) -> dict | None:
        """The settings the library's files were indexed with (as the indexer recorded them)."""
        with self._read_engine.connect() as connection:
            row = connection.execute(
                select(IndexSettingsRow.settings).where(IndexSettingsRow.id == 1)
            ).first()
        return dict(row.settings) if row is not None else None

    def record_index_settings(self, settings: dict, reason: str | None = None) -> None:
        """Record `settings`; with `reason` (they changed), drop every encoding first."""
        self._require_writer()

        def record(session: Session) -> None:
            session.execute(delete(IndexSettingsRow))
            session.add(IndexSettingsRow(id=1, settings=dict(settings)))

        if reason is not None:
            self._drop_encodings(reason, record)  # one transaction: no half-changed library
            return
        with self._session() as session:
            record(session)
            session.commit()


def _identity_row(identity: ModelIdentity) -> ModelIdentityRow:
    return ModelIdentityRow(id=1, **identity.to_json())
