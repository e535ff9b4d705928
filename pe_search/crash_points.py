"""Named points where a test stops this process for certain: kill -9 (or a Ctrl-C) at the Nth
time the run passes the point, instead of at a moment guessed from a clean run's speed.

`PE_SEARCH_CRASH_AT=POINT:N` (N defaults to 1) arms one point for the process's life;
`PE_SEARCH_CRASH_SIGNAL=INT` sends SIGINT instead of SIGKILL (a Ctrl-C there), `STOP` stops the
process there until a test sends SIGCONT (searches then meet a run certainly under way).
Unarmed, `reached` is one comparison. The points (docs/reliability.md):

- `file-encoded`: a file encoded, before it is handed to the writer (a test replaces it there);
- `file-written`: inside a file's write transaction, everything added, before it commits;
- `file-committed`: just after a file's transaction committed;
- `index-save`: inside a FAISS index save, the temporary file written, before the rename;
- `index-build-chunk`: an IVF build's chunk of codes written to its build folder (`ivf_build`);
- `index-merge`: half way through writing an IVF index's merged lists to a new data file (`ivf_lists`).
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "PE_SEARCH_CRASH_AT"
SIGNAL_ENV = "PE_SEARCH_CRASH_SIGNAL"
POINTS = ("file-written", "file-committed", "index-save", "file-encoded", "index-build-chunk", "index-merge")
SIGNALS = ("KILL", "INT", "STOP")


def _armed() -> tuple[str, int] | None:
    value = os.environ.get(ENV)
    if not value:
        return None
    name, _, count = value.partition(":")
    if name not in POINTS or (count and not count.isdigit()):
        raise ValueError(f"{ENV}={value!r}: expected one of {', '.join(POINTS)}, optionally :N")
    return name, int(count or 1)


_ARMED = _armed()
_passes = 0
_count_lock = threading.Lock()


def reached(point: str) -> None:
    """Called at each named point; stops the process there when the point is armed."""
    if _ARMED is None or point != _ARMED[0]:
        return
    global _passes
    with _count_lock:
        _passes += 1
        if _passes != _ARMED[1]:
            return
    name = os.environ.get(SIGNAL_ENV, "KILL").upper()
    if name not in SIGNALS:
        raise ValueError(f"{SIGNAL_ENV}={name!r}: expected one of {', '.join(SIGNALS)}")
    os.kill(os.getpid(), signal.Signals[f"SIG{name}"])
