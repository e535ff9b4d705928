"""FAISS, imported on first use rather than with the store (issue 24).

A reader that only reports on a library (`pe-search status`, `LibraryStore.open(indexes=False)`)
never touches an index or a frame code, so it should not pay for loading FAISS (and its OpenMP
runtime) at start-up. The store's modules take `faiss` from here: the first attribute read imports
the real module (under Python's import lock, so threads that race here get one module) and copies
its names onto this stand-in, so later reads cost what a module attribute costs.
"""

from __future__ import annotations

from typing import Any


class _Faiss:
    def __getattr__(self, name: str) -> Any:
        import faiss

        self.__dict__.update(vars(faiss))
        return getattr(faiss, name)


faiss: Any = _Faiss()
