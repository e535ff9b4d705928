"""The space catalogue: one declaration per embedding space, the table every other layer derives from.

An *embedding* is a kind of vector a checkpoint computes (``audio``, ``text_video``, ...). A
*score* pairs a query-side embedding with a stored one: the raw dot product times its logit scale
plus its bias is the model's own match logit, its sigmoid the match probability (PE models are
trained with a sigmoid loss; the vectors are not normalised). A *stored space* is what the index
keeps, one vector per clip window (family "clip") or per frame (family "frame"); each declares
which query kinds reach it, with which embedding and which score, and how clip and frame spaces
work together (which clip space proposes candidates for a frame space, which frame space gives a
clip hit its moment, which frame spaces draw curves and which one `locate` reads).

The query routes, default targets, moment and proposer tables, curve spaces, the CLI's and the
HTTP schema's target choices and the request validation are all derived from a `Catalogue`
(`CATALOGUE`, the one the product uses). docs/architecture.md: "Adding an embedding space".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

# The kinds of query a user can make, by what it holds.
QUERY_KINDS = ("text", "audio", "video", "audio+text", "video+text")


@dataclass(frozen=True)
class Score:
    """A trained logit: `query` embedding . `target` embedding, with the model's scale and bias
    (parameter paths inside a PeAudioVideoModel; `logit_parameter_path` maps them for the others)."""

    name: str
    query: str
    target: str
    logit_scale: str
    logit_bias: str
    description: str


@dataclass(frozen=True)
class Reach:
    """How one kind of query reaches a stored space: the query embedding computed for it, and the
    score whose calibration gives a probability (None: same-modality, no trained logit)."""

    query: str  # a QUERY_KINDS entry, or a stored clip space for a `like` query of its vector
    embedding: str
    calibration: str | None


@dataclass(frozen=True)
class StoredSpace:
    """One space of the index."""

    name: str
    family: Literal["clip", "frame"]
    produced_by: tuple[str, ...]  # checkpoint kinds whose encoder computes it at index time
    reached_by: tuple[Reach, ...]
    description: str
    default_for: tuple[str, ...] = ()  # clip: query kinds that search it when no target is given
    moments: str | None = None  # clip: the frame space whose best frame is a hit's moment
    same_space_as: str | None = None  # frame: a clip space its vectors live in (scored as that one)
    proposer: str | None = None  # frame: the clip space whose windows propose candidate frames
    curve: bool = False  # frame: draws a file's probability curve (first in catalogue order wins)
    locate: bool = False  # frame: the space `locate` finds spans in
    reencoded: bool = False  # frame: vectors recomputed from audio chunks when codes cannot decide
    frames_from: Literal["window_frames", "audio_chunks"] | None = None  # frame: what the indexer embeds

    def reach(self, query: str) -> Reach | None:
        return next((r for r in self.reached_by if r.query == query), None)


def _score(name: str, query: str, target: str, owner: str, prefix: str, description: str) -> Score:
    dot = f"{owner}." if owner else ""
    return Score(name, query, target, f"{dot}{prefix}_logit_scale", f"{dot}{prefix}_logit_bias", description)


@dataclass(frozen=True)
class Catalogue:
    """Embeddings per checkpoint kind, what each query embedding reads, the trained scores, and the
    stored spaces. Frozen: `with_space` gives a new catalogue (tests add spaces that way)."""

    embeddings: dict[str, tuple[str, ...]]  # checkpoint kind -> embeddings it computes
    query_inputs: dict[str, tuple[str, ...]]  # query embedding -> what of the query it reads
    scores: dict[str, Score]
    spaces: dict[str, StoredSpace] = field(default_factory=dict)

    def with_space(self, space: StoredSpace, score: Score | None = None) -> Catalogue:
        """This catalogue plus one stored space (and the score that calibrates it, if new)."""
        scores = dict(self.scores) | ({score.name: score} if score else {})
        return replace(self, scores=scores, spaces={**self.spaces, space.name: space})

    # ------------------------------------------------------------------ derived tables
    def family(self, family: str) -> tuple[str, ...]:
        return tuple(name for name, s in self.spaces.items() if s.family == family)

    @property
    def targets(self) -> tuple[str, ...]:
        """What a query may name as its target: the clip spaces."""
        return self.family("clip")

    @property
    def frame_spaces(self) -> tuple[str, ...]:
        return self.family("frame")

    def is_frame(self, name: str) -> bool:
        space = self.spaces.get(name)
        return space is not None and space.family == "frame"

    def routes(self) -> list[tuple[str, Reach]]:
        """(stored space, reach) for every way a query kind reaches a space."""
        return [(name, r) for name, space in self.spaces.items() for r in space.reached_by]

    def default_targets(self) -> dict[str, tuple[str, ...]]:
        kinds = dict.fromkeys(q for s in self.spaces.values() for q in s.default_for)
        return {q: tuple(n for n, s in self.spaces.items() if q in s.default_for) for q in kinds}

    def frame_proposers(self) -> dict[str, str]:
        return {n: s.proposer for n, s in self.spaces.items() if s.proposer}

    def moment(self, target: str, route: Reach) -> tuple[str, Reach] | None:
        """The frame space that localises a hit of `target` found by `route`, and how the query
        scores its frames: as the route does when the frames live in `target`'s space, else with
        the frame space's own text reach."""
        clip = self.spaces.get(target)
        if clip is None or clip.moments is None:
            return None
        frames = self.spaces[clip.moments]
        if frames.same_space_as == target:
            return frames.name, route
        own = frames.reach("text")
        return (frames.name, own) if own is not None else None

    def curve_spaces(self) -> tuple[tuple[str, Reach], ...]:
        """Frame spaces that draw curves, best first, with the text reach that scores them."""
        found = ((n, s.reach("text")) for n, s in self.spaces.items() if s.curve)
        return tuple((n, r) for n, r in found if r is not None)

    def locate_space(self) -> tuple[str, Reach]:
        """The frame space `locate` reads and the text reach that scores it."""
        for name, space in self.spaces.items():
            reach = space.reach("text")
            if space.locate and reach is not None:
                return name, reach
        raise LookupError("the catalogue declares no locate space")

    def frame_space_from(self, source: str) -> str:
        """The frame space the indexer fills from `source`: a window's sampled video frames
        ("window_frames") or the frame model's audio chunks ("audio_chunks")."""
        for name, space in self.spaces.items():
            if space.frames_from == source:
                return name
        raise LookupError(f"the catalogue declares no frame space filled from {source}")

    def reencoded_spaces(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.spaces.items() if s.reencoded)

    def like_sources(self, target: str) -> tuple[str, ...]:
        """Which of a stored segment's own clip vectors can query `target`, cross-modal first."""
        space = self.spaces.get(target)
        if space is None:
            return ()
        usable = [r for r in space.reached_by if r.query == r.embedding and r.query in self.targets]
        return tuple(r.query for r in sorted(usable, key=lambda r: r.calibration is None))

    def scores_for(self, kind: str) -> dict[str, Score]:
        """The scores a checkpoint of `kind` can compute: both of their embeddings are its own."""
        have = set(self.embeddings[kind])
        return {n: s for n, s in self.scores.items() if s.query in have and s.target in have}


def _reach(query: str, embedding: str, calibration: str | None = None) -> Reach:
    return Reach(query, embedding, calibration)


CATALOGUE = Catalogue(
    embeddings={
        # "video_frame" is one sampled frame embedded as a one-frame video: a vector of the video space.
        "audio_video": (
            "text_audio",
            "text_video",
            "text_audio_video",
            "audio",
            "video",
            "audio_video",
            "audio_plus_text",
            "video_plus_text",
            "video_frame",
        ),
        "audio": ("text_audio", "audio"),
        "video": ("text_video", "video", "video_frame"),
        "audio_frame": ("text_audio_frame", "audio_frame"),
    },
    query_inputs={
        "text_audio": ("text",),
        "text_video": ("text",),
        "text_audio_video": ("text",),
        "text_audio_frame": ("text",),
        "audio": ("audio",),
        "video": ("video",),
        "audio_plus_text": ("audio", "text"),
        "video_plus_text": ("video", "text"),
    },
    scores={
        s.name: s
        for s in (
            _score("text_audio", "text_audio", "audio", "audio_model", "text_audio", "text -> audio clips"),
            _score("text_video", "text_video", "video", "video_model", "text_video", "text -> video clips"),
            _score(
                "text_audio_video",
                "text_audio_video",
                "audio_video",
                "",
                "text_audio_video",
                "text -> fused audio+video clips",
            ),
            _score("audio_video", "audio", "video", "", "audio_video", "audio <-> video"),
            _score(
                "audio_plus_text", "audio_plus_text", "video", "", "audio_plus_text", "audio + text -> video"
            ),
            _score(
                "video_plus_text", "video_plus_text", "audio", "", "video_plus_text", "video + text -> audio"
            ),
            _score(
                "text_audio_frame",
                "text_audio_frame",
                "audio_frame",
                "",
                "text_audio",
                "text -> 40 ms audio frames",
            ),
        )
    },
    spaces={
        s.name: s
        for s in (
            StoredSpace(
                "audio",
                "clip",
                ("audio_video", "audio"),
                (
                    _reach("text", "text_audio", "text_audio"),
                    _reach("video", "video", "audio_video"),
                    _reach("audio", "audio"),
                    _reach("video+text", "video_plus_text", "video_plus_text"),
                ),
                "a clip window's sound",
                default_for=("text", "video", "video+text"),
                moments="audio_frame",
            ),
            StoredSpace(
                "video",
                "clip",
                ("audio_video", "video"),
                (
                    _reach("text", "text_video", "text_video"),
                    _reach("audio", "audio", "audio_video"),
                    _reach("video", "video"),
                    _reach("audio+text", "audio_plus_text", "audio_plus_text"),
                ),
                "a clip window's picture",
                default_for=("text", "audio", "audio+text"),
                moments="video_frame",
            ),
            StoredSpace(
                "audio_video",
                "clip",
                ("audio_video",),
                (_reach("text", "text_audio_video", "text_audio_video"),),
                "a clip window's sound and picture, fused",
                moments="audio_frame",
            ),
            StoredSpace(
                "audio_frame",
                "frame",
                ("audio_frame",),
                (_reach("text", "text_audio_frame", "text_audio_frame"),),
                "40 ms of sound (PE-A-Frame)",
                proposer="audio",
                curve=True,
                locate=True,
                reencoded=True,
                frames_from="audio_chunks",
            ),
            # One sampled frame embedded as a one-frame video: transformers' PeVideoModel.forward
            # scores it with the text_video scale and bias (tests/test_catalogue.py checks it).
            StoredSpace(
                "video_frame",
                "frame",
                ("audio_video", "video"),
                (_reach("text", "text_video", "text_video"),),
                "one sampled video frame",
                same_space_as="video",
                proposer="video",
                curve=True,
                frames_from="window_frames",
            ),
        )
    },
)

TARGETS = CATALOGUE.targets  # the clip spaces a query may target
FRAME_SPACES = CATALOGUE.frame_spaces  # the spaces the indexer stores as frame blocks
WINDOW_FRAME_SPACE = CATALOGUE.frame_space_from("window_frames")  # a window's sampled video frames
CHUNK_FRAME_SPACE = CATALOGUE.frame_space_from("audio_chunks")  # PE-A-Frame's 40 ms audio frames
