"""Without a model given, `index` uses the model the library records, even when the library is
damaged (a read-only open fails); when the record itself is unreadable it says so in one line and
says what to do, instead of loading the default hub model (issue 27, defect 12)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner

from pe_search import Library
from pe_search.cli.main import cli
from pe_search.errors import PeSearchError
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryDamagedError, LibraryLayout, LibraryStore, LibraryVersionError
from pe_search.store.database import alembic_config, open_engine
from testkit import media

HUB_DEFAULT = "facebook/pe-av-small"  # what a front door passes as default_model


@pytest.fixture
def built(tmp_path, checkpoint_dirs) -> tuple[Path, Path, tuple[str, ...]]:
    """(media folder, library, the model ids it records): a toy-model library with two files."""
    folder, library_dir = tmp_path / "media", tmp_path / "lib"
    folder.mkdir()
    for number, freq in enumerate((440.0, 660.0)):
        media.write_audio(folder / f"tone{number}.wav", media.tone(freq, 2.0, 48_000), 48_000)
    with Library.open(library_dir, model=checkpoint_dirs["audio"], frame_model=None) as library:
        assert library.index([folder], workers=0, progress=False, window=1.0).files_indexed == 2
        recorded = library.models.identity().model_ids
    assert recorded == (str(checkpoint_dirs["audio"]),)  # the toy checkpoint, not the hub default
    return folder, library_dir, recorded


def _damage(library_dir: Path, how: str) -> None:
    """Make the read-only open (what the model choice used to rely on) fail, the record intact."""
    if how == "cut-vector-file":
        path = LibraryLayout(library_dir).vector_file("audio")
        os.truncate(path, path.stat().st_size // 2)
        error = LibraryDamagedError
    else:  # a library of an older schema revision (a writer upgrades it)
        engine = open_engine(LibraryLayout(library_dir).database, writer=True)
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
        engine.dispose()
        error = LibraryVersionError
    with pytest.raises(error):
        LibraryStore.open(library_dir, readonly=True)


@pytest.mark.parametrize("how", ["cut-vector-file", "older-schema"])
@pytest.mark.parametrize("default_model", [HUB_DEFAULT, None], ids=["front-door-default", "api-no-default"])
def test_a_damaged_library_is_indexed_with_its_recorded_model(built, default_model, how):
    folder, library_dir, recorded = built
    _damage(library_dir, how)
    with Library.open(library_dir, default_model=default_model) as library:
        assert library.model_choice().model == recorded[0]
        summary = library.index([folder], workers=0, progress=False)
        assert library.models.identity().model_ids == recorded  # the model that was loaded
        # the files whose vectors were lost are encoded again; after an upgrade none need it
        assert (summary.files_indexed, summary.skipped) == ((2, 0) if how == "cut-vector-file" else (0, 2))
    with LibraryStore.open(library_dir, readonly=True) as store:
        assert store.identity.model_ids == recorded


def _break_record(library_dir: Path, how: str) -> None:
    database = LibraryLayout(library_dir).database
    if how == "garbage-database":
        database.write_bytes(b"\x00not a database" * 512)
        return
    connection = sqlite3.connect(database)
    connection.execute("UPDATE model_fingerprint SET model_ids = 'not json' WHERE id = 1")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("how", ["garbage-database", "bad-model-ids"])
def test_an_unreadable_record_says_so_in_one_line(built, how, monkeypatch):
    folder, library_dir, _ = built
    _break_record(library_dir, how)
    with (
        Library.open(library_dir, default_model=HUB_DEFAULT) as library,
        pytest.raises(PeSearchError) as caught,
    ):
        library.model_choice()
    assert "cannot read which model built" in caught.value.what and "model" in caught.value.fix

    loaded: list = []
    original = ModelSet.load
    monkeypatch.setattr(
        ModelSet, "load", lambda *args, **kwargs: loaded.append(args) or original(*args, **kwargs)
    )
    result = CliRunner().invoke(cli, ["index", str(folder), "--library", str(library_dir), "--workers", "0"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, (
        result.output
    )
    assert "cannot read which model built" in lines[0] and "--model" in lines[0], lines[0]
    assert loaded == []  # no model loaded, the hub default least of all
