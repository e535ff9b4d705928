"""Start spawned worker processes without re-running the caller's script in them.

A spawned child first re-imports the parent's `__main__` (as `__mp_main__`) so that it can unpickle
anything the script defined. The decode workers need nothing from it (their target and arguments
live in importable modules), and a script without an `if __name__ == "__main__":` guard, such as
the README's "new library" example run as `python script.py`, would open the library and index again
inside every worker, which then dies. So the workers start as from an interactive session: while
`start()` records what the child must prepare, `sys.modules["__main__"]` is a stand-in that hides
the script's file and module name and forwards every other attribute to the real module, so other
threads reading `__main__` meanwhile still find what they look for.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess

_starting = threading.Lock()  # one stand-in at a time


class _ScriptHidden(types.ModuleType):
    """`__main__` without `__file__` and with `__spec__` None: multiprocessing's spawn then does
    not re-run it in the child. Everything else reads through to the real module."""

    def __init__(self, real: types.ModuleType) -> None:
        super().__init__("__main__", getattr(real, "__doc__", None))
        self.__dict__["_real"] = real

    def __getattr__(self, name: str):
        if name == "__file__":
            raise AttributeError(name)
        return getattr(self.__dict__["_real"], name)


@contextmanager
def _script_hidden() -> Iterator[None]:
    real = sys.modules.get("__main__")
    if real is None or (getattr(real, "__spec__", None) is None and not hasattr(real, "__file__")):
        yield  # an interactive session: nothing would be re-run
        return
    with _starting:
        sys.modules["__main__"] = _ScriptHidden(real)
        try:
            yield
        finally:
            sys.modules["__main__"] = real


def start_without_script(processes: list[BaseProcess]) -> None:
    """`process.start()` for each, the children not re-running the caller's `__main__`."""
    with _script_hidden():
        for process in processes:
            process.start()
