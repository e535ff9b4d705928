"""A query's parameters, declared once: default, range or choices, and the one-line help.

`QueryRequest` (request.py) takes its defaults from here and checks values against these ranges;
the CLI's options (`cli/search.py`) and the HTTP schema's fields (`server/schemas.py`) are built
from the same declarations, so no front door re-lists a default, a bound or a choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pe_search.models.catalogue import CATALOGUE, Catalogue
from pe_search.query.modes import DEFAULT_MODE, MODES
from pe_search.query.spans import LOCATE_THRESHOLD


@dataclass(frozen=True)
class Parameter:
    """One parameter. Bounds: `least`/`most` inclusive, `above`/`below` exclusive."""

    name: str
    default: Any
    help: str
    least: float | None = None
    most: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[str, ...] | None = None

    def bounds_text(self) -> str:
        """How the range reads in an error: "between 0 and 1", "at least 1"."""
        low = self.least if self.least is not None else self.above
        high = self.most if self.most is not None else self.below
        if low is not None and high is not None:
            return f"between {low:g} and {high:g}"
        return f"at least {low:g}" if low is not None else ""


K = Parameter("k", 10, "How many results.", least=1)
OFFSET = Parameter("offset", 0, "Skip this many results (pagination).", least=0)
MIN_PROB = Parameter("min_prob", None, "Drop results below this model probability.", least=0, most=1)
ALL_SEGMENTS = Parameter("all_segments", False, "Every matching segment, not the best one per file.")


def target_parameter(catalogue: Catalogue) -> Parameter:
    """`target`: one of the catalogue's clip spaces (None: the query kind's default targets)."""
    help = "Which segments to search (default: text searches sounds and pictures)."
    return Parameter("target", None, help, choices=catalogue.targets)


TARGET = target_parameter(CATALOGUE)
MODE = Parameter(
    "mode",
    DEFAULT_MODE,
    "vector: the model alone; text: names, folders, tags, subtitles, .txt; hybrid: both, fused.",
    choices=MODES,
)
TAG = Parameter("tag", None, "Only files tagged with this label or any label below it (pe-search tags).")
THRESHOLD = Parameter(
    "threshold", LOCATE_THRESHOLD, "Frame probability that marks the event.", above=0, below=1
)
SPAN_MIN_DURATION = Parameter("min_duration", 0.0, "Drop spans shorter than this (s).", least=0)
LOCATE_K = Parameter("k", 20, "How many spans across the library.", least=1)
# Shared by trimmed clips and exports (issue 22): extra media on each side of a result's span.
HANDLES = Parameter("handles", 0.0, "Extra seconds of media on each side of each span.", least=0)
