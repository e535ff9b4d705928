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
