"""HTTP byte ranges (RFC 9110 §14): one range per request, which is what media elements send."""

from __future__ import annotations

import re

RANGE = re.compile(r"^bytes=(?P<first>\d*)-(?P<last>\d*)$")
# More digits than this is past any file; such numbers are not parsed (int() refuses past 4300
# digits, and there is no use in trying): they stand for "beyond the end".
MAX_DIGITS = 19
BEYOND = 10**MAX_DIGITS


def _number(digits: str) -> int:
    """The value of a run of digits, or BEYOND when it is longer than any file could need."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= MAX_DIGITS else BEYOND


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
        count = _number(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable("a suffix range of 0 bytes")
        return max(size - count, 0), size - 1
    start = _number(first)
    end = min(_number(last), size - 1) if last else size - 1
    if start >= size:
        raise RangeNotSatisfiable(f"the range starts past the end of the file ({size} bytes)")
    if last and _number(last) < start:
        raise RangeNotSatisfiable("the range ends before it starts")
    return start, end
