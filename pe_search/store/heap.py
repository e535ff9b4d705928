"""Giving the heap's freed pages back to the system after the writer lets go of an index.

FAISS keeps an in-memory IVF index's lists as one array each (at 1.4M vectors in 2,048 lists,
~90 KB apiece): glibc serves them from its heap, not from maps of their own, and when a save
lets them go (the writer then maps the saved file) the freed pages stay in the process between
live allocations. Measured on three 1.4M-vector rebuilds in a row (docs/benchmarks.md, issue
24 item 6): 265 MB stayed after the first, and the next build's training sample came on top of
them; with the heap trimmed after each save, 33 MB stayed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _malloc_trim():
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def give_back() -> bool:
    """Return the heap's free pages to the system; False where this C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
