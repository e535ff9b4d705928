"""Keep transformers' docstring linter off stdout without touching `sys.stdout`.

`PeVideoModel.__init__` runs transformers' `auto_docstring` checker, which `print()`s lines such as
"[ERROR] `padding_mask_videos` is part of ... signature, but not documented" on every construction.
Hiding them with `contextlib.redirect_stdout` swaps the process's stdout: another thread's output
vanishes meanwhile, and two threads loading at once can leave it swapped for good. Instead the
checker module's own `print` is pointed at this module's debug log; nothing else is affected.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

_CHECKER = "transformers.utils.auto_docstring"


def _to_log(*parts, sep: str = " ", **_) -> None:
    log.debug("%s", sep.join(str(part) for part in parts))


def quiet_docstring_lint() -> None:
    """Route the checker's prints to the debug log (idempotent, thread-safe: one assignment)."""
    module = importlib.import_module(_CHECKER)
    module.print = _to_log  # a module global shadows the builtin for that module's code only
