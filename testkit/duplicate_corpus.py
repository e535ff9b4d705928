"""A generated corpus for duplicate finding: recordings, copies of them in other forms, look-alikes.

Every recording is stereo 48 kHz, 8 s: a kind of sound (beeps at one pitch, chirps, a hum, rain,
babble) over its own noise. For each kind there is an original and a look-alike: the same recipe
(same pitch, same number of events, same loudness) with other noise and other timing, which a
semantic model calls the same sound and which must not be grouped. Each original gets copies
made with PyAV, one per transformation in `TRANSFORMS`; scenes (video with sound) get their own.
The labels (`recording`) come from the generator, never from the code under test.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pe_search.toy.media_writer import write_audio, write_video

RATE = 48_000
SECONDS = 8.0
KINDS = ("beeps", "chirps", "hum", "rain", "babble")
TRANSFORMS = (
    "exact",
    "reencode_mp3",
    "reencode_aac",
    "reencode_opus",
    "resample_22k",
    "resample_16k",
    "mono",
    "gain_down",
    "gain_up",
    "trim_start",
    "trim_end",
    "trim_both_mp3",
    "recontainer",
)
VIDEO_TRANSFORMS = ("exact", "recontainer", "reencode_webm", "trim_start")


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    recording: str  # files with the same recording are duplicates of each other
    transform: str  # "original", "lookalike" or one of TRANSFORMS / VIDEO_TRANSFORMS
    kind: str  # audio or video


def _noise(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """Pink-ish noise (white, smoothed a little) on two channels that are alike but not equal."""
    white = rng.standard_normal((2, n + 8))
    smooth = sum(white[:, i : i + n] for i in range(8)) / 8
    shared = smooth[0] * 0.7 + smooth[1] * 0.3
    return amplitude * np.stack([shared, 0.8 * shared + 0.2 * smooth[1]]) / max(np.abs(shared).max(), 1e-9)


def recording(kind: str, take: int) -> np.ndarray:
    """(2, samples) float32 in [-0.45, 0.45]: takes 2v and 2v + 1 are a recording and its look-alike."""
    rng = np.random.default_rng(1000 * KINDS.index(kind) + take)
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    signal = np.zeros(n)
    events = np.sort(rng.uniform(0.3, SECONDS - 1.0, size=5))
    if kind == "beeps":
        for start in events:
            on = (t >= start) & (t < start + 0.3)
            signal[on] += 0.5 * np.sin(2 * np.pi * 1000.0 * (t[on] - start))
    elif kind == "chirps":
        for start in events:
            on = (t >= start) & (t < start + 0.6)
            local = t[on] - start
            signal[on] += 0.5 * np.sin(2 * np.pi * (400 * local + 1000 * local**2))
    elif kind == "hum":
        wobble = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 6))
        for harmonic in (1, 2, 3, 5):
            signal += wobble * 0.15 / harmonic * np.sin(2 * np.pi * 120.0 * harmonic * t)
    elif kind == "rain":
        drops = rng.integers(0, n - 400, size=300)
        for drop in drops:
            signal[drop : drop + 400] += (
                rng.uniform(0.1, 0.4)
                * np.exp(-np.arange(400) / 60)
                * np.sin(2 * np.pi * rng.uniform(800, 1800) * np.arange(400) / RATE)
            )
    elif kind == "babble":
        syllables = np.repeat(rng.uniform(0, 1, size=int(SECONDS * 5)), RATE // 5)[:n]
        carrier = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (500, 900, 1400))
        signal += 0.3 * syllables * carrier / 3
    else:
        raise ValueError(kind)
    mixed = np.stack([signal, signal]) + _noise(rng, n, 0.08)
    return (0.45 * mixed / np.abs(mixed).max()).astype(np.float32)


def _remux(source: Path, target: Path) -> None:
    """The same streams in another container, packets copied (no re-encoding)."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        streams = {}
        for stream in inp.streams:
            if stream.type in ("audio", "video"):
                streams[stream.index] = out.add_stream_from_template(stream)
        for packet in inp.demux():
            if packet.stream.index in streams and packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


def _resample(signal: np.ndarray, rate: int) -> np.ndarray:
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal), format="fltp", layout="stereo")
    frame.sample_rate = RATE
    frame.pts = 0
    frame.time_base = Fraction(1, RATE)
    out = [f.to_ndarray() for f in resampler.resample(frame)] + [
        f.to_ndarray() for f in resampler.resample(None)
    ]
    return np.concatenate(out, axis=1)


def _audio_copy(original: Path, signal: np.ndarray, transform: str, folder: Path, name: str) -> Path:
    trim_start, trim_end = int(1.335 * RATE), int(1.13 * RATE)  # 57.5 hops: the worst misalignment
    if transform == "exact":
        return Path(shutil.copyfile(original, folder / f"{name}.flac"))
    if transform == "reencode_mp3":
        return write_audio(folder / f"{name}.mp3", signal, RATE)
    if transform == "reencode_aac":
        return write_audio(folder / f"{name}.m4a", signal, RATE)
    if transform == "reencode_opus":
        return write_audio(folder / f"{name}.ogg", signal, RATE)
    if transform == "resample_22k":
        return write_audio(folder / f"{name}.wav", _resample(signal, 22_050), 22_050)
    if transform == "resample_16k":
        return write_audio(folder / f"{name}.flac", _resample(signal, 16_000), 16_000)
    if transform == "mono":
        return write_audio(folder / f"{name}.wav", signal.mean(axis=0, keepdims=True), RATE)
    if transform == "gain_down":
        return write_audio(folder / f"{name}.flac", signal * 0.2, RATE)
    if transform == "gain_up":
        return write_audio(folder / f"{name}.wav", signal * 2.0, RATE)
    if transform == "trim_start":
        return write_audio(folder / f"{name}.flac", signal[:, trim_start:], RATE)
    if transform == "trim_end":
        return write_audio(folder / f"{name}.flac", signal[:, :-trim_end], RATE)
    if transform == "trim_both_mp3":
        return write_audio(folder / f"{name}.mp3", signal[:, trim_start:-trim_end], RATE)
    if transform == "recontainer":
        target = folder / f"{name}.mka"
        _remux(original, target)
        return target
    raise ValueError(transform)


def _scene_frames(take: int, seconds: float = SECONDS) -> list[tuple[np.ndarray, float]]:
    """A square crossing a grey field: both takes of a scene look the same."""
    frames = []
    for i in range(int(seconds * 5)):
        rgb = np.full((64, 64, 3), 90, dtype=np.uint8)
        x = (i * 2) % 48
        rgb[20:36, x : x + 16] = (220, 180, 40)
        frames.append((rgb, i / 5))
    return frames


def write_corpus(
    folder: Path,
    kinds: tuple[str, ...] = KINDS,
    transforms: tuple[str, ...] = TRANSFORMS,
    scenes: int = 2,
    variants: int = 1,
) -> list[CorpusFile]:
    """Write the corpus into `folder`; returns every file with its label. `variants`: recordings
    (each with its look-alike and copies) per kind of sound."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[CorpusFile] = []
    for variant in range(variants):
        for kind in kinds:
            name = kind if variant == 0 else f"{kind}{variant}"
            signal = recording(kind, 2 * variant)
            original = write_audio(folder / f"{name}-original.flac", signal, RATE)
            files.append(CorpusFile(original, name, "original", "audio"))
            alike = write_audio(folder / f"{name}-other-take.flac", recording(kind, 2 * variant + 1), RATE)
            files.append(CorpusFile(alike, f"{name}-other", "lookalike", "audio"))
            for transform in transforms:
                path = _audio_copy(original, signal, transform, folder, f"{name}-copy-{transform}")
                files.append(CorpusFile(path, name, transform, "audio"))
    for scene in range(scenes):
        sound = recording(KINDS[scene % len(KINDS)], 10 + scene)
        original = write_video(folder / f"scene{scene}-original.mp4", _scene_frames(0), audio=sound)
        files.append(CorpusFile(original, f"scene{scene}", "original", "video"))
        other = write_video(
            folder / f"scene{scene}-other-take.mp4",
            _scene_frames(1),
            audio=recording(KINDS[scene % len(KINDS)], 20 + scene),
        )
        files.append(CorpusFile(other, f"scene{scene}-other", "lookalike", "video"))
        for transform in VIDEO_TRANSFORMS:
            name = f"scene{scene}-copy-{transform}"
            if transform == "exact":
                path = Path(shutil.copyfile(original, folder / f"{name}.mp4"))
            elif transform == "recontainer":
                path = folder / f"{name}.mkv"
                _remux(original, path)
            elif transform == "reencode_webm":
                path = write_video(folder / f"{name}.webm", _scene_frames(0), audio=sound)
            else:
                cut = int(1.335 * RATE)
                path = write_video(
                    folder / f"{name}.mp4",
                    [(rgb, t - 1.4) for rgb, t in _scene_frames(0) if t >= 1.4],
                    audio=sound[:, cut:],
                )
            files.append(CorpusFile(path, f"scene{scene}", transform, "video"))
    return files


@dataclass(frozen=True)
class Quality:
    """Pair-level precision and recall of predicted groups against the generator's labels."""

    label: str
    true_pairs: int
    found_pairs: int  # predicted pairs involving files of this label
    correct: int  # ... that are true pairs
    recalled: int  # true pairs of this label that were predicted

    @property
    def precision(self) -> float:
        return self.correct / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.recalled / self.true_pairs if self.true_pairs else 1.0


def evaluate(files: list[CorpusFile], groups: list[list[Path]]) -> dict[str, Quality]:
    """Per transformation: its copies' pairs with their original (recall) and every predicted pair
    a file of that transformation is in (precision); "lookalike": predicted pairs with a look-alike
    (each is a false merge); "all": every pair."""
    label = {f.path: f for f in files}
    predicted = set()
    for group in groups:
        members = sorted(group)
        predicted |= {(a, b) for i, a in enumerate(members) for b in members[i + 1 :]}
    true = {
        (a.path, b.path) if a.path < b.path else (b.path, a.path)
        for a in files
        for b in files
        if a.path != b.path and a.recording == b.recording
    }
    results = {}
    transforms = sorted({f.transform for f in files if f.transform != "original"})
    for transform in [*transforms, "all"]:

        def involved(pair, t=transform):
            return t == "all" or t in (label[pair[0]].transform, label[pair[1]].transform)

        def with_original(pair, t=transform):
            kinds = {label[pair[0]].transform, label[pair[1]].transform}
            return t == "all" or kinds == {t, "original"}

        mine_true = {p for p in true if with_original(p)}
        mine_found = {p for p in predicted if involved(p)}
        results[transform] = Quality(
            transform, len(mine_true), len(mine_found), len(mine_found & true), len(mine_true & predicted)
        )
    return results


def table(results: dict[str, Quality]) -> str:
    lines = [
        "| transformation | true pairs | recall | predicted pairs | precision |",
        "|---|---|---|---|---|",
    ]
    for name, q in results.items():
        recall = f"{q.recall:.3f}" if q.true_pairs else "-"
        lines.append(f"| {name} | {q.true_pairs} | {recall} | {q.found_pairs} | {q.precision:.3f} |")
    return "\n".join(lines)
