"""Where the decode + encode stage runs (clip-retrieval's "distributor").

A distributor takes the run's file jobs and the `EncodeStage`, and yields each file's outcome
(`EncodedFile` or `FileFailure`) in any order; the pipeline writes them through its single
writer. Adding one (a cluster engine in `indexer/distributors/ray.py`) is a class with this one
method, passed to `run_index(distributor=...)`: nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from indexer.reader import FileJob
from indexer.stage import EncodeStage, FileOutcome


class Distributor(Protocol):
    def encoded_files(self, jobs: Sequence[FileJob], stage: EncodeStage) -> Iterator[FileOutcome]:
        """Every job's outcome. Closing the iterator early must stop the work it started."""
        ...


def local_distributor(workers: int) -> Distributor:
    """`workers=0`: everything in this process; else decoding in that many local processes."""
    from indexer.distributors.local import InProcess, LocalWorkers

    return InProcess() if workers <= 0 else LocalWorkers(workers)
