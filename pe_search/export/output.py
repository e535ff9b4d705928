"""Writing the export file: refused when it exists (unless forced) or its folder cannot be written;
written to a temporary file beside it and moved into place, so a failure never leaves half a file
nor destroys the one that was there."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pe_search.export.errors import output_exists, output_unwritable


def check_output(path: Path, force: bool) -> None:
    """Refuse before any work: an existing output without `force`, a folder that is not there or
    that cannot be written, a path that is a folder."""
    if path.is_dir():
        raise output_unwritable(path, "it is a folder")
    if path.exists() and not force:
        raise output_exists(path)
    folder = path.parent
    if not folder.is_dir():
        raise output_unwritable(path, f"no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise output_unwritable(path, f"permission denied in {folder}")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write` on a temporary path beside `path`, then move it into place."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as error:
        raise output_unwritable(path, error.strerror or str(error)) from None
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except OSError as error:
        raise output_unwritable(path, error.strerror or str(error)) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
