"""`pe-search demo`: index held-out generated media with the toy models and query it every way.

Every query has a known right answer (the class that generated a file), so the demo doubles
as the end-to-end quality check: the tests call `run_demo` and assert on its report. Everything
goes through the public path a user takes: PyAV decoding, the indexer, the store, `Library`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pe_search.api import Library
from pe_search.models.shipped import TOY_MODEL
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia, GeneratedFile, write_demo_media

EDGE_TOLERANCE = 0.08  # seconds: frame-level spans must land this close to the true event edges


@dataclass
class ShownHit:
    path: str  # relative to the demo's media folder
    start: float
    end: float
    probability: float | None
    right: bool


@dataclass
class QueryOutcome:
    """One query with a known answer: what it was, what was expected, what came back."""

    route: str  # "text -> audio", ...
    query: str  # the caption, or the query sound's file name
    expected: str  # the class a right hit has
    hits: list[ShownHit]

    @property
    def right(self) -> bool:
        return bool(self.hits) and self.hits[0].right


@dataclass
class LocateOutcome:
    """A timed event in a long file, looked for by its caption with the frame model."""

    path: str
    query: str
    truth: tuple[float, float]
    spans: list[tuple[float, float, float]]  # (start, end, probability) found in the file
    edge_error: float | None  # of the span overlapping the event most (None: no span overlaps)

    @property
    def right(self) -> bool:
        return self.edge_error is not None and self.edge_error <= EDGE_TOLERANCE + 1e-9


@dataclass
class DemoReport:
    root: str
    library: str
    index_seconds: float
    files_indexed: int
    queries: list[QueryOutcome] = field(default_factory=list)
    located: list[LocateOutcome] = field(default_factory=list)
    recall_at_1: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


ROUTES = ("text -> audio", "text -> video", "text -> audio+video", "audio -> video")


def _hits(library: Library, media: DemoMedia, is_right: Callable[[GeneratedFile], bool], **query):
    shown = []
    for hit in library.search(k=3, **query):
        generated = media.by_path(hit.path)
        shown.append(
            ShownHit(
                str(Path(hit.path).resolve().relative_to(media.media_dir.resolve())),
                hit.start,
                hit.end,
                hit.probability,
                generated is not None and is_right(generated),
            )
        )
    return shown


def run_queries(library: Library, media: DemoMedia, all_captions: bool = True) -> list[QueryOutcome]:
    """Every route with a known answer: each class's captions (all paraphrases, or the first),
    and a held-out sound of every scene for audio -> video."""

    def captions(name: str) -> tuple[str, ...]:
        return synth.captions(name) if all_captions else (synth.caption(name),)

    outcomes = []
    for sound in synth.SOUNDS:
        for text in captions(sound):
            hits = _hits(library, media, lambda f, s=sound: s in f.sounds, text=text, target="audio")
            outcomes.append(QueryOutcome("text -> audio", text, f"sound: {sound}", hits))
    for scene in synth.SCENES.values():
        for text in captions(scene.picture):
            hits = _hits(library, media, lambda f, p=scene.picture: f.picture == p, text=text, target="video")
            outcomes.append(QueryOutcome("text -> video", text, f"picture: {scene.picture}", hits))
    for scene in synth.SCENES.values():
        for text in captions(scene.name):
            hits = _hits(
                library, media, lambda f, s=scene.name: f.scene == s, text=text, target="audio_video"
            )
            outcomes.append(QueryOutcome("text -> audio+video", text, f"scene: {scene.name}", hits))
    for name, path in media.query_sounds.items():
        picture = synth.SCENES[name].picture
        hits = _hits(library, media, lambda f, p=picture: f.picture == p, audio=str(path), target="video")
        outcomes.append(QueryOutcome("audio -> video", path.name, f"picture: {picture}", hits))
    return outcomes


def run_locate(library: Library, media: DemoMedia) -> list[LocateOutcome]:
    """Each timed event, looked for inside its own file by its caption."""
    outcomes = []
    for generated in media.files:
        for event in generated.events:
            text = synth.caption(event.sound)
            spans = library.locate(text, path=media.media_dir / generated.path)
            overlaps = [min(s.end, event.end) - max(s.start, event.start) for s in spans]
            error = None
            if spans and max(overlaps) > 0:
                best = spans[overlaps.index(max(overlaps))]
                error = max(abs(best.start - event.start), abs(best.end - event.end))
            outcomes.append(
                LocateOutcome(
                    generated.path,
                    text,
                    (event.start, event.end),
                    [(s.start, s.end, s.probability) for s in spans],
                    error,
                )
            )
    return outcomes


def recall_at_1(outcomes: list[QueryOutcome]) -> dict[str, float]:
    table = {}
    for route in ROUTES:
        mine = [o for o in outcomes if o.route == route]
        if mine:
            table[route] = sum(o.right for o in mine) / len(mine)
    return table


def run_demo(
    root: str | Path,
    workers: int = 1,
    all_captions: bool = True,
    progress: Callable[[str], None] = lambda message: None,
    index_progress: bool | None = False,
) -> DemoReport:
    """Generate (or reuse) the held-out folder under `root`, index it into `root/library` with
    the toy models, and run every query with a known answer. `index_progress`: the indexer's
    progress bar (None: on a terminal)."""
    started = time.monotonic()
    root = Path(root)
    media = DemoMedia.load(root)
    if media is None:
        progress(f"generating held-out media in {root / 'media'}")
        media = write_demo_media(root)
    library_dir = root / "library"
    progress(f"indexing {len(media.files)} files with the toy models into {library_dir}")
    with Library.open(library_dir, model=TOY_MODEL) as library:
        summary = library.index([media.media_dir], workers=workers, progress=index_progress)
        report = DemoReport(str(root), str(library_dir), summary.seconds, summary.files_indexed)
        progress("querying")
        report.queries = run_queries(library, media, all_captions)
        report.located = run_locate(library, media)
    report.recall_at_1 = recall_at_1(report.queries)
    report.seconds = time.monotonic() - started
    return report
