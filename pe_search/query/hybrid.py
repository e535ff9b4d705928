"""Search modes: the model's vectors alone, the text files carry alone, or both fused.

`vector`: `QueryEngine.search` as it is. `text`: FTS5 over names, folders, tags, subtitle cues,
transcript phrases and .txt sidecars (store.search_text; words, and "quoted phrases" in order), one hit per file (its best entry) or per entry with
`all_segments`. `hybrid` (the default): both, fused by reciprocal rank (fusion.py), per file.

Why hybrid is the default: a file a user knows by name or tag ("door_slam_03.wav", a title, a
line of its subtitles) must be found by those words, which a model that embeds only the sound
and picture cannot do; and when no file carries the query's words the fused ranking is exactly
the vector ranking, so nothing is lost. It costs one FTS5 query next to the text encoder
(bench/bench_hybrid.py; docs/benchmarks.md has the figures and the known cost of common words).

Filters apply to both sides (the same SearchFilter selects files for the vectors and for the
text). A hit the text side found on its own says in `why` what the model thought of it (its
best segment's probability, scored here); `min_prob`, when given, is a cutoff on that probability
for every hit, as in vector mode, so a cutoff means the same thing in every mode.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

import numpy as np

from pe_search.errors import Option
from pe_search.query.engine import QueryEngine, QueryVectors
from pe_search.query.fusion import reciprocal_rank_fusion
from pe_search.query.modes import DEFAULT_MODE, MODES
from pe_search.query.results import Hit, WhyMatched
from pe_search.query.routes import DEFAULT_TARGETS, TEXT, QueryError, Route, route
from pe_search.store import SearchFilter, SegmentVectors, TextMatch

VECTOR_DEPTH = 50  # vector hits fused (at least offset + k)
TEXT_ENTRY_DEPTH = 200  # text entries read (several may belong to one file)


@dataclass
class _TextHit:
    key: Hashable
    match: TextMatch
    words: tuple[str, ...]


def check_mode(mode: str, text: str | None) -> None:
    if mode not in MODES:
        raise QueryError(f"{{0}} must be one of {', '.join(MODES)}", options=(Option("mode"),), value=mode)
    if mode == "text" and not text:
        raise QueryError(
            "{0} needs {1}", "give the words to look for in names, tags and subtitles",
            options=(Option("mode", value="text"), TEXT),
        )  # fmt: skip


def search(
    engine: QueryEngine,
    kind: str,
    vectors: QueryVectors,
    text: str | None,
    mode: str = DEFAULT_MODE,
    targets: tuple[str, ...] | None = None,
    k: int = 10,
    offset: int = 0,
    min_prob: float | None = None,
    all_segments: bool = False,
    filters: SearchFilter | None = None,
) -> list[Hit]:
    """Hits of the query in `mode`; each says why it matched (`Hit.why`)."""
    check_mode(mode, text)
    need = offset + k
    routes = [route(kind, t) for t in (targets or DEFAULT_TARGETS[kind])]
    if mode == "vector" or not text:
        hits = engine.search(kind, vectors, targets, k, offset, min_prob, all_segments, filters)
        return [_with_why(h, WhyMatched("vector", vector_rank=offset + i + 1)) for i, h in enumerate(hits)]
    text_hits = _text_hits(engine, text, max(need * 4, TEXT_ENTRY_DEPTH), all_segments, filters)
    if mode == "text":
        page = text_hits[offset:need]
        stored = _stored_segments(engine, routes, vectors, [t.match.media_id for t in page])
        return [
            _text_only(engine, routes, vectors, t, offset + i + 1, "text", None, stored)
            for i, t in enumerate(page)
        ]
    vector_hits = engine.search(
        kind, vectors, targets, max(need, VECTOR_DEPTH), 0, min_prob, all_segments, filters, localise=False
    )
    by_key = {_vector_key(h, all_segments): (rank, h) for rank, h in enumerate(vector_hits, start=1)}
    texts = {t.key: (rank, t) for rank, t in enumerate(text_hits, start=1)}
    fused = reciprocal_rank_fusion(list(by_key), list(texts))[offset:need]
    text_only = [texts[item.key][1].match.media_id for item in fused if item.vector_rank is None]
    stored = _stored_segments(engine, routes, vectors, text_only)
    page = []
    for item in fused:
        if item.vector_rank is None:
            _, found = texts[item.key]
            hit = _text_only(engine, routes, vectors, found, item.text_rank, "hybrid", item.score, stored)
            if _passes(engine, hit, min_prob):
                page.append(hit)
            continue
        _, hit = by_key[item.key]
        text_hit = texts[item.key][1] if item.text_rank else None
        page.append(_both(engine, kind, vectors, hit, text_hit, item))
    return page


def _passes(engine: QueryEngine, hit: Hit, min_prob: float | None) -> bool:
    """The vector side's cutoff, compared as it does: in score space (a float32 sigmoid rounds to
    1.0 long before the score stops growing, so probabilities cannot be compared at the top)."""
    if min_prob is None or min_prob <= 0:
        return True
    calibration = engine.calibration(hit.space) if hit.space else None
    return calibration is not None and hit.score >= calibration.score_for_probability(min_prob)


def _vector_key(hit: Hit, all_segments: bool) -> Hashable:
    return ("segment", hit.segment_id) if all_segments else hit.media_id


def _text_hits(
    engine: QueryEngine, text: str, depth: int, all_segments: bool, filters: SearchFilter | None
) -> list[_TextHit]:
    """The text side's ranking: per file (its best entry, with every word any entry matched), or
    per entry with `all_segments`."""
    matches = engine.store.search_text(text, depth, filters)
    if all_segments:
        return [_TextHit(("entry", i), m, m.matched_words) for i, m in enumerate(matches)]
    files: dict[int, _TextHit] = {}
    for match in matches:
        found = files.get(match.media_id)
        if found is None:
            files[match.media_id] = _TextHit(match.media_id, match, match.matched_words)
        else:
            found.words = tuple(dict.fromkeys([*found.words, *match.matched_words]))
    return list(files.values())


def _why_text(found: _TextHit, rank: int | None, mode: str, fused: float | None) -> WhyMatched:
    match = found.match
    return WhyMatched(
        mode,
        fused_score=fused,
        text_rank=rank,
        text_field=match.field,
        text_key=match.key,
        text_snippet=match.snippet,
        matched_words=found.words,
    )


def _span(match: TextMatch) -> tuple[float, float, str]:
    """Where a text match lands: a transcript match on the spoken words it matched (the store
    gives their times), a subtitle cue on the cue, anything else on the whole file."""
    if match.words:
        return match.words[0].start, match.words[-1].end, TRANSCRIPT
    if match.start is not None:
        level = TRANSCRIPT if match.field == TRANSCRIPT else "subtitle"
        return match.start, match.end if match.end is not None else match.start, level
    return 0.0, match.duration or 0.0, "file"


TRANSCRIPT = "transcript"  # the text field of spoken phrases, and the level of a hit landing on them


def _text_only(
    engine: QueryEngine,
    routes: list[Route],
    vectors: QueryVectors,
    found: _TextHit,
    rank: int | None,
    mode: str,
    fused: float | None,
    stored: _Stored,
) -> Hit:
    """A hit the text side found: the cue's time (or the whole file), and what the model makes of
    that stretch (its best segment there), so `why` shows the vector probability too."""
    match = found.match
    start, end, level = _span(match)
    why = _why_text(found, rank, mode, fused)
    window = start if level != "file" else None
    best = _best_segment(engine, routes, vectors, match.media_id, window, end, stored)
    score, probability, space, target = best if best else (0.0, None, None, "text")
    why = replace(why, vector_probability=probability, vector_score=score if best else None)
    return Hit(
        path=match.path,
        start=start,
        end=end,
        score=score,
        probability=probability,
        space=space,
        target=target,
        kind=match.kind,
        level=level,
        segment_id=None,
        media_id=match.media_id,
        why=why,
        words=match.words,
    )


def _best_segment(
    engine: QueryEngine,
    routes: list[Route],
    vectors: QueryVectors,
    media_id: int,
    start: float | None,
    end: float | None,
    stored: _Stored,
) -> tuple[float, float | None, str | None, str] | None:
    """(score, probability, calibration space, target) of the file's best clip segment over the
    routes (inside [start, end] when given); None when it has no vectors to score."""
    best = None
    for r in routes:
        if not engine.spaces.get(r.target):
            continue
        if not vectors.can_give(r.embedding):
            continue
        found = stored.get(r.target, {}).get(media_id)
        if found is None:  # frames kept as blocks, read for the window alone
            found = engine.store.segment_vectors(
                media_id, r.target, start, end if start is not None else None
            )
        elif start is not None:  # the segments overlapping [start, end], as segment_vectors reads them
            inside = (found.ends > start) & (found.starts < end)
            found = replace(found, starts=found.starts[inside], ends=found.ends[inside],
                            vectors=found.vectors[inside], vector_ids=found.vector_ids[inside])  # fmt: skip
        if not len(found):
            continue
        score = float(np.max(found.vectors @ vectors[r.embedding]))
        calibration = engine.calibration(r.calibration)
        probability = float(calibration.probability(score)) if calibration else None
        candidate = (score, probability, r.calibration, r.target)
        if best is None or (probability or score) > (best[1] or best[0]):
            best = candidate
    return best


_Stored = dict[str, dict[int, SegmentVectors]]  # target -> media id -> its clip segments' vectors


def _stored_segments(
    engine: QueryEngine, routes: list[Route], vectors: QueryVectors, media_ids: list[int]
) -> _Stored:
    """The clip segments' vectors of the page's text-only files, one read per route's space
    (issue 24: one read per file and space was ten reads a page)."""
    if not media_ids:
        return {}
    return {
        r.target: engine.store.files_segment_vectors(list(dict.fromkeys(media_ids)), r.target)
        for r in routes
        if engine.spaces.get(r.target) and vectors.can_give(r.embedding)
    }


def _both(
    engine: QueryEngine, kind: str, vectors: QueryVectors, hit: Hit, found: _TextHit | None, item
) -> Hit:
    """A hit the vector side found (and maybe the text side too). A timed text match that ranks at
    least as well as the vector segment gives the hit its time: the subtitle cue, or the spoken
    words matched, is where it happens. The matched spoken words come with the hit either way."""
    why = WhyMatched(
        "hybrid", fused_score=item.score, vector_rank=item.vector_rank, vector_probability=hit.probability,
        vector_score=hit.score,
    )  # fmt: skip
    if found is not None:
        text_why = _why_text(found, item.text_rank, "hybrid", item.score)
        why = replace(
            text_why, vector_rank=item.vector_rank, vector_probability=hit.probability, vector_score=hit.score
        )
        start, end, level = _span(found.match)
        if level != "file" and item.text_rank <= item.vector_rank:
            hit = replace(hit, start=start, end=end, level=level, segment_id=None)
        hit = replace(hit, words=found.match.words)
    hit = engine.localise(hit, route(kind, hit.target), vectors)
    return replace(hit, why=why)


def _with_why(hit: Hit, why: WhyMatched) -> Hit:
    return replace(hit, why=replace(why, vector_probability=hit.probability, vector_score=hit.score))
