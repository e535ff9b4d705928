"""Session fixtures of generated media, shared by the decoding tests (import the ones a module uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.media import (
    AUDIO_RATES,
    BURST_SECONDS,
    BURSTS,
    SOLID_FPS,
    TONE_HZ,
    TONE_SECONDS,
    VFR_TIMES,
    constant_rate,
    moving_square_frame,
    solid_frame,
    tone,
    tone_bursts,
    write_audio,
    write_video,
)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def tone_files(media_dir) -> dict[str, Path]:
    """A 3 s stereo 440 Hz tone in each audio container, plus the audio track of webm and mp4 videos."""
    files = {
        ext: write_audio(media_dir / f"tone{ext}", tone(TONE_HZ, TONE_SECONDS, rate, channels=2), rate)
        for ext, rate in AUDIO_RATES.items()
    }
    frames = [(solid_frame(i), t) for i, t in enumerate(constant_rate(int(TONE_SECONDS * 10), 10.0))]
    for ext in (".webm", ".mp4"):
        files[ext] = write_video(
            media_dir / f"tone{ext}", frames, audio=tone(TONE_HZ, TONE_SECONDS, 48_000, channels=2)
        )
    return files


@pytest.fixture(scope="session")
def burst_files(media_dir) -> dict[str, Path]:
    """20 s of silence with tone bursts (see BURSTS), long enough that a late start seeks.

    wav: libsndfile path; m4a: PyAV with a seek; mka: PyAV whose millisecond timestamps forbid
    seeking; mp3: a raw stream, never seeked."""
    rates = {".wav": 44_100, ".m4a": 44_100, ".mka": 22_050, ".mp3": 44_100}
    return {
        ext: write_audio(media_dir / f"bursts{ext}", tone_bursts(BURSTS, BURST_SECONDS, rate), rate)
        for ext, rate in rates.items()
    }


@pytest.fixture(scope="session")
def solid_videos(media_dir) -> dict[str, Path]:
    """Constant 10 fps, 4 s: frame i is palette colour i, so a decoded frame names its index."""
    frames = [(solid_frame(i), t) for i, t in enumerate(constant_rate(40, SOLID_FPS))]
    return {ext: write_video(media_dir / f"solid{ext}", frames) for ext in (".mp4", ".webm")}


@pytest.fixture(scope="session")
def vfr_videos(media_dir) -> dict[str, Path]:
    """Variable frame rate (VFR_TIMES): frame i is palette colour i."""
    frames = [(solid_frame(i), t) for i, t in enumerate(VFR_TIMES)]
    return {ext: write_video(media_dir / f"vfr{ext}", frames) for ext in (".mp4", ".webm")}


@pytest.fixture(scope="session")
def long_video(media_dir) -> Path:
    """20 s at 10 fps with a keyframe every 1.2 s; the square's x position is the frame index mod 100."""
    frames = [(moving_square_frame(i % 100), i / 10) for i in range(200)]
    return write_video(media_dir / "square.mp4", frames, gop=12)
