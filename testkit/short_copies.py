"""Short clips (1-6 s) and their copies re-encoded by Debian's `ffmpeg` command at each common
encoder's default settings, plus short look-alikes: the corpus for issue 27's defect 2.

Each clip is cut from a recording of `duplicate_corpus` (beeps, chirps, a hum, rain, babble over
noise) and written as 48 kHz stereo FLAC, its original. Its copies are made from that FLAC by the
`ffmpeg` command with nothing but the codec chosen (so each encoder runs at its own defaults):
libopus in Ogg, libvorbis in Ogg, FFmpeg's AAC in MP4, LAME MP3, and LAME MP3 at 64 kbps (the
low end of what people use). Look-alikes: the same stretch of the recording's other take (same
recipe, other noise and timing) and another stretch of the same take that does not overlap it (where the 8 s take has room),
each as long as the clip;
neither is a copy of anything. Labels (`recording`) come from this generator only.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pe_search.toy.media_writer import write_audio
from testkit.duplicate_corpus import KINDS, RATE, SECONDS, CorpusFile, recording

# name -> (file extension, ffmpeg arguments before the output)
ENCODERS = {
    "opus": (".ogg", ("-c:a", "libopus")),
    "vorbis": (".ogg", ("-c:a", "libvorbis")),
    "aac": (".m4a", ("-c:a", "aac")),
    "mp3": (".mp3", ("-c:a", "libmp3lame")),
    "mp3_64k": (".mp3", ("-c:a", "libmp3lame", "-b:a", "64k")),
}
LENGTHS = (1.0, 2.0, 3.5, 6.0)  # seconds: every clip length the issue names, the shortest twice as often


@dataclass(frozen=True)
class Clip:
    kind: str
    take: int
    start: float
    seconds: float


def clips(count: int = 20) -> list[Clip]:
    """`count` clips: kinds and lengths in turn, start points drawn from a fixed seed."""
    rng = np.random.default_rng(27)
    out = []
    for i in range(count):
        seconds = LENGTHS[i % len(LENGTHS)] if i % 5 else 1.0
        kind = KINDS[i % len(KINDS)]
        start = float(rng.uniform(0.2, 7.8 - seconds))
        out.append(Clip(kind, 2 * (i // len(KINDS)), round(start, 3), seconds))
    return out


def cut(clip: Clip, take: int | None = None, start: float | None = None) -> np.ndarray:
    signal = recording(clip.kind, clip.take if take is None else take)
    first = int((clip.start if start is None else start) * RATE)
    return signal[:, first : first + int(clip.seconds * RATE)]


def ffmpeg_copy(source: Path, target: Path, arguments: tuple[str, ...]) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), *arguments, str(target)],
        check=True,
    )  # fmt: skip
    return target


def _elsewhere(clip: Clip) -> float | None:
    """A start in the same take whose stretch does not overlap the clip's, if the take has room."""
    after, before = clip.start + clip.seconds + 0.1, clip.start - clip.seconds - 0.1
    if after + clip.seconds <= SECONDS:
        return after
    return before if before >= 0 else None


def write_short_corpus(
    folder: Path, count: int = 20, encoders: tuple[str, ...] = tuple(ENCODERS)
) -> list[CorpusFile]:
    """Write the clips, their copies and look-alikes into `folder`; every file with its label.
    `transform` is "original", "lookalike" or the encoder's name."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[CorpusFile] = []
    jobs: list[tuple[Path, Path, tuple[str, ...]]] = []
    for number, clip in enumerate(clips(count)):
        name = f"clip{number:02d}-{clip.kind}-{clip.seconds:g}s"
        original = write_audio(folder / f"{name}-original.flac", cut(clip), RATE)
        files.append(CorpusFile(original, name, "original", "audio"))
        other_take = write_audio(folder / f"{name}-other-take.flac", cut(clip, take=clip.take + 1), RATE)
        files.append(CorpusFile(other_take, f"{name}-other-take", "lookalike", "audio"))
        elsewhere = _elsewhere(clip)
        if elsewhere is not None:
            other_part = write_audio(folder / f"{name}-other-part.flac", cut(clip, start=elsewhere), RATE)
            files.append(CorpusFile(other_part, f"{name}-other-part", "lookalike", "audio"))
        for encoder in encoders:
            suffix, arguments = ENCODERS[encoder]
            copy = folder / f"{name}-copy-{encoder}{suffix}"
            jobs.append((original, copy, arguments))
            files.append(CorpusFile(copy, name, encoder, "audio"))
    with ThreadPoolExecutor(max_workers=4) as pool:  # each job is an ffmpeg process
        list(pool.map(lambda job: ffmpeg_copy(*job), jobs))
    return files
