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
    progress.apply(MediaEncoded(media_seconds=50.0, elapsed=0.5), now=16.0)
    assert progress.rate == 100.0
    progress.apply(FileDone("/media/c.wav", reason="truncated"), now=17.0)
    assert (progress.done, progress.failed) == (1, 2)
    assert progress.eta == pytest.approx(7 / 3)  # 7 s for 3 files, 1 left
    progress.apply(FileDone("/media/d.wav"), now=20.0)
    assert (progress.done, progress.failed, progress.eta) == (2, 2, 0.0)
    progress.end("done", summary={"files_indexed": 3})
    shown = progress.as_dict()
    assert shown["status"] == "done" and shown["summary"] == {"files_indexed": 3}
    assert not any(name.startswith("_") for name in shown)


def test_nothing_to_encode_leaves_no_time():
    progress = IndexProgress(run=1, folders=[], started=0.0)
    progress.apply(FilesPlanned(0, 5, 0, 0), now=3.0)
    assert progress.eta == 0.0


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


def test_a_caught_up_follower_waits_and_wakes_for_each_append_from_another_thread():
    log = EventLog()
    log.append("started", {})
    appenders = [
        threading.Thread(target=log.append, args=(kind, {"n": n})) for n, kind in ((2, "file"), (3, "done"))
    ]

    async def follow() -> list:
        # Each appender starts once the follower awaits: it has read everything there was and
        # must wait for the next event, woken from the other thread.
        loop = asyncio.get_running_loop()
        loop.call_soon(appenders[0].start)
        seen = []
        async for event in log.follow(1):
            seen.append((event.id, event.kind, event.data, log.followers))
            if event.kind == "done":
                break
            loop.call_soon(appenders[1].start)
        return seen

    answer: list = []
    follower = threading.Thread(target=lambda: answer.extend(asyncio.run(follow())), daemon=True)
    follower.start()
    follower.join(60)  # a hang guard: a follower that never wakes (or never waits) fails here
    assert not follower.is_alive(), "the follower never woke"
    assert answer == [(2, "file", {"n": 2}, 1), (3, "done", {"n": 3}, 1)]
    assert log.followers == 0  # a reader that is done no longer follows
