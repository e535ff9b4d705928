"""Distributors on this machine: all in this process, or decoding in local worker processes
(`indexer.workers`) while this process encodes (the models are loaded once, here)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from indexer.reader import FileJob, Payload
from indexer.stage import EncodeStage, FileOutcome
from indexer.workers import decoded_payloads


@dataclass(frozen=True)
class InProcess:
    """Decode and encode in this process, one file after another (simplest to debug)."""

    def encoded_files(self, jobs: Sequence[FileJob], stage: EncodeStage) -> Iterator[FileOutcome]:
        def payloads() -> Iterator[Payload]:
            for job in jobs:
                yield from stage.read(job)

        yield from _encode(stage, payloads(), jobs)


@dataclass(frozen=True)
class LocalWorkers:
    """Decode in `workers` spawned processes feeding a bounded queue; encode in this process."""

    workers: int = 1

    def encoded_files(self, jobs: Sequence[FileJob], stage: EncodeStage) -> Iterator[FileOutcome]:
        yield from _encode(stage, decoded_payloads(jobs, stage.settings, self.workers), jobs)


def _encode(
    stage: EncodeStage, payloads: Iterator[Payload], jobs: Sequence[FileJob]
) -> Iterator[FileOutcome]:
    try:
        yield from stage.encode(payloads, jobs)
    finally:
        payloads.close()  # stops the workers promptly when the run ends early
