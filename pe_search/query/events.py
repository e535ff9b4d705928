"""A file's event timeline (issue 23): for every label of a vocabulary, where in the file the frame
model hears it, at 40 ms resolution, with the model's own calibrated probability.

It is `locate` for many labels at once: the file's frame block is scored against every label's text
embedding in one matrix product (`frames.passing_frames_many`, with the exactness rule `locate`
has for compact codes), and each label's passing frames become spans by the rule `locate` uses
(`frames.runs_to_spans`). Labels are embedded by the frame model's text tower (`label_vectors`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pe_search.errors import Option, PeSearchError
from pe_search.models.catalogue import CATALOGUE
from pe_search.models.spaces import Calibration
from pe_search.query.engine import QueryEngine
from pe_search.query.frames import (
    APPROXIMATE_NOTE,
    ExactFrames,
    block_readers,
    passing_frames_many,
    runs_to_spans,
)
from pe_search.query.routes import QueryError
from pe_search.store import FrameSlice, LibraryStore
from pe_search.tagging import Vocabulary
from pe_search.tagging.labels import label_vectors as cached_label_vectors

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.model_set import ModelSet

EVENTS_SPACE, EVENTS_REACH = CATALOGUE.locate_space()  # the 40 ms frames and the text that scores them
LABEL_BATCH = 128  # labels through the text tower at a time
CACHED_VOCABULARIES = 4  # label embeddings kept per process (527 x 1024 floats: 2 MB each)


@dataclass(frozen=True)
class Event:
    """One label sounding from `start` to `end` (seconds in the file); `probability` is the best
    frame's inside it."""

    label: str
    start: float
    end: float
    probability: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EventTimeline:
    """The events of one file, in time order (then by label)."""

    file_id: int
    path: str
    duration: float | None
    events: list[Event] = field(default_factory=list)
    labels: int = 0  # how many labels were looked for
    threshold: float = 0.0
    note: str | None = None  # set when compact codes decided frames at the threshold

    def to_dict(self) -> dict:
        return {
            "file_id": self.file_id,
            "path": self.path,
            "duration": self.duration,
            "labels": self.labels,
            "threshold": self.threshold,
            "note": self.note,
            "events": [event.to_dict() for event in self.events],
        }


_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()


def label_vectors(
    models: ModelSet,
    labels: Sequence[str],
    store: LibraryStore | None = None,
    vocabulary: Vocabulary | None = None,
) -> np.ndarray:
    """float32 [len(labels), dim]: each label's text embedding in the frame model's text-audio frame
    space (the label itself is the prompt), kept in memory per model and label list. Every tag of
    `vocabulary` at once comes from the library's cache of label embeddings (`tagging.labels`) when
    `store` holds them."""
    embedding = EVENTS_REACH.embedding
    encoder = models.encoder_for(embedding)
    key = (encoder.identity.weights_sha256, embedding, tuple(labels))
    found = _cache.get(key)
    if found is None:
        every_tag = vocabulary is not None and list(labels) == [
            vocabulary.names[i] for i in vocabulary.tag_ids
        ]
        if every_tag and store is not None:
            found = cached_label_vectors(store, models, vocabulary, embedding)[vocabulary.tag_ids]
        else:
            pieces = [
                encoder.embed_text(list(labels[at : at + LABEL_BATCH]), [embedding])[embedding]
                for at in range(0, len(labels), LABEL_BATCH)
            ]
            found = np.concatenate(pieces) if pieces else np.zeros((0, encoder.dim), np.float32)
        found = np.asarray(found, dtype=np.float32)
        _cache[key] = found
        while len(_cache) > CACHED_VOCABULARIES:
            _cache.popitem(last=False)
    _cache.move_to_end(key)
    return found


def require_frames(engine: QueryEngine, models: ModelSet) -> None:
    """Refuse a library whose models have no frame model (no 40 ms vectors to read events from)."""
    if models.frames is None or engine.calibration(EVENTS_REACH.calibration) is None:
        raise QueryError(
            "this library has no 40 ms audio frame vectors, so it has no event timelines",
            "re-index it with a frame model ({0})",
            options=(Option("frame_model"),),
        )


def file_events(
    engine: QueryEngine,
    models: ModelSet,
    media_id: int,
    labels: Sequence[str],
    threshold: float,
    min_duration: float = 0.0,
    exact: ExactFrames | None = None,
    vocabulary: Vocabulary | None = None,
) -> EventTimeline:
    """Every label's spans in one indexed file: its frames whose probability for the label passes
    `threshold`, merged as `locate` merges them, in time order (`vocabulary`: the one `labels`
    come from, for the library's cache of its label embeddings)."""
    require_frames(engine, models)
    media = engine.store.get_media(media_id)
    if media is None:
        raise QueryError(f"no file with id {media_id} in the library", value=media_id)
    calibration = engine.calibration(EVENTS_REACH.calibration)
    assert calibration is not None  # require_frames
    timeline = EventTimeline(media_id, media.path, media.duration, [], len(labels), threshold)
    read = block_readers(engine.store, EVENTS_SPACE, [media_id]).get(media_id)
    frames = read() if read is not None and labels else None
    if frames is None or not len(frames):  # no audio, or its frames were found damaged
        return timeline
    events, decided = events_in_frames(
        frames,
        labels,
        label_vectors(models, labels, engine.store, vocabulary),
        calibration,
        threshold,
        min_duration,
        exact,
    )
    return EventTimeline(
        media_id,
        media.path,
        media.duration,
        events,
        len(labels),
        threshold,
        None if decided else APPROXIMATE_NOTE,
    )


def events_in_frames(
    frames: FrameSlice,
    labels: Sequence[str],
    queries: np.ndarray,
    calibration: Calibration,
    threshold: float,
    min_duration: float = 0.0,
    exact: ExactFrames | None = None,
) -> tuple[list[Event], bool]:
    """(events in time order, decided exactly) of a block's frames for labels embedded as `queries`."""
    passing, decided = passing_frames_many(frames, queries, calibration, threshold, exact)
    events = [
        Event(label, span.start, span.end, span.probability)
        for label, (positions, probabilities) in zip(labels, passing, strict=True)
        for span in runs_to_spans(frames, positions, probabilities, min_duration)
    ]
    events.sort(key=lambda e: (e.start, e.end, e.label))
    return events, decided


def chosen_labels(vocabulary: Vocabulary, names: Sequence[str] | None) -> list[str]:
    """The labels to look for: `names` as the vocabulary spells them (an unknown one is refused
    with the closest labels), or else every label of the vocabulary that is a tag."""
    if names is None:
        return [vocabulary.labels[i].name for i in vocabulary.tag_ids]
    wanted = [name for name in names if name.strip()]
    if not wanted:
        raise QueryError(
            "no labels given", "name at least one label, or leave the labels out for all of them"
        )
    return list(dict.fromkeys(vocabulary.labels[vocabulary.id_of(name)].name for name in wanted))


def split_labels(text: str, vocabulary: Vocabulary) -> list[str]:
    """ "Dog,Speech" -> ["Dog", "Speech"], keeping a label that has commas of its own whole
    ("Bird vocalization, bird call, bird song"): at each piece the longest run of pieces that names
    a label is taken, else the piece alone (refused later with the closest labels)."""
    pieces = [piece.strip() for piece in text.split(",")]
    names, at = [], 0
    while at < len(pieces):
        stop = next(
            (
                stop
                for stop in range(len(pieces), at + 1, -1)
                if _known(vocabulary, ", ".join(pieces[at:stop]))
            ),
            at + 1,
        )
        names.append(", ".join(pieces[at:stop]))
        at = stop
    return [name for name in names if name]


def _known(vocabulary: Vocabulary, name: str) -> bool:
    try:
        vocabulary.id_of(name)
    except PeSearchError:
        return False
    return True
