"""Decoding in worker processes (with this process helping until they are up) loses nothing."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import numpy as np
from indexing import make_folder

from indexer import workers
from indexer.reader import (
    FileDecoded,
    FileFailed,
    FileJob,
    FileStarted,
    FrameChunkPayload,
    WindowPayload,
    read_file,
)
from indexer.settings import IndexSettings
from indexer.state import content_hash, file_signature
from indexer.walk import iter_media
from indexer.workers import decoded_payloads
from pe_search.models.video_preprocessing import FramePreprocessing
from pe_search.toy import tiny


def _key(payload) -> tuple:
    if isinstance(payload, WindowPayload):
        audio = None if payload.audio is None else round(float(np.abs(payload.audio).sum()), 3)
        return ("window", payload.path, payload.index, audio, payload.frame_times)
    if isinstance(payload, FrameChunkPayload):
        return ("chunk", payload.path, payload.start, round(float(np.abs(payload.audio).sum()), 3))
    return (type(payload).__name__, _path(payload))


def _path(payload) -> str:
    return payload.job.path if isinstance(payload, FileStarted) else payload.path


def test_worker_decoding_gives_every_payload_once_in_file_order(tmp_path, monkeypatch):
    folder = tmp_path / "media"
    for copy in range(8):  # enough files that the workers are up before this process is done
        make_folder(folder / f"copy{copy}")
    _, video = tiny.preprocessor_configs(1920, 28)
    settings = IndexSettings(
        window=1.0, hop=0.5, frames_per_window=4, frame_preprocessing=FramePreprocessing.from_config(video)
    )
    jobs = [FileJob(str(c.path), *file_signature(c.path), content_hash(c.path)) for c in iter_media([folder])]
    alone = list(decoded_payloads(jobs, settings, workers=0))
    here = []  # files this process decoded while the workers were starting
    spawn = multiprocessing.get_context("spawn")
    queues = []

    class Context:  # the spawn context, with the queues it makes kept (the second one is `out`)
        def __getattr__(self, name):
            return getattr(spawn, name)

        def Queue(self, *args, **kwargs):  # noqa: N802  (multiprocessing's name)
            queues.append(spawn.Queue(*args, **kwargs))
            return queues[-1]

    def held_read_file(job, settings):
        here.append(job.path)
        # This process's second file waits until a worker has delivered something: both decode,
        # however long the workers take to start on a loaded machine.
        while len(here) == 2 and queues[1].empty() and multiprocessing.active_children():
            time.sleep(0.01)
        return read_file(job, settings)

    monkeypatch.setattr(workers.multiprocessing, "get_context", lambda method: Context())
    monkeypatch.setattr(workers, "read_file", held_read_file)
    pooled = list(decoded_payloads(jobs, settings, workers=2))
    assert 0 < len(here) < len(jobs)  # both this process and the workers decoded files
    assert Counter(map(_key, pooled)) == Counter(map(_key, alone))
    assert sum(isinstance(p, FileFailed) for p in pooled) == 8  # broken.mp4 in each copy
    for job in jobs:  # each file: started, its payloads in order, then decoded
        own = [p for p in pooled if _path(p) == job.path]
        if isinstance(own[0], FileFailed):  # not media at all: failed before it started
            assert len(own) == 1
            continue
        assert isinstance(own[0], FileStarted) and isinstance(own[-1], FileDecoded)
        indices = [p.index for p in own if isinstance(p, WindowPayload)]
        assert indices == sorted(indices)
