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
from pe_search.models.shipped import TOY_MODEL, TOY_SPEECH_DIR, TOY_SPEECH_MODEL
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia, GeneratedFile, write_demo_media

EDGE_TOLERANCE = 0.08  # seconds: frame-level spans must land this close to the true event edges
WORD_TOLERANCE = 0.1  # seconds: a spoken-phrase hit must start and end this close to the words
# The shipped toy speech checkpoint (a tiny Whisper trained on espeak-ng speech, issue 26): the
# demo's spoken part runs when it is there and espeak-ng can speak the held-out phrases.
SPEECH_CHECKPOINT = TOY_SPEECH_DIR
SPEECH_FOLDER = "speech"  # under the demo's root, beside media/: spoken phrases at known times
# The spoken files' own library (beside library/): the toy-world library and its R@1 stay the toy
# PE-AV's alone, and the spoken part is searched where it was transcribed.
SPEECH_LIBRARY = "speech-library"
# (file, [(start s, phrase)]): captions of the toy world, spoken by a voice the model never heard
SPOKEN = (
    ("interview.wav", ((0.8, "a green square moving left"), (5.5, "a deep rumble"))),
    ("field-notes.wav", ((1.5, "a high beep"), (5.0, "a blue circle getting bigger"))),
)


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
class SpokenOutcome:
    """A phrase spoken at a known time, searched for by its words (text search over transcripts):
    where the generator put its first and last word, and where the hit landed."""

    path: str
    query: str
    truth: tuple[float, float]
    found: tuple[float, float] | None  # the hit on this file (None: not found)

    @property
    def error(self) -> float | None:
        if self.found is None:
            return None
        return max(abs(self.found[0] - self.truth[0]), abs(self.found[1] - self.truth[1]))

    @property
    def right(self) -> bool:
        return self.error is not None and self.error <= WORD_TOLERANCE + 1e-9


@dataclass
class DemoReport:
    root: str
    library: str
    index_seconds: float
    files_indexed: int
    queries: list[QueryOutcome] = field(default_factory=list)
    located: list[LocateOutcome] = field(default_factory=list)
    spoken: list[SpokenOutcome] = field(default_factory=list)
    speech_note: str | None = None  # why the spoken part did not run
    speech_library: str | None = None  # where the spoken part was indexed (None: it did not run)
    recall_at_1: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


ROUTES = ("text -> audio", "text -> video", "text -> audio+video", "audio -> video")


def _hits(library: Library, media: DemoMedia, is_right: Callable[[GeneratedFile], bool], **query):
    shown = []
    # The model's own ranking: the demo files' names spell out their content, text would be cheating.
    for hit in library.search(k=3, mode="vector", **query):
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


def speech_ready() -> str | None:
    """None when the spoken part can run, else why not (one line)."""
    from pe_search.toy import speech

    if not (SPEECH_CHECKPOINT / "config.json").is_file():
        return f"the toy speech checkpoint is not in {SPEECH_CHECKPOINT}: spoken phrases left out"
    if not speech.espeak_available():
        return "espeak-ng is not installed (apt-get install espeak-ng): spoken phrases left out"
    return None


def write_spoken_media(root: Path) -> dict[str, list[tuple[str, float, float]]]:
    """The spoken files under `root/speech` (written once), and each phrase's (text, first word's
    start, last word's end) as the generator placed them."""
    from pe_search.toy import speech

    folder = root / SPEECH_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for name, phrases in SPOKEN:
        words = speech.spoken(list(phrases)).words  # the times, computed again on every run
        if not (folder / name).exists():
            speech.write_spoken(folder / name, list(phrases))
        placed, at = [], 0
        for _, text in phrases:
            mine = words[at : at + len(text.split())]
            placed.append((text, mine[0].start, mine[-1].end))
            at += len(mine)
        truth[str(folder / name)] = placed
    return truth


def run_spoken(library: Library, truth: dict[str, list[tuple[str, float, float]]]) -> list[SpokenOutcome]:
    """Each spoken phrase, searched for by its words in quotes (text search over transcripts)."""
    outcomes = []
    for path, phrases in truth.items():
        for text, start, end in phrases:
            hits = library.search(f'"{text}"', mode="text", k=10, path_prefix=str(Path(path).parent))
            mine = next((hit for hit in hits if hit.path == path), None)
            found = (mine.start, mine.end) if mine is not None else None
            outcomes.append(SpokenOutcome(Path(path).name, text, (start, end), found))
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
    speech_note = speech_ready()
    with Library.open(library_dir, model=TOY_MODEL) as library:
        summary = library.index([media.media_dir], workers=workers, progress=index_progress)
        report = DemoReport(str(root), str(library_dir), summary.seconds, summary.files_indexed)
        progress("querying")
        report.queries = run_queries(library, media, all_captions)
        report.located = run_locate(library, media)
    report.speech_note = speech_note
    if speech_note is None:
        truth = write_spoken_media(root)
        report.speech_library = str(root / SPEECH_LIBRARY)
        progress(
            f"transcribing {len(truth)} spoken files with the toy speech model into {report.speech_library}"
        )
        with Library.open(report.speech_library, model=TOY_MODEL, frames=False) as spoken_library:
            spoken = spoken_library.index(
                [root / SPEECH_FOLDER], workers=workers, progress=index_progress, transcribe=TOY_SPEECH_MODEL
            )
            report.files_indexed += spoken.files_indexed
            report.index_seconds += spoken.seconds
            report.spoken = run_spoken(spoken_library, truth)
    report.recall_at_1 = recall_at_1(report.queries)
    report.seconds = time.monotonic() - started
    return report
