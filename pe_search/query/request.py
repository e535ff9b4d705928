"""What a front door asks the query layer: one `QueryRequest` in, hits (or spans) out.

The library API, the CLI and the HTTP server all build one of these and hand it to
`QueryService.run`; the request holds the query (text, audio, video, or a stored segment),
where to look and how many results, and whether spans are wanted instead of hits.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pe_search.errors import Option
from pe_search.models.catalogue import CATALOGUE, Catalogue
from pe_search.query import parameters as p
from pe_search.query.routes import QueryError
from pe_search.store import SearchFilter


@dataclass(frozen=True)
class Locate:
    """Spans where the text happens (40 ms audio frames), instead of hits: across the library, or
    inside one file (`path`, encoded on the fly when it is not in the library)."""

    path: str | Path | None = None
    threshold: float = p.THRESHOLD.default  # the frame probability that marks the event
    min_duration: float = p.SPAN_MIN_DURATION.default  # spans shorter than this (s) are dropped

    def __post_init__(self) -> None:
        if self.path is not None and not isinstance(self.path, (str, Path)):
            raise _wrong("path", "a file path", self.path)
        _probability(p.THRESHOLD, self.threshold)
        _at_least_zero("min_duration", self.min_duration)


@dataclass(frozen=True)
class QueryRequest:
    """One query. `audio`/`video`: a file path, or (samples, rate) / (frames uint8 (T, H, W, 3), fps).
    `like`: a stored segment as the query, "PATH@START-END" or (path, start, end)."""

    text: str | None = None
    audio: object = None
    video: object = None
    like: str | tuple[str, float, float] | None = None
    target: str | None = p.TARGET.default  # a catalogue target; None: the query kind's defaults
    filters: SearchFilter = field(default_factory=SearchFilter)
    k: int = p.K.default
    offset: int = p.OFFSET.default
    min_prob: float | None = p.MIN_PROB.default
    all_segments: bool = p.ALL_SEGMENTS.default  # every matching segment, not the best one per file
    locate: Locate | None = None
    mode: str = p.MODE.default  # vector, text or hybrid (pe_search/query/hybrid.py)
    tag: str | None = p.TAG.default  # only files tagged with this label or one below it

    def __post_init__(self) -> None:
        """Every field checked here, once for every front door: a wrong type or value is a
        QueryError naming the parameter (each front door spells it: `-k` or `k`)."""
        if self.text is not None and not isinstance(self.text, str):
            raise _wrong("text", "a string", self.text, Option("text", flag="TEXT"))
        least_k = (p.LOCATE_K if self.locate is not None else p.K).least
        _whole("k", self.k, int(least_k or 0), Option("k", flag="-k"))
        _whole("offset", self.offset, int(p.OFFSET.least or 0))
        if self.min_prob is not None:
            _probability(p.MIN_PROB, self.min_prob)
        if self.tag is not None and (not isinstance(self.tag, str) or not self.tag.strip()):
            raise _wrong("tag", "a label's name", self.tag)
        if self.target is not None:
            check_target(self.target)
        _media("audio", self.audio, "(samples, rate)", AUDIO_RATES)
        _media("video", self.video, "(frames, fps)")
        if self.like is not None:
            _like(self.like)
        if not isinstance(self.filters, SearchFilter):
            raise _wrong("filters", "a SearchFilter", self.filters)
        for name in ("min_duration", "max_duration"):
            value = getattr(self.filters, name)
            if value is not None:
                _at_least_zero(name, value)
        prefix = self.filters.path_prefix
        if prefix is not None:  # a relative prefix means the folder the user is in, as paths do
            resolved = str(Path(prefix).expanduser().absolute())
            if prefix.endswith("/") and not resolved.endswith("/"):
                resolved += "/"
            object.__setattr__(self, "filters", replace(self.filters, path_prefix=resolved))


def _wrong(name: str, wanted: str, value: object, option: Option | None = None) -> QueryError:
    shown = type(value).__name__
    return QueryError(f"{{0}} takes {wanted}, not {shown}", options=(option or Option(name),), value=value)


def check_target(target: object, catalogue: Catalogue = CATALOGUE) -> None:
    """`target` names one of the catalogue's clip spaces."""
    if target not in catalogue.targets:
        raise QueryError(
            f"{{0}} is one of {_one_of(catalogue.targets)}", options=(Option("target"),), value=target
        )


def _one_of(choices: tuple[str, ...]) -> str:
    return ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]


def _probability(parameter: p.Parameter, value: object) -> None:
    """A probability inside the parameter's bounds (inclusive or exclusive as it declares)."""
    number = _number(parameter.name, value)
    low_ok = (parameter.least is None or number >= parameter.least) and (
        parameter.above is None or number > parameter.above
    )
    high_ok = (parameter.most is None or number <= parameter.most) and (
        parameter.below is None or number < parameter.below
    )
    if not (low_ok and high_ok):
        raise QueryError(
            f"{{0}} is a probability {parameter.bounds_text()}",
            options=(Option(parameter.name),),
            value=value,
        )


def _number(name: str, value: object) -> float:
    """A finite real number (not a bool, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _wrong(name, "a number", value)
    if not math.isfinite(float(value)):
        raise QueryError("{0} must be a finite number", options=(Option(name),), value=value)
    return float(value)


def _at_least_zero(name: str, value: object) -> None:
    if _number(name, value) < 0:
        raise QueryError("{0} must be at least 0", options=(Option(name),), value=value)


def _whole(name: str, value: object, least: int, option: Option | None = None) -> None:
    option = option or Option(name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _wrong(name, "a whole number", value, option)
    if value < least:
        raise QueryError(f"{{0}} must be at least {least}", options=(option,), value=value)


AUDIO_RATES = (1_000, 768_000)
"""The sample rates (Hz) an audio query array may have: from below telephone audio to the highest
rate audio interfaces record at. Outside them the resampler would overflow (10**12 Hz) or make
a query of millions of seconds."""


def _media(name: str, value: object, pair: str, bounds: tuple[float, float] | None = None) -> None:
    """A file path, or a pair (array, rate) with a positive rate (within `bounds` if given)."""
    if value is None or isinstance(value, (str, Path)):
        return
    if not isinstance(value, tuple) or len(value) != 2:
        raise _wrong(name, f"a file path or {pair}", value)
    array, rate = value
    if not isinstance(array, (np.ndarray, list)):
        raise _wrong(name, f"a file path or {pair} with an array", array)
    if (
        isinstance(rate, bool)
        or not isinstance(rate, numbers.Real)
        or not rate > 0
        or not math.isfinite(rate)
    ):
        raise QueryError(f"{{0}} takes {pair} with a positive rate", options=(Option(name),), value=rate)
    if bounds is not None and not bounds[0] <= rate <= bounds[1]:
        raise QueryError(
            f"{{0}} takes {pair} with a sample rate from {bounds[0]:,} to {bounds[1]:,} Hz, not {rate:g}",
            "resample the array first",
            options=(Option(name),),
            value=rate,
        )


def _like(like: object) -> None:
    """PATH@START-END or (path, start, end), with 0 <= start < end."""
    from pe_search.query.like import parse_like

    if not isinstance(like, str) and (
        not isinstance(like, tuple) or len(like) != 3 or not isinstance(like[0], (str, Path))
    ):
        raise _wrong("like", "PATH@START-END or (path, start, end)", like)
    _, start, end = parse_like(like)
    start, end = _number("like", start), _number("like", end)
    if not 0 <= start < end:
        raise QueryError(
            "{0} needs 0 <= start < end",
            "give the segment's start first",
            options=(Option("like"),),
            value=like,
        )
