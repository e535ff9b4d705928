"""The CLI starts without the models' libraries: `pe-search status` and the other commands that
need no model must not pay for importing torch (issue 24: status at 1M files in at most 1 s, of
which importing torch alone took several seconds of CPU)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "torchvision")


def test_the_cli_and_the_server_settings_import_no_model_library():
    code = (
        "import sys, pe_search.cli.main, pe_search.server.config; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_server_package_still_gives_its_app():
    from pe_search.server import ServerConfig, create_app
    from pe_search.server.app import create_app as app_factory

    assert create_app is app_factory and ServerConfig.__name__ == "ServerConfig"


STATUS_NEEDS_NONE_OF = ("faiss", "alembic", "torch", "transformers", "av", "opentimelineio")


def test_status_reads_sqlite_alone_and_reports_what_a_full_open_does(tmp_path):
    """`pe-search status` imports neither FAISS nor Alembic (nor the media libraries), loads no
    index (issue 24: at a million files most of its second was those imports), and its report is
    the one a reader that loaded every index gives."""
    import json

    from test_store_support import add_file, make_identity

    from pe_search.status_report import status_report
    from pe_search.store import LibraryStore, MediaRecord

    library = tmp_path / "library"
    with LibraryStore.open(library, make_identity()) as store:
        for number in range(5):
            add_file(store, number, spaces=("audio", "video"))
        with store.write() as tx:
            tx.upsert_media(
                MediaRecord(path="/m/bad.wav", size=1, mtime=0.0, status="failed", error="could not decode")
            )
            tx.upsert_media(
                MediaRecord(path="/m/half.mp4", size=1, mtime=0.0, status="partial", error="video unreadable")
            )
    code = (
        "import sys\n"
        "from pe_search.cli.main import cli\n"
        f"try:\n    cli(['status', '--library', {str(library)!r}, '--json'])\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n"
        f"print(sorted(m for m in {STATUS_NEEDS_NONE_OF!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    shown = json.loads(done.stdout)
    with LibraryStore.open(library, readonly=True) as reader:  # every index loaded
        assert reader.space_index("audio") is not None
        expected = status_report(reader, library).as_dict()
    assert shown == json.loads(json.dumps(expected))
    assert shown["spaces"]["audio"]["vectors"] == 20 and shown["spaces"]["audio"]["bytes"] > 0
    assert [f["path"] for f in shown["failed"]] == ["/m/bad.wav"]
    assert [f["path"] for f in shown["partial"]] == ["/m/half.mp4"]


def test_the_migrations_are_read_as_alembic_reads_them():
    """A reader checks the schema revision without Alembic: the shipped revisions and the head
    it reads from the scripts are the ones Alembic's own ScriptDirectory finds."""
    from alembic.script import ScriptDirectory

    from pe_search.store.database import alembic_config, revisions

    script = ScriptDirectory.from_config(alembic_config())
    shipped = revisions()
    assert shipped.head == script.get_current_head()
    assert shipped.known == {rev.revision for rev in script.walk_revisions()}


# What only the audio and video towers need: a text query must not import them (issue 24, item 5:
# timm and PE-V's model with it were a second of `pe-search search`'s start, torch.compile's
# inductor another, for a query that runs the text tower alone); nor PyAV, for a library that
# recorded its files' timecodes. (torchvision and torch._dynamo stay: transformers imports them.)
TEXT_SEARCH_NEEDS_NONE_OF = (
    "timm",
    "torch._inductor.compile_fx",
    "transformers.models.pe_video.modeling_pe_video",
    "transformers.models.pe_audio_video.modeling_pe_audio_video",
    "av",
)


def test_a_text_search_loads_the_text_tower_alone(tmp_path):
    """`pe-search search TEXT` in a process of its own: hits from the toy model's text tower,
    none of the other towers' libraries imported."""
    import json

    from test_store_support import write_timecoded_library

    from pe_search.models.model_set import ModelSet

    identity = ModelSet.load("toy", "toy-frame").identity()  # the library records the toy models
    library = tmp_path / "library"
    write_timecoded_library(library, identity)
    code = (
        "import sys\n"
        "from pe_search.cli.main import cli\n"
        f"try:\n    cli(['search', 'a high beep', '--library', {str(library)!r}, '--target', 'audio', "
        "'--mode', 'vector', '-k', '5', '--json'])\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n"
        f"print(sorted(m for m in {TEXT_SEARCH_NEEDS_NONE_OF!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    assert len(json.loads(done.stdout)) == 3  # the best segment of each file
