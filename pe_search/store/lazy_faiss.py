"""FAISS, imported on first use rather than with the store (issue 24).

A reader that only reports on a library (`pe-search status`, `LibraryStore.open(indexes=False)`)
never touches an index or a frame code, so it should not pay for loading FAISS (and its OpenMP
runtime) at start-up. The store's modules take `faiss` from here: the first attribute read imports
the real module (under Python's import lock, so threads that race here get one module) and copies
its names onto this stand-in, so later reads cost what a module attribute costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Faiss:
    def __getattr__(self, name: str) -> Any:
        import faiss

        self.__dict__.update(vars(faiss))
        return getattr(faiss, name)


faiss: Any = _Faiss()


@contextmanager
def one_omp_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread inside the block, the setting restored after.

    For small calls (one query, a few pieces) OpenMP's team costs more than it gives on a busy
    machine. The setting is the calling thread's own (OpenMP's per-thread nthreads-var)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)
