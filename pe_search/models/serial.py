"""One call at a time through an encoder.

A Hugging Face fast tokenizer changes its own truncation and padding state on every call (two
threads at once raise "expected an instance of Token" or corrupt each other's batch), and the
frame cache and the compiled front end are not thread-safe either, so a `Library` shared by
threads sends each encoder's calls through this lock. On CPU one call already uses every core, so
serialising costs little; an uncontended acquire and release take a few microseconds
(4 us measured on a 2-core machine under load), beside milliseconds per encoder call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class EncoderLock:
    """A re-entrant lock (an embedding calls the towers, which lock again) that records when a
    thread had to wait for it: `contended` is set then, so a test can hold one thread inside an
    encoder until another is known to be queued behind it, and never needs a timer."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.contended = threading.Event()

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.contended.set()
            self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()


def serialised(method: F) -> F:
    """Run an encoder method under its instance's `calls` lock."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.calls:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]
