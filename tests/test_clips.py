"""Trimmed clips (issue 22, part 3): a span of a file as a file of its own. The oracles are
soundfile reading the source and the clip (samples), Debian's ffmpeg making the sources, PyAV
decoding the clip, and the source's bytes hashed before and after."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from pe_search.cli.main import cli
from pe_search.errors import PeSearchError
from pe_search.media.trim import REENCODE, SAMPLE_ACCURATE, STREAM_COPY, clip_span, write_clip

RATE = 44_100
FPS = 25


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clip-sources")
    rng = np.random.default_rng(7)
    noise = (rng.uniform(-0.9, 0.9, (5 * RATE, 2)) * 2**23).astype(np.int32)  # 24-bit values
    sf.write(root / "noise.wav", noise, RATE, subtype="PCM_24")
    sf.write(root / "noise.flac", noise, RATE, subtype="PCM_24")
    video = ["-f", "lavfi", "-i", f"testsrc=d=6:s=160x120:r={FPS}", "-f", "lavfi", "-i", "sine=d=6:r=48000"]
    # the encoder's defaults (B-frames, a keyframe a second) and one without B-frames
    _ffmpeg(*video, "-c:v", "libx264", "-g", str(FPS), "-c:a", "aac", str(root / "bframes.mp4"))
    _ffmpeg(*video, "-c:v", "libx264", "-bf", "0", "-g", str(FPS), "-c:a", "aac", str(root / "plain.mp4"))
    return {p.name: p for p in root.iterdir()}


@pytest.mark.parametrize("name", ["noise.wav", "noise.flac"])
@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_a_trimmed_pcm_file_holds_the_sources_samples_at_those_offsets(sources, tmp_path, name, suffix):
    source = sources[name]
    before = _digest(source)
    start, end = 1.2345, 3.5
    clip = write_clip(source, start, end, tmp_path / f"clip{suffix}")
    assert clip.method == SAMPLE_ACCURATE
    original, rate = sf.read(source, dtype="int32")
    cut, cut_rate = sf.read(clip.out, dtype="int32")
    assert cut_rate == rate == RATE
    first, last = round(start * RATE), round(end * RATE)  # arithmetic by hand: offsets in samples
    np.testing.assert_array_equal(cut, original[first:last])
    assert sf.info(clip.out).subtype == "PCM_24"
    assert str(source.resolve()) in sf.SoundFile(clip.out).comment  # where it came from
    assert _digest(source) == before


def _decoded(path: str) -> tuple[float, int, int]:
    """(container duration s, video frames decoded, audio frames decoded): decoding every packet."""
    with av.open(path) as container:
        counts = {"video": 0, "audio": 0}
        for frame in container.decode(*container.streams):
            counts["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
        return container.duration / av.time_base, counts["video"], counts["audio"]


@pytest.mark.parametrize(
    ("name", "start", "end", "method"),
    [
        ("plain.mp4", 1.0, 3.0, STREAM_COPY),  # on a keyframe (one every second)
        ("plain.mp4", 1.3, 3.1, REENCODE),  # between keyframes
        ("bframes.mp4", 2.0, 4.0, REENCODE),  # B-frames: never packet-cut
    ],
)
def test_a_trimmed_mp4_lasts_the_span_within_a_frame_and_decodes(sources, tmp_path, name, start, end, method):
    source = sources[name]
    before = _digest(source)
    clip = write_clip(source, start, end, tmp_path / "clip.mp4")
    assert clip.method == method
    duration, video_frames, audio_frames = _decoded(clip.out)
    assert abs(duration - (end - start)) <= 1 / FPS + 1e-6
    assert abs(video_frames - (end - start) * FPS) <= 1
    assert audio_frames > 0
    with av.open(clip.out) as container:
        assert str(source.resolve()) in container.metadata.get("comment", "")
        assert float(container.metadata["pe_search_start"]) == pytest.approx(start)
    assert _digest(source) == before


def test_the_audio_of_a_video_as_wav_is_cut_to_the_sample(sources, tmp_path):
    clip = write_clip(sources["plain.mp4"], 1.5, 2.25, tmp_path / "sound.wav")
    info = sf.info(clip.out)
    assert info.samplerate == 48_000 and info.frames == round(0.75 * 48_000)


def test_a_span_past_the_end_is_clamped_and_said(sources, tmp_path):
    clip = write_clip(sources["noise.wav"], 4.0, 9.0, tmp_path / "tail.wav")
    assert clip.end == pytest.approx(5.0) and "clamped" in clip.note
    assert sf.info(clip.out).frames == RATE  # the last second, arithmetic by hand


def test_handles_widen_the_span_inside_the_file():
    assert clip_span(10.0, 2.0, 3.0, 0.5) == (1.5, 3.5, None)
    low, high, note = clip_span(10.0, 0.2, 9.9, 0.5)
    assert (low, high) == (0.0, 10.0) and "end" in note and "start" in note


def test_mistakes_refuse_and_leave_everything_as_it_was(sources, tmp_path):
    source = sources["noise.wav"]
    before = _digest(source)
    out = tmp_path / "clip.wav"
    out.write_bytes(b"mine")
    with pytest.raises(PeSearchError, match="exists"):
        write_clip(source, 1.0, 2.0, out)
    assert out.read_bytes() == b"mine"
    assert write_clip(source, 1.0, 2.0, out, force=True).method == SAMPLE_ACCURATE
    copy = tmp_path / "copy.wav"
    shutil.copy(source, copy)
    with pytest.raises(PeSearchError, match="own source"):
        write_clip(copy, 1.0, 2.0, copy, force=True)
    with pytest.raises(PeSearchError, match="empty"):
        write_clip(source, 2.0, 2.0, tmp_path / "zero.wav")
    with pytest.raises(PeSearchError, match="past the file's end"):
        write_clip(source, 6.0, 7.0, tmp_path / "late.wav")
    (tmp_path / "folder.wav").mkdir()
    with pytest.raises(PeSearchError, match="is a folder"):
        write_clip(source, 1.0, 2.0, tmp_path / "folder.wav", force=True)
    assert _digest(source) == before and _digest(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip.wav",
        "copy.wav",
        "folder.wav",
    ]  # no leftovers


def test_cli_clip_writes_and_says_it_in_json(sources, tmp_path):
    out = tmp_path / "cli.mp4"
    args = ["clip", str(sources["plain.mp4"]), "1", "9", "-o", str(out), "--library", str(tmp_path / "none")]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (
        report["method"] == STREAM_COPY
        and report["end"] == pytest.approx(6.0)
        and "clamped" in report["note"]
    )
    again = CliRunner().invoke(cli, [*args, "--json"])
    assert again.exit_code == 1 and "--force" in json.loads(again.stdout)["error"]
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.output


def test_search_and_locate_write_each_results_clip(demo, tmp_path):
    folder = tmp_path / "clips"
    result = CliRunner().invoke(
        cli, ["locate", "a rising chirp", "--library", demo.library, "--clips", str(folder), "--handles", "0.25", "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spans = json.loads(result.stdout)
    assert spans and all("clip" in s for s in spans)
    for span in spans:
        clip = span["clip"]
        assert clip["start"] == pytest.approx(max(span["start"] - 0.25, 0.0))
        with (
            sf.SoundFile(clip["out"])
            if clip["out"].endswith((".wav", ".flac"))
            else av.open(clip["out"]) as f
        ):
            assert f is not None
    found = CliRunner().invoke(
        cli, ["search", "a low tone", "-k", "2", "--library", demo.library, "--clips", str(folder)]
    )
    assert found.exit_code == 0, found.output
    assert found.stderr.count("clip: ") == 2
    assert len(list(folder.iterdir())) == len(spans) + 2
