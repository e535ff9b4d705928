"""Where decoding runs: in this process, or in worker processes feeding a bounded queue.

Swapping this module's strategy changes nothing else in the pipeline (clip-retrieval's
"distributor" idea); a cluster engine would be one more function with the same contract:
take jobs, yield each file's payloads in order (files may interleave).
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from indexer.reader import FileJob, Payload, read_file
from indexer.settings import IndexSettings
from indexer.spawning import start_without_script


@dataclass
class _WorkerDone:
    worker: int


def decoded_payloads(
    jobs: Sequence[FileJob], settings: IndexSettings, workers: int = 1, queue_size: int = 8
) -> Iterator[Payload]:
    """Every job's payloads. `workers=0` decodes in this process (simplest to debug)."""
    if workers <= 0 or not jobs:
        for job in jobs:
            yield from read_file(job, settings)
        return
    context = multiprocessing.get_context("spawn")  # fork and a threaded torch do not mix
    todo = context.Queue()
    out = context.Queue(maxsize=queue_size)  # backpressure: decoding waits for the encoder
    for job in jobs:
        todo.put(job)
    count = min(workers, len(jobs))
    for _ in range(count):
        todo.put(None)
    processes = [
        context.Process(target=_work, args=(index, todo, out, settings), daemon=True)
        for index in range(count)
    ]
    start_without_script(processes)  # no `if __name__ == "__main__":` guard needed in the caller
    running = count
    helping = True  # until a worker delivers, this process decodes too: starting one takes seconds
    try:
        while running:
            if helping:
                try:
                    item = out.get_nowait()
                except queue.Empty:
                    job = _take_job(todo)
                    if job is not None:
                        yield from read_file(job, settings)
                    else:
                        helping = False  # nothing left to take: wait for the workers
                    continue
                helping = False  # a worker is up
            else:
                try:
                    item = out.get(timeout=1.0)
                except queue.Empty:
                    dead = [p for p in processes if p.exitcode not in (None, 0)]
                    if dead:
                        raise RuntimeError(f"a decode worker died (exit code {dead[0].exitcode})") from None
                    if all(p.exitcode is not None for p in processes):
                        raise RuntimeError("the decode workers ended without finishing their files") from None
                    continue
            if isinstance(item, _WorkerDone):
                running -= 1
            else:
                yield item
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


def _take_job(todo) -> FileJob | None:
    """A job no worker has taken yet, or None (the end markers stay for the workers)."""
    try:
        job = todo.get(timeout=0.05)
    except queue.Empty:
        return None
    if job is None:
        todo.put(None)
    return job


def _work(index: int, todo, out, settings: IndexSettings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides how to stop
    import torch

    torch.set_num_threads(1)
    parent = multiprocessing.parent_process()

    def put(item) -> None:
        # A main process killed with -9 cannot stop its workers: they notice and leave.
        while True:
            try:
                out.put(item, timeout=1.0)
                return
            except queue.Full:
                if parent is not None and not parent.is_alive():
                    out.cancel_join_thread()  # nobody reads any more: do not wait to flush
                    raise SystemExit(0) from None

    while True:
        try:
            job = todo.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                out.cancel_join_thread()
                return
            continue
        if job is None:
            break
        for payload in read_file(job, settings):
            put(payload)
    put(_WorkerDone(index))
