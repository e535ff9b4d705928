"""Model-level checks of the toy checkpoints on freshly generated, held-out media.

Everything goes through `PeEncoder`, the inference path the indexer uses: raw 48 kHz audio and
uint8 frames in, embeddings out. Held-out means other seeds (so other pitches, positions, sizes,
colours within a class, flash timings) and other lengths than training saw; the classes are the
same. A hit is right when its class matches the query's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.toy import synth

HELDOUT_SEED = 7_000_000  # training seeds stay far below this


@dataclass(frozen=True)
class Span:
    start: float
    end: float


def spans(
    probabilities: np.ndarray, threshold: float = 0.3, frame_seconds: float = synth.FRAME_SECONDS
) -> list[Span]:
    """Runs of frames whose probability is above `threshold`, as [start, end) seconds."""
    above = np.concatenate([[False], np.asarray(probabilities) > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [Span(a * frame_seconds, b * frame_seconds) for a, b in zip(edges[::2], edges[1::2])]


def recall_at_1(scores: np.ndarray, query_classes: list[str], item_classes: list[str]) -> float:
    """Share of queries whose best-scoring item has the query's class."""
    best = np.asarray(scores).argmax(axis=1)
    return float(np.mean([item_classes[b] == q for b, q in zip(best, query_classes)]))


def _mean_probabilities(encoder, space: str, scores: np.ndarray, match: np.ndarray) -> tuple[float, float]:
    p = encoder.calibration(space).probability(scores)
    return float(p[match].mean()), float(p[~match].mean())


def heldout_scenes(
    per_class: int,
    seed: int,
    seconds: tuple[float, float] = (2.0, 12.0),
    fps: float = 8.0,
    size: int = 64,
    frames: int | None = None,
) -> list[synth.SceneClip]:
    """`per_class` scene clips of every class, lengths uniform in `seconds`, video at `fps`; with
    `frames`, only that many frames kept, spread as PE's sampler spreads them (int(i*(T-1)/(N-1)))."""
    rng = np.random.default_rng(seed)
    clips = [
        synth.scene(name, float(rng.uniform(*seconds)), fps, size, rng)
        for _ in range(per_class)
        for name in synth.SCENES
    ]
    if frames is not None:
        for clip in clips:
            total = clip.frames.shape[0]
            keep = (
                [int(i * (total - 1) / (frames - 1)) for i in range(frames)] if frames > 1 else [total // 2]
            )
            clip.frames = clip.frames[keep]
    return clips


def evaluate_audio_video(
    encoder,
    per_class: int = 3,
    seed: int = HELDOUT_SEED,
    seconds: tuple[float, float] = (2.0, 12.0),
    fps: float = 8.0,
    frames: int | None = None,
) -> dict[str, float]:
    """R@1 of text -> audio, text -> video, text -> audio+video (every caption paraphrase of every
    class as a query) and audio -> video (audio of other clips as queries), and the mean match
    probability of right and wrong pairs per space."""
    gallery = heldout_scenes(per_class, seed, seconds, fps, frames=frames)
    queries = heldout_scenes(1, seed + 1, seconds, fps, frames=frames)
    scenes = [c.scene for c in gallery]
    sounds = [synth.SCENES[s].sound for s in scenes]
    pictures = [synth.SCENES[s].picture for s in scenes]
    frames = [encoder.frame_preprocessing(c.frames) for c in gallery]
    media = encoder.embed_audio_video([c.audio for c in gallery], frames)
    results: dict[str, float] = {}
    for space, table, item_classes, target in (
        ("text_audio", synth.SOUNDS, sounds, "audio"),
        ("text_video", synth.PICTURES, pictures, "video"),
        ("text_audio_video", synth.SCENES, scenes, "audio_video"),
    ):
        texts = [(name, text) for name in table for text in table[name].captions]
        query = encoder.embed_text([t for _, t in texts], [space])[space]
        scores = query @ media[target].T
        names = [n for n, _ in texts]
        results[f"{space} R@1"] = recall_at_1(scores, names, item_classes)
        match = np.array([[n == c for c in item_classes] for n in names])
        results[f"{space} p(match)"], results[f"{space} p(other)"] = _mean_probabilities(
            encoder, space, scores, match
        )
    audio = encoder.embed_audio([c.audio for c in queries])
    scores = audio @ media["video"].T
    query_scenes = [c.scene for c in queries]
    results["audio_video R@1"] = recall_at_1(scores, query_scenes, scenes)
    match = np.array([[q == s for s in scenes] for q in query_scenes])
    results["audio_video p(match)"], results["audio_video p(other)"] = _mean_probabilities(
        encoder, "audio_video", scores, match
    )
    return results


def heldout_events(
    count: int, seed: int, seconds: tuple[float, float] = (4.0, 12.0)
) -> list[synth.EventClip]:
    """Steady sound events (tones, noises, chirps) of 0.5-2.5 s in silence, at random times."""
    rng = np.random.default_rng(seed)
    steady = [name for name, spec in synth.SOUNDS.items() if spec.steady and name != "silence"]
    clips = []
    for index in range(count):
        total = float(rng.uniform(*seconds))
        length = float(rng.uniform(0.5, 2.5))
        start = float(rng.uniform(0.3, total - length - 0.3))
        clips.append(synth.event_clip(steady[index % len(steady)], total, start, start + length, seed=rng))
    return clips


def evaluate_audio_frame(
    encoder,
    count: int = 14,
    seed: int = HELDOUT_SEED,
    threshold: float = 0.3,
    seconds: tuple[float, float] = (4.0, 12.0),
) -> dict[str, float]:
    """Frame-level localisation: for an event's caption, the frames with probability above
    `threshold` form spans; the span overlapping the event most is compared with the truth
    ("extra spans" counts the others: false alarms or a split event)."""
    clips = heldout_events(count, seed, seconds)
    frames = encoder.embed_audio_frames([c.samples for c in clips])
    captions = [synth.caption(c.event) for c in clips]
    texts = encoder.embed_text(captions, ["text_audio_frame"])["text_audio_frame"]
    calibration = encoder.calibration("text_audio_frame")
    errors, extra, found, inside, outside = [], 0, 0, [], []
    for clip, vectors, text in zip(clips, frames, texts):
        p = calibration.probability(vectors @ text)
        active = clip.active(encoder.frame_seconds)[: p.size]
        inside.append(float(p[active].mean()))
        outside.append(float(p[~active].mean()))
        found_spans = spans(p, threshold, encoder.frame_seconds)
        overlaps = [min(s.end, clip.end) - max(s.start, clip.start) for s in found_spans]
        if not found_spans or max(overlaps) <= 0:
            errors.append(float("inf"))
            continue
        found += 1
        best = found_spans[int(np.argmax(overlaps))]
        extra += len(found_spans) - 1
        errors.append(max(abs(best.start - clip.start), abs(best.end - clip.end)))
    errors_array = np.array(errors)
    finite = errors_array[np.isfinite(errors_array)]
    return {
        "events": float(len(clips)),
        "found": float(found),
        "extra spans": float(extra),
        "edge error mean (s)": float(finite.mean()) if finite.size else float("inf"),
        "edge error max (s)": float(errors_array.max()),
        "within 80 ms": float(np.mean(errors_array <= 0.08 + 1e-9)),
        "p(inside)": float(np.mean(inside)),
        "p(outside)": float(np.mean(outside)),
    }
