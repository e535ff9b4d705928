"""Which spoken words of a transcript phrase a query matched (issue 26), so a hit lands on them.

A phrase's text entry is its words joined by single spaces (store/transcripts.py), so a character
of the entry's text belongs to exactly one word. FTS5's `highlight()` marks the stretches of that
text its matched tokens cover (a quoted phrase as one stretch); a word is matched when a marked
stretch overlaps it. FTS5 itself decides what matched (its tokenizer, stemming and phrase rules);
this only reads its marks back onto the words and their times.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpokenWord:
    """A word as the model wrote it (punctuation kept, leading space stripped) and when it was
    said, in seconds from the file's start. Defined here, the leaf both text_index and
    transcripts read, so that neither imports the other's importer (no cycle)."""

    text: str
    start: float
    end: float


def marked_spans(highlighted: str, mark_open: str, mark_close: str) -> tuple[str, list[tuple[int, int]]]:
    """(the text without marks, [start, end) character spans of each marked stretch in it)."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    opened = None
    for char in highlighted:
        if char == mark_open:
            opened = len(plain)
        elif char == mark_close and opened is not None:
            spans.append((opened, len(plain)))
            opened = None
        else:
            plain.append(char)
    return "".join(plain), spans


def matched_words(spans: list[tuple[int, int]], words: tuple[SpokenWord, ...]) -> tuple[SpokenWord, ...]:
    """The words a marked span overlaps, in spoken order, the spans being character places in the
    words joined by single spaces (the caller checks that the marked text is that)."""
    found = []
    at = 0
    for word in words:
        first, last = at, at + len(word.text)
        if any(start < last and first < end for start, end in spans):
            found.append(word)
        at = last + 1
    return tuple(found)
