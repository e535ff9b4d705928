"""Events numbered in order, appended from any thread and followed by async readers (the server's
event streams). Ids only grow, so a reader that reconnects with the last id it saw resumes there."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

KEEP = 10_000  # events kept for readers that reconnect; each carries the whole progress, so an older gap loses no totals


@dataclass(frozen=True)
class LoggedEvent:
    id: int
    kind: str
    data: dict[str, Any]


class EventLog:
    """Append from a worker thread; `follow` from the event loop, waking only when one arrives."""

    def __init__(self, keep: int = KEEP) -> None:
        self._events: deque[LoggedEvent] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._last_id = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._last_id

    @property
    def followers(self) -> int:
        """How many readers follow the log now."""
        with self._lock:
            return len(self._waiters)

    def append(self, kind: str, data: dict[str, Any]) -> LoggedEvent:
        with self._lock:
            self._last_id += 1
            event = LoggedEvent(self._last_id, kind, data)
            self._events.append(event)
            waiters = list(self._waiters)
        for loop, wake in waiters:
            with suppress(RuntimeError):  # that reader's loop has closed
                loop.call_soon_threadsafe(wake.set)
        return event

    def after(self, last_id: int) -> list[LoggedEvent]:
        """The kept events with ids above `last_id`, in order."""
        with self._lock:
            return [event for event in self._events if event.id > last_id]

    async def follow(self, last_id: int) -> AsyncIterator[LoggedEvent]:
        """Every event after `last_id`, then each new one as it is appended, until cancelled."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                waiter[1].clear()  # before reading: an append from now on wakes the wait below
                events = self.after(last_id)
                for event in events:
                    yield event
                    last_id = event.id
                if not events:
                    await waiter[1].wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)
