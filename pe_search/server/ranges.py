"""HTTP byte ranges (RFC 9110 §14): one range per request, which is what media elements send."""

from __future__ import annotations

import re

RANGE = re.compile(r"^bytes=(?P<first>\d*)-(?P<last>\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have, or cannot be read: 416."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a Range header against a file of `size` bytes; None: the whole file."""
    if header is None:
        return None
    match = RANGE.match(header.strip())
    if match is None:
        raise RangeNotSatisfiable(f"cannot read the range {header!r}: send one range, bytes=FIRST-LAST")
    first, last = match["first"], match["last"]
    if not first and not last:
        raise RangeNotSatisfiable("bytes=- names no bytes")
    if not first:  # a suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable("a suffix range of 0 bytes")
        return max(size - count, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(f"bytes {header[6:]} are outside the file ({size} bytes)")
    return start, end
