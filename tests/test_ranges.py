"""`byte_range` against RFC 9110 §14.1.2 worked by hand (issue 27, item 4): a suffix longer than
the file is the whole file, an end past the file is clamped, a start at or past the end and an
end before the start are unsatisfiable, and leading zeros are read as numbers."""

from __future__ import annotations

import pytest

from pe_search.server.ranges import BEYOND, MAX_DIGITS, RangeNotSatisfiable, _number, byte_range


@pytest.mark.parametrize(
    "header, size, expected",
    [
        (None, 10, None),  # no Range header: the whole file, as a 200
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=0-9", 10, (0, 9)),
        ("bytes=3-5", 10, (3, 5)),
        ("bytes=5-5", 10, (5, 5)),  # one byte: first == last is allowed
        ("bytes=9-", 10, (9, 9)),
        ("bytes=4-", 10, (4, 9)),
        ("bytes=0-10", 10, (0, 9)),  # an end one past the file is clamped
        ("bytes=2-1000", 10, (2, 9)),
        ("bytes=-1", 10, (9, 9)),  # the last byte
        ("bytes=-9", 10, (1, 9)),
        ("bytes=-10", 10, (0, 9)),  # a suffix as long as the file
        ("bytes=-11", 10, (0, 9)),  # ... longer than the file: the whole file
        ("bytes=-1000000", 10, (0, 9)),
        ("bytes=-5", 1, (0, 0)),
        (" bytes=1-2 ", 10, (1, 2)),  # surrounding blanks are not part of the header's value
        ("bytes=007-008", 10, (7, 8)),
        ("bytes=0-0", 1, (0, 0)),
    ],
)
def test_satisfiable_ranges(header, size, expected):
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(
    "header, size",
    [
        ("bytes=10-", 10),  # starts at the end
        ("bytes=11-20", 10),
        ("bytes=5-4", 10),  # ends before it starts
        ("bytes=9-0", 10),
        ("bytes=-0", 10),  # a suffix of no bytes
        ("bytes=-000", 10),
        ("bytes=-5", 0),  # an empty file has no last bytes
        ("bytes=0-", 0),  # ... and no first
        ("bytes=-", 10),
        ("bytes=a-b", 10),
        ("bytes=1-2,4-5", 10),  # several ranges: one is what media elements send
        ("bits=1-2", 10),
        ("bytes=1-2x", 10),
        ("xbytes=1-2", 10),
        ("", 10),
    ],
)
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)


def test_numbers_of_any_length():
    assert _number("0") == 0 and _number("000") == 0 and _number("0042") == 42
    assert _number("9" * MAX_DIGITS) == int("9" * MAX_DIGITS)  # the longest parsed
    assert _number("1" + "0" * MAX_DIGITS) == BEYOND  # one digit more stands for past the end
    assert _number("0" * 50 + "7") == 7  # leading zeros do not count towards the length
    assert BEYOND > 2**63  # past any file
    assert byte_range(f"bytes=0-{'9' * 30}", 10) == (0, 9)
    assert byte_range(f"bytes=-{'9' * 30}", 10) == (0, 9)


@pytest.mark.parametrize(
    "header, size, words",
    [
        ("bytes=1-2,4-5", 10, "cannot read the range 'bytes=1-2,4-5': send one range, bytes=FIRST-LAST"),
        ("bytes=-", 10, "bytes=- names no bytes"),
        ("bytes=-0", 10, "a suffix range of 0 bytes"),
        ("bytes=-5", 0, "a suffix range of 0 bytes"),
        ("bytes=10-", 10, "the range starts past the end of the file (10 bytes)"),
        ("bytes=5-4", 10, "the range ends before it starts"),
    ],
)
def test_an_unsatisfiable_range_says_what_is_wrong(header, size, words):
    """The message is the 416's body: it tells the client what to send instead."""
    with pytest.raises(RangeNotSatisfiable) as refused:
        byte_range(header, size)
    assert str(refused.value) == words
