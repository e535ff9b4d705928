"""Score a transcription against the generator's words: word error rate and word-time accuracy.

The words are aligned by edit distance (difflib's matching blocks); a word counts as timed right
when it was recognised and both its start and its end are within the tolerance of where the
generator put it. Shares are of the generator's words, so a missed word counts as wrong.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pe_search.toy.speech import SpokenWord


@dataclass(frozen=True)
class HeardWord:
    text: str
    start: float
    end: float


@dataclass
class Score:
    words: int  # the generator's words
    errors: int  # substitutions + deletions + insertions
    timed: int  # recognised with start and end within the tolerance
    start_errors: list[float]  # |start - true start| of each recognised word, seconds
    end_errors: list[float]

    @property
    def wer(self) -> float:
        return self.errors / max(self.words, 1)

    @property
    def timed_share(self) -> float:
        return self.timed / max(self.words, 1)

    def __add__(self, other: Score) -> Score:
        return Score(
            self.words + other.words,
            self.errors + other.errors,
            self.timed + other.timed,
            self.start_errors + other.start_errors,
            self.end_errors + other.end_errors,
        )


def heard(chunks: list[dict]) -> list[HeardWord]:
    """The pipeline's `chunks` (return_timestamps="word") as words, lower-cased and stripped."""
    out = []
    for c in chunks:
        text = c["text"].strip().lower()
        if text:
            start, end = c["timestamp"]
            out.append(HeardWord(text, float(start), float(end if end is not None else start)))
    return out


def score(truth: list[SpokenWord], got: list[HeardWord], tolerance: float = 0.1) -> Score:
    a, b = [w.text for w in truth], [w.text for w in got]
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    matched = 0
    timed = 0
    starts: list[float] = []
    ends: list[float] = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            t, g = truth[block.a + k], got[block.b + k]
            matched += 1
            starts.append(abs(g.start - t.start))
            ends.append(abs(g.end - t.end))
            timed += starts[-1] <= tolerance and ends[-1] <= tolerance
    # edits: words not matched on either side, substitutions counted once
    errors = max(len(a), len(b)) - matched
    return Score(len(a), errors, timed, starts, ends)
