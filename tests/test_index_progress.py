"""The server's picture of a run (`IndexProgress`, folded from the pipeline's events; its rate and
time left worked out by hand here) and its event log (`EventLog`: ids in order, resume after an
id, a follower woken by an append from another thread)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from indexer.events import FileDone, FilesPlanned, MediaEncoded
from pe_search.server.event_log import EventLog
from pe_search.server.index_progress import IndexProgress


def test_progress_counts_files_and_works_out_rate_and_time_left():
    progress = IndexProgress(run=1, folders=["/media"], started=0.0)
    assert (progress.planned, progress.eta) == (None, None)  # still walking: nothing known
    progress.apply(FilesPlanned(to_encode=4, unchanged=7, moved=1, removed=2), now=10.0)
    assert (progress.planned, progress.unchanged, progress.moved, progress.removed) == (4, 7, 1, 2)
    assert progress.eta is None  # no file finished: no pace yet
    progress.apply(MediaEncoded(media_seconds=30.0, elapsed=2.0), now=12.0)
    assert progress.rate == 15.0 and progress.media_seconds == 30.0
    progress.apply(FileDone("/media/a.wav"), now=12.0)
    assert progress.eta == 6.0  # 2 s for 1 file, 3 left
    progress.apply(FileDone("/media/b.wav", reason="not a sound"), now=14.0)
    assert (progress.done, progress.failed) == (1, 1)
    assert progress.eta == 4.0  # 4 s for 2 files, 2 left
    progress.apply(MediaEncoded(media_seconds=45.0, elapsed=0.0), now=14.0)
    assert progress.rate is None  # no time measured: no rate rather than a division by zero
    for path in ("/media/c.wav", "/media/d.wav"):
        progress.apply(FileDone(path), now=20.0)
    assert progress.eta == 0.0
    progress.end("done", summary={"files_indexed": 3})
    shown = progress.as_dict()
    assert shown["status"] == "done" and shown["summary"] == {"files_indexed": 3}
    assert not any(name.startswith("_") for name in shown)


@pytest.mark.parametrize("status, eta", [("failed", None), ("stopped", None), ("done", 0.0)])
def test_an_ended_run_knows_no_time_left_unless_done(status, eta):
    progress = IndexProgress(run=1, folders=[], started=0.0)
    progress.apply(FilesPlanned(3, 0, 0, 0), now=0.0)
    progress.apply(FileDone("/a"), now=1.0)
    progress.end(status, error="disk full" if status == "failed" else None)
    assert progress.eta == eta


def test_the_log_numbers_events_in_order_and_resumes_after_an_id():
    log = EventLog(keep=3)
    for index in range(5):
        log.append("file", {"n": index})
    assert log.last_id == 5
    assert [(event.id, event.data["n"]) for event in log.after(0)] == [(3, 2), (4, 3), (5, 4)]  # 3 kept
    assert [event.id for event in log.after(4)] == [5]
    assert log.after(5) == []


def test_a_follower_wakes_for_an_event_appended_from_another_thread():
    log = EventLog()
    log.append("started", {})

    async def follow() -> list[int]:
        seen = []
        async for event in log.follow(0):
            seen.append(event.id)
            if event.id == 1:  # caught up: the next one comes from a thread, while this waits
                threading.Thread(target=log.append, args=("done", {})).start()
            if event.kind == "done":
                return seen
        return seen

    assert asyncio.run(asyncio.wait_for(follow(), timeout=60)) == [1, 2]
