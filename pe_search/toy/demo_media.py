"""A folder of held-out media the toy models never saw, and the truth about every file in it.

`pe-search demo` indexes it and the end-to-end tests measure retrieval on it: a hit is right
when the class that generated it matches the query's. Seeds differ from training's (see
`evaluate.HELDOUT_SEED`), so pitches, colours within a class, positions, flash timings and
lengths are new; the containers and codecs are the ones users have (wav, flac, m4a/aac,
mp4/h264+aac, webm/vp9), so decoding and lossy coding are part of what is measured.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pe_search.toy import synth
from pe_search.toy.evaluate import HELDOUT_SEED
from pe_search.toy.media_writer import write_audio, write_video

DEMO_SEED = HELDOUT_SEED + 500
MANIFEST = "manifest.json"
AUDIO_SUFFIXES = (".wav", ".flac", ".m4a")


@dataclass(frozen=True)
class Event:
    """A sound event inside a longer file: its class and its true span in seconds."""

    sound: str
    start: float
    end: float


@dataclass(frozen=True)
class GeneratedFile:
    """One generated file and what generated it."""

    path: str  # relative to the folder
    sounds: tuple[str, ...] = ()  # sound classes heard in it (none: no audio stream)
    picture: str | None = None  # picture class shown (None: no video stream)
    scene: str | None = None  # for files with both streams that belong together
    events: tuple[Event, ...] = ()  # timed events, for localisation
    seconds: float = 0.0


@dataclass
class DemoMedia:
    """The generated folder: its files with their truth, and query sounds kept outside it."""

    root: Path  # media/ (what gets indexed), queries/ and the manifest
    files: list[GeneratedFile] = field(default_factory=list)
    query_sounds: dict[str, Path] = field(default_factory=dict)  # scene -> a held-out sound of it

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def events(self) -> list[Event]:
        return [event for generated in self.files for event in generated.events]

    def by_path(self, path: str | Path) -> GeneratedFile | None:
        """The file whose absolute path, or path relative to `media_dir`, is `path`."""
        try:
            relative = Path(path).resolve().relative_to(self.media_dir.resolve())
        except ValueError:
            relative = Path(path)
        return next((f for f in self.files if f.path == relative.as_posix()), None)

    def save(self) -> None:
        manifest = {
            "files": [asdict(f) for f in self.files],
            "query_sounds": {k: str(v.relative_to(self.root)) for k, v in self.query_sounds.items()},
        }
        (self.root / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")

    @classmethod
    def load(cls, root: Path) -> DemoMedia | None:
        """The folder written earlier by `write_demo_media`, or None if there is none (or it lost files)."""
        path = root / MANIFEST
        if not path.is_file():
            return None
        manifest = json.loads(path.read_text())
        files = [
            GeneratedFile(
                path=f["path"],
                sounds=tuple(f["sounds"]),
                picture=f["picture"],
                scene=f["scene"],
                events=tuple(Event(**e) for e in f["events"]),
                seconds=f["seconds"],
            )
            for f in manifest["files"]
        ]
        queries = {k: root / v for k, v in manifest["query_sounds"].items()}
        media = cls(root, files, queries)
        present = [(media.media_dir / f.path) for f in files] + list(queries.values())
        return media if all(p.is_file() for p in present) else None


def _video_frames(frames: np.ndarray, fps: float):
    return ((frame, index / fps) for index, frame in enumerate(frames))


def write_demo_media(
    folder: str | Path,
    seed: int = DEMO_SEED,
    seconds: tuple[float, float] = (4.0, 9.0),
    fps: float = 8.0,
    size: int = 64,
) -> DemoMedia:
    """Write the held-out folder under `folder` (media in `media/`, query sounds in `queries/`):

    - `sounds/`: one audio file per sound class (wav, flac or m4a);
    - `scenes/`: one mp4 (h264 + aac) per scene, picture and sound that belong together;
    - `pictures/`: one silent webm (vp9) per scene's picture;
    - `events/`: two long recordings of silence with timed sound events, to locate them.
    """
    folder = Path(folder)
    result = DemoMedia(folder)
    media = result.media_dir
    for sub in ("sounds", "scenes", "pictures", "events"):
        (media / sub).mkdir(parents=True, exist_ok=True)
    (folder / "queries").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index, name in enumerate(synth.SOUNDS):
        length = float(rng.uniform(*seconds))
        samples = synth.sound(name, length, rng).samples
        relative = f"sounds/{name.replace('_', '-')}{AUDIO_SUFFIXES[index % len(AUDIO_SUFFIXES)]}"
        write_audio(media / relative, samples, synth.SAMPLE_RATE)
        result.files.append(GeneratedFile(relative, sounds=(name,), seconds=length))
    for name, spec in synth.SCENES.items():
        clip = synth.scene(name, float(rng.uniform(*seconds)), fps, size, rng)
        relative = f"scenes/{name.replace('_', '-')}.mp4"
        write_video(media / relative, _video_frames(clip.frames, fps), audio=clip.audio)
        length = clip.audio.size / synth.SAMPLE_RATE
        result.files.append(GeneratedFile(relative, (spec.sound,), spec.picture, name, seconds=length))
    for spec in synth.SCENES.values():
        length = float(rng.uniform(*seconds))
        frames = synth.picture(spec.picture, length, fps, size, rng)
        relative = f"pictures/{spec.picture.replace('_', '-')}.webm"
        write_video(media / relative, _video_frames(frames, fps))
        result.files.append(GeneratedFile(relative, picture=spec.picture, seconds=len(frames) / fps))
    for relative, total, events in (
        ("events/long-take-1.flac", 45.0, (("high_beep", 7.0, 2.0), ("white_noise", 33.0, 1.5))),
        ("events/long-take-2.wav", 40.0, (("chirp_up", 12.0, 1.8), ("low_tone", 24.0, 2.5))),
    ):
        samples = synth.sound("silence", total, rng).samples.copy()
        placed = []
        for sound, around, length in events:
            start = round(around + float(rng.uniform(-1.0, 1.0)), 3)
            clip = synth.event_clip(sound, total, start, start + length, seed=rng)
            i0, i1 = round(clip.start * synth.SAMPLE_RATE), round(clip.end * synth.SAMPLE_RATE)
            samples[i0:i1] = clip.samples[i0:i1]
            placed.append(Event(sound, clip.start, clip.end))
        write_audio(media / relative, samples, synth.SAMPLE_RATE)
        sounds = ("silence", *(e.sound for e in placed))
        result.files.append(GeneratedFile(relative, sounds, events=tuple(placed), seconds=total))
    query_rng = np.random.default_rng(seed + 1)
    for name in synth.SCENES:
        clip = synth.scene(name, float(query_rng.uniform(*seconds)), fps, size, query_rng)
        path = folder / "queries" / f"sound-of-{name.replace('_', '-')}.wav"
        write_audio(path, clip.audio, synth.SAMPLE_RATE)
        result.query_sounds[name] = path
    result.save()
    return result
