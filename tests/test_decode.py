"""Audio and video decoding on media generated at test time (see media.py / media_fixtures.py)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from pe_search.errors import MediaError, PeSearchError
from pe_search.media import audio_sources, resample, video
from pe_search.media.audio import iter_audio, read_audio
from pe_search.media.frame_pick import window_frame_times
from pe_search.media.probe import probe
from pe_search.media.rate import SAMPLE_RATE
from pe_search.media.video import iter_video_frames
from testkit.media import (
    AUDIO_RATES,
    BURSTS,
    PALETTE,
    SOLID_FPS,
    TONE_HZ,
    TONE_SECONDS,
    VFR_TIMES,
    identify_solid,
    noise,
    solid_frame,
    square_position,
    tone,
    truncated_copy,
    unknown_codec_wav,
    write_audio,
)

pytest_plugins = ["media_fixtures"]  # tone_files, burst_files, solid_videos, vfr_videos, long_video


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / samples.size)


def onset(samples: np.ndarray, threshold: float = 0.1) -> float:
    """Seconds to the first sample above `threshold`."""
    return float(np.flatnonzero(np.abs(samples) > threshold)[0] / SAMPLE_RATE)


# ------------------------------------------------------------------------------------------------ probe


@pytest.mark.parametrize("ext", [*AUDIO_RATES, ".webm", ".mp4"])
def test_probe_describes_the_streams(tone_files, ext):
    info = probe(tone_files[ext])
    assert info.path == str(tone_files[ext])
    assert info.has_audio and info.channels == 2
    assert info.sample_rate == AUDIO_RATES.get(ext, 48_000)
    assert info.duration == pytest.approx(TONE_SECONDS, abs=0.1)
    assert info.has_video == (ext in (".webm", ".mp4"))
    if info.has_video:
        assert (info.width, info.height) == (64, 48)
        assert info.video_codec in ("h264", "vp9")
    else:
        assert info.video_codec is None and info.width is None


# ------------------------------------------------------------------------------------------------ audio


@pytest.mark.parametrize("ext", [*AUDIO_RATES, ".webm", ".mp4"])
def test_every_container_decodes_to_mono_48k_with_the_tone_intact(tone_files, ext):
    samples = read_audio(tone_files[ext])
    assert samples.dtype == np.float32 and samples.ndim == 1
    # Lossy codecs may add up to a frame of padding; nothing may be lost or stretched.
    assert TONE_SECONDS * SAMPLE_RATE <= samples.size <= TONE_SECONDS * SAMPLE_RATE + 2048
    assert peak_hz(samples) == pytest.approx(TONE_HZ, abs=1.0)
    rms = float(np.sqrt(np.mean(samples[4800:-4800] ** 2)))
    assert rms == pytest.approx(0.5 / math.sqrt(2), rel=0.05)  # amplitude 0.5 on both channels


@pytest.mark.parametrize("ext", [".wav", ".mka"])  # libsndfile path and PyAV path
def test_stereo_is_downmixed_to_the_channel_mean(media_dir, ext):
    rate = 44_100
    left, right = tone(1000.0, 1.0, rate, amplitude=0.6)[0], tone(1000.0, 1.0, rate, amplitude=0.2)[0]
    path = write_audio(media_dir / f"stereo-downmix{ext}", np.stack([left, -right]), rate)
    samples = read_audio(path)
    expected = tone(1000.0, 1.0, SAMPLE_RATE, amplitude=0.2)[0]  # (0.6 - 0.2) / 2
    assert samples.size == expected.size
    assert np.abs(samples[100:-100] - expected[100:-100]).max() < 2e-3


@pytest.mark.parametrize("rate", [16_000, 22_050, 44_100])
def test_resampling_keeps_frequency_and_timing(media_dir, rate):
    path = write_audio(
        media_dir / f"resample-{rate}.wav", np.concatenate([np.zeros(rate), tone(1000, 1, rate)[0]]), rate
    )
    samples = read_audio(path)
    assert samples.size == 2 * SAMPLE_RATE
    assert peak_hz(samples[SAMPLE_RATE:]) == pytest.approx(1000.0, abs=1.0)
    assert onset(samples) == pytest.approx(1.0, abs=1e-4)  # within 5 samples of the true onset


def test_soundfile_and_pyav_paths_give_the_same_samples(tone_files):
    path = tone_files[".wav"]  # 44.1 kHz stereo, readable by both
    via_soundfile = np.concatenate([s for _, s in resample.to_48k(audio_sources.soundfile_blocks(path, 0.0))])
    via_pyav = np.concatenate([s for _, s in resample.to_48k(audio_sources.pyav_blocks(path, 0.0))])
    assert via_soundfile.size == via_pyav.size == TONE_SECONDS * SAMPLE_RATE
    assert np.array_equal(via_soundfile, via_pyav)


@pytest.mark.parametrize("ext", [".wav", ".m4a", ".mka", ".mp3"])
def test_chunks_concatenate_to_the_whole_file(burst_files, ext):
    whole = read_audio(burst_files[ext])
    chunk = round(1.7 * SAMPLE_RATE)
    chunks = list(iter_audio(burst_files[ext], chunk_seconds=1.7))
    assert all(c.samples.size == chunk for c in chunks[:-1]) and 0 < chunks[-1].samples.size <= chunk
    assert [c.offset for c in chunks] == [i * chunk for i in range(len(chunks))]
    assert all(c.start == c.offset / SAMPLE_RATE for c in chunks)
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), whole)
    starts = [onset(whole[round(start * SAMPLE_RATE) - 2400 :]) + start - 0.05 for start, _, _ in BURSTS]
    assert starts == pytest.approx([start for start, _, _ in BURSTS], abs=1e-3)


@pytest.mark.parametrize(("ext", "seeks"), [(".wav", True), (".m4a", True), (".mka", False), (".mp3", False)])
def test_a_late_start_is_sample_exact(burst_files, monkeypatch, ext, seeks):
    """A span read from start=s is sample round(s * 48000) onwards of the whole decode, whether the
    reader seeked (and resampled from a new position) or decoded from the beginning."""
    path = burst_files[ext]
    whole = read_audio(path)
    first_frames: list[float] = []
    original = audio_sources.decoded_frames

    def spy(*args):
        for i, frame in enumerate(original(*args)):
            if i == 0:
                first_frames.append(float(frame.pts * frame.time_base))
            yield frame

    monkeypatch.setattr(audio_sources, "decoded_frames", spy)
    start, end = 12.3456, 16.5
    span = read_audio(path, start=start, end=end)
    expected = whole[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
    assert span.size == expected.size
    assert np.array_equal(span, expected)
    assert onset(span) + start == pytest.approx(12.5, abs=1e-3)
    chunks = list(iter_audio(path, chunk_seconds=1.0, start=start, end=end))
    assert chunks[0].offset == round(start * SAMPLE_RATE)
    if ext != ".wav":  # PyAV: did it seek (first decoded frame near the start) or not?
        assert (first_frames[0] > start - 3) == seeks


def test_end_bounds_the_span_and_empty_spans_are_empty(burst_files):
    path = burst_files[".wav"]
    assert read_audio(path, start=2.0, end=2.5).size == SAMPLE_RATE // 2
    assert read_audio(path, start=5.0, end=5.0).size == 0
    assert read_audio(path, start=19.5, end=25.0).size == SAMPLE_RATE // 2  # the file ends at 20 s


def test_a_long_file_streams_in_bounded_memory(tmp_path):
    """10 minutes of 8 kHz audio is 115 MB at 48 kHz float32; 30 s chunks must never hold it all."""
    path = write_audio(tmp_path / "long.wav", noise(600.0, 8000, amplitude=0.2), 8000)
    chunk = 30 * SAMPLE_RATE
    whole_bytes = 600 * SAMPLE_RATE * 4
    tracemalloc.start()
    try:
        count = total = largest = 0
        for c in iter_audio(path, chunk_seconds=30.0):
            count, total, largest = count + 1, total + c.samples.size, max(largest, c.samples.size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, total, largest) == (20, 600 * SAMPLE_RATE, chunk)
    assert peak < whole_bytes / 4, f"peak {peak / 1e6:.1f} MB"


# ------------------------------------------------------------------------------------------------ video


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
def test_constant_rate_frames_are_the_ones_on_screen(solid_videos, ext):
    times = [0.0, 0.04, 0.1, 0.149, 0.95, 1.0, 2.31, 3.9, 3.95, 10.0]
    frames = list(iter_video_frames(solid_videos[ext], times))
    expected = [min(math.floor(t * SOLID_FPS + 1e-9), 39) for t in times]
    assert [f.requested for f in frames] == times
    assert [f.time for f in frames] == pytest.approx([i / SOLID_FPS for i in expected], abs=1e-3)
    assert [identify_solid(f.rgb) for f in frames] == [i % len(PALETTE) for i in expected]
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
def test_variable_frame_rate_does_not_drift(vfr_videos, ext):
    """Every requested time gets the last frame shown at or before it, timed by its own pts; a nominal
    frame rate (which probe reports, and which is wrong for this file) plays no part."""
    times = [round(0.013 * k, 3) for k in range(int(VFR_TIMES[-1] / 0.013) + 20)]
    frames = list(iter_video_frames(vfr_videos[ext], times))
    expected = [max(i for i, pts in enumerate(VFR_TIMES) if pts <= t + 1e-9) for t in times]
    assert [f.time for f in frames] == pytest.approx([VFR_TIMES[i] for i in expected], abs=1e-3)
    assert [identify_solid(f.rgb) for f in frames] == [i % len(PALETTE) for i in expected]
    nominal = probe(vfr_videos[ext]).frame_rate
    assert any(abs(VFR_TIMES[i] - i / nominal) > 0.2 for i in range(len(VFR_TIMES)))


def test_seeking_returns_the_same_frames_as_decoding_through(long_video, monkeypatch):
    times = [0.55, 9.97, 10.0, 15.32, 19.9]
    seeks: list[float] = []
    original = video.seek_video

    def spy(path, container, stream, target, origin, *rest):
        seeks.append(target)
        return original(path, container, stream, target, origin, *rest)

    monkeypatch.setattr(video, "seek_video", spy)
    seeked = [(f.time, square_position(f.rgb)) for f in iter_video_frames(long_video, times)]
    assert seeks, "requests 5 s apart in a file with keyframes every 1.2 s should seek"
    straight = [
        (f.time, square_position(f.rgb)) for f in iter_video_frames(long_video, times, seek_gap=math.inf)
    ]
    assert seeked == straight
    assert [p for _, p in seeked] == [5.0, 99.0, 0.0, 53.0, 99.0]  # frame index mod 100


def test_frames_can_be_scaled(long_video):
    (frame,) = iter_video_frames(long_video, [3.0], size=(36, 64))
    assert frame.rgb.shape == (36, 64, 3)
    assert square_position(frame.rgb) == pytest.approx(15.0, abs=1.0)  # x=30 at half width


def test_requested_times_must_be_in_order(long_video):
    with pytest.raises(ValueError, match="non-decreasing"):
        list(iter_video_frames(long_video, [2.0, 1.0]))


def test_window_frame_times_every_1_over_fps():
    assert window_frame_times(5.0, 7.0, fps=2.0) == [5.0, 5.5, 6.0, 6.5]
    assert window_frame_times(0.0, 1.0, fps=3.0) == pytest.approx([0.0, 1 / 3, 2 / 3])
    assert len(window_frame_times(0.0, 0.3, fps=10.0)) == 3  # 0.3 * 10 is 2.9999999999999996
    assert window_frame_times(3.0, 3.0, fps=2.0) == []


def test_window_frame_times_n_per_window_like_pe():
    # With the frame rate: exactly PE's sampler, int(i * (T - 1) / (N - 1)) of the window's T frames.
    times = window_frame_times(10.0, 11.0, frames_per_window=8, frame_rate=30.0)
    assert times == pytest.approx([10.0 + int(i * 29 / 7) / 30.0 for i in range(8)])
    # Without it: evenly spread from the start to the last instant of the window.
    times = window_frame_times(2.0, 4.0, frames_per_window=5)
    assert times[0] == 2.0 and 3.999 < times[-1] < 4.0
    assert np.diff(times) == pytest.approx([times[1] - times[0]] * 4)
    assert window_frame_times(2.0, 4.0, frames_per_window=1) == [3.0]
    with pytest.raises(ValueError):
        window_frame_times(0.0, 1.0, fps=1.0, frames_per_window=2)


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
def test_sampling_a_window_end_to_end(solid_videos, ext):
    by_fps = list(iter_video_frames(solid_videos[ext], window_frame_times(1.0, 2.0, fps=4.0)))
    assert [identify_solid(f.rgb) for f in by_fps] == [10, 12, 15, 17]  # frames on screen at 1, 1.25, ...
    times = window_frame_times(1.0, 2.0, frames_per_window=4, frame_rate=SOLID_FPS)
    by_count = list(iter_video_frames(solid_videos[ext], times))
    assert [identify_solid(f.rgb) for f in by_count] == [10 + int(i * 9 / 3) for i in range(4)]


# -------------------------------------------------------------------------------------------- bad input


def _consume(path, what: str):
    if what == "probe":
        return probe(path)
    if what == "audio":
        return list(iter_audio(path))
    return list(iter_video_frames(path, [0.0, 1.0]))


def _bad_file(kind: str, tmp_path, tone_files, solid_videos):
    if kind == "missing":
        return tmp_path / "nowhere.wav"
    if kind == "empty":
        (tmp_path / "empty.mp4").write_bytes(b"")
        return tmp_path / "empty.mp4"
    if kind == "directory":
        (tmp_path / "folder.mkv").mkdir()
        return tmp_path / "folder.mkv"
    if kind == "text":
        (tmp_path / "notes.mp4").write_text("These are my notes, not a video.\n" * 50)
        return tmp_path / "notes.mp4"
    if kind == "garbage":
        (tmp_path / "garbage.mkv").write_bytes(np.random.default_rng(0).bytes(20_000))
        return tmp_path / "garbage.mkv"
    if kind == "unknown-codec":
        return unknown_codec_wav(tmp_path / "unknown-codec.wav")
    source = {"truncated-wav": tone_files[".wav"], "truncated-flac": tone_files[".flac"]}.get(kind)
    source = source or {"truncated-m4a": tone_files[".m4a"], "truncated-mp3": tone_files[".mp3"]}.get(kind)
    source = source or {"truncated-mp4": solid_videos[".mp4"], "truncated-webm": solid_videos[".webm"]}[kind]
    return truncated_copy(source, tmp_path / f"{kind}{source.suffix}", keep=0.5)


@pytest.mark.parametrize(
    ("kind", "what", "reason"),
    [
        ("missing", "probe", "file not found"),
        ("missing", "audio", "file not found"),
        ("missing", "video", "file not found"),
        ("empty", "probe", "empty file"),
        ("empty", "audio", "empty file"),
        ("directory", "video", "directory"),
        ("text", "probe", "not a media file (it contains text)"),
        ("text", "video", "not a media file (it contains text)"),
        ("garbage", "audio", "not a media file"),
        ("unknown-codec", "audio", "unsupported audio codec"),
        ("truncated-wav", "audio", "truncated"),
        ("truncated-flac", "audio", "truncated"),
        ("truncated-m4a", "probe", "truncated"),
        ("truncated-mp3", "audio", "truncated"),
        ("truncated-mp4", "video", "truncated"),
        ("truncated-webm", "video", "truncated"),
    ],
)
def test_bad_input_raises_media_error_naming_file_and_reason(
    tmp_path, tone_files, solid_videos, kind, what, reason
):
    path = _bad_file(kind, tmp_path, tone_files, solid_videos)
    with pytest.raises(MediaError) as caught:
        _consume(path, what)
    assert isinstance(caught.value, PeSearchError)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in caught.value.reason


def test_missing_streams_are_named(tone_files, solid_videos):
    with pytest.raises(MediaError, match="no audio stream") as caught:
        list(iter_audio(solid_videos[".mp4"]))  # video only
    assert caught.value.path == str(solid_videos[".mp4"])
    with pytest.raises(MediaError, match="no video stream") as caught:
        list(iter_video_frames(tone_files[".flac"], [0.0]))
    assert caught.value.path == str(tone_files[".flac"])
    info = probe(solid_videos[".mp4"])
    assert info.has_video and not info.has_audio and info.audio_codec is None


def test_cover_art_is_not_video(tmp_path):
    path = write_audio(tmp_path / "song.mp3", tone(440.0, 1.0, 44_100), 44_100, cover=solid_frame(3))
    info = probe(path)
    assert info.has_audio and not info.has_video and info.video_codec is None
    with pytest.raises(MediaError, match="no video stream"):
        list(iter_video_frames(path, [0.0]))
    assert read_audio(path).size == SAMPLE_RATE
