"""A corpus of odd and broken media, generated at test time with Debian's `ffmpeg` command (an
encoder independent of the PyAV that reads them) and a few byte-level edits, each with what the
indexer must make of it: indexed, partial (indexed for what decodes, with the reason) or failed
(with the reason); files that are not audio or video are ignored.

    python tests/odd_media.py   # index the corpus with the toy model and print the table (docs/reliability.md)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

SECONDS = "1.2"
SIZE = "32x24"


@dataclass(frozen=True)
class Kind:
    name: str  # the file name in the corpus folder
    what: str  # what it is, for the table
    make: Callable[[Path], None]
    status: str  # indexed, partial, failed or ignored
    reason: str = ""  # a part of the recorded reason (partial, failed, ignored)


def ffmpeg(*args: str) -> Callable[[Path], None]:
    """A file made by the ffmpeg command from lavfi test sources: `args` go before the output."""

    def make(path: Path) -> None:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)],
            check=True,
        )

    return make


def tone(rate: int = 48_000, channels: int = 1) -> list[str]:
    layout = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}[channels]
    return ["-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}:r={rate},aformat=channel_layouts={layout}"]


def picture(size: str = SIZE, rate: str = "10") -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:d={SECONDS}"]


def av(size: str = SIZE) -> list[str]:
    """Footage with a sound track."""
    return [*picture(size), *tone(), "-shortest"]


def truncated(make: Callable[[Path], None], keep: float, suffix: str) -> Callable[[Path], None]:
    def cut(path: Path) -> None:
        whole = path.with_name(path.name + ".whole" + suffix)
        make(whole)
        data = whole.read_bytes()
        whole.unlink()
        path.write_bytes(data[: int(len(data) * keep)])

    return cut


def corrupted(make: Callable[[Path], None], suffix: str, seed: int, spots: int = 5) -> Callable[[Path], None]:
    """Bytes overwritten at `spots` places in the middle half (packet data, past the headers)."""

    def damage(path: Path) -> None:
        whole = path.with_name(path.name + ".whole" + suffix)
        make(whole)
        data = bytearray(whole.read_bytes())
        whole.unlink()
        rng = np.random.default_rng(seed)
        for offset in rng.integers(len(data) // 4, 3 * len(data) // 4, spots):
            data[offset : offset + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(data))

    return damage


def float_wav(values: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        t = np.arange(int(48_000 * float(SECONDS))) / 48_000
        signal = values(0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        soundfile.write(path, signal, 48_000, subtype="FLOAT")

    return make


def with_nans(signal: np.ndarray) -> np.ndarray:
    signal = signal.copy()
    signal[1000:1100] = np.nan
    signal[5000] = np.inf
    return signal


def all_inf(signal: np.ndarray) -> np.ndarray:
    return np.full_like(signal, np.inf)


def unknown_codec(path: Path) -> None:
    from testkit import media

    media.unknown_codec_wav(path)


def text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content)


def random_bytes(size: int, seed: int) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(
        np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes()
    )


def link(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


def vfr_video(path: Path) -> None:
    from testkit import media

    frames = [(media.solid_frame(i % 5, 32, 24), t) for i, t in enumerate(media.VFR_TIMES[:12])]
    media.write_video(path, frames, audio=media.tone(330, 1.3, 48_000))


def rotated(path: Path) -> None:
    plain = path.with_name("plain-" + path.name)
    ffmpeg(*av(), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")(plain)
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v", "rotate=90")(path)
    plain.unlink()


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
FASTSTART_MP4 = ffmpeg(*av(), *H264, "-c:a", "aac", "-movflags", "+faststart")

KINDS: list[Kind] = [
    # -- audio: rates, channels, sample formats, containers and codecs
    Kind("s16-8k.wav", "WAV s16 8 kHz mono", ffmpeg(*tone(8000), "-c:a", "pcm_s16le"), "indexed"),
    Kind(
        "s24-96k-stereo.wav", "WAV s24 96 kHz stereo", ffmpeg(*tone(96000, 2), "-c:a", "pcm_s24le"), "indexed"
    ),
    Kind("f32-192k.wav", "WAV float 192 kHz", ffmpeg(*tone(192000), "-c:a", "pcm_f32le"), "indexed"),
    Kind("u8-11k.wav", "WAV u8 11.025 kHz", ffmpeg(*tone(11025), "-c:a", "pcm_u8"), "indexed"),
    Kind("mulaw-8k.wav", "WAV mu-law 8 kHz", ffmpeg(*tone(8000), "-c:a", "pcm_mulaw"), "indexed"),
    Kind("alaw-8k.wav", "WAV A-law 8 kHz", ffmpeg(*tone(8000), "-c:a", "pcm_alaw"), "indexed"),
    Kind("s32-5.1.wav", "WAV s32 48 kHz 6 channels", ffmpeg(*tone(48000, 6), "-c:a", "pcm_s32le"), "indexed"),
    Kind(
        "s16-7.1.wav", "WAV s16 44.1 kHz 8 channels", ffmpeg(*tone(44100, 8), "-c:a", "pcm_s16le"), "indexed"
    ),
    Kind(
        "ima-adpcm.wav", "WAV IMA ADPCM 22.05 kHz", ffmpeg(*tone(22050), "-c:a", "adpcm_ima_wav"), "indexed"
    ),
    Kind("mulaw.au", "Sun .au mu-law", ffmpeg(*tone(8000), "-c:a", "pcm_mulaw"), "indexed"),
    Kind("s16be.aiff", "AIFF s16 big-endian", ffmpeg(*tone(44100), "-c:a", "pcm_s16be"), "indexed"),
    Kind(
        "s24-88k.flac",
        "FLAC 24-bit 88.2 kHz",
        ffmpeg(*tone(88200), "-sample_fmt", "s32", "-c:a", "flac"),
        "indexed",
    ),
    Kind("22k.mp3", "MP3 22.05 kHz", ffmpeg(*tone(22050), "-c:a", "libmp3lame"), "indexed"),
    Kind("aac.m4a", "AAC in MP4 (m4a)", ffmpeg(*tone(44100), "-c:a", "aac"), "indexed"),
    Kind("adts.aac", "raw AAC (ADTS)", ffmpeg(*tone(44100), "-c:a", "aac"), "indexed"),
    Kind("vorbis.ogg", "Vorbis in Ogg", ffmpeg(*tone(44100, 2), "-c:a", "libvorbis"), "indexed"),
    Kind("opus.opus", "Opus in Ogg", ffmpeg(*tone(48000), "-c:a", "libopus"), "indexed"),
    Kind("raw.ac3", "raw AC-3", ffmpeg(*tone(48000, 6), "-c:a", "ac3"), "indexed"),
    Kind("raw.eac3", "raw E-AC-3", ffmpeg(*tone(48000, 2), "-c:a", "eac3"), "indexed"),
    Kind("wma2.wma", "WMA v2 in ASF", ffmpeg(*tone(44100, 2), "-c:a", "wmav2"), "indexed"),
    Kind("layer2.mp2", "MPEG audio layer 2", ffmpeg(*tone(48000, 2), "-c:a", "mp2"), "indexed"),
    Kind("alac.caf", "ALAC in CAF", ffmpeg(*tone(44100), "-c:a", "alac"), "indexed"),
    Kind("flac.mka", "FLAC in Matroska audio", ffmpeg(*tone(16000), "-c:a", "flac"), "indexed"),
    Kind(
        "wav-named.dat",
        "WAV under an odd extension",
        ffmpeg(*tone(16000), "-c:a", "pcm_s16le", "-f", "wav"),
        "indexed",
    ),
    Kind(
        "mpegts-named.bin",
        "MPEG-TS (h264+aac) under .bin",
        ffmpeg(*av(), *H264, "-c:a", "aac", "-f", "mpegts"),
        "indexed",
    ),
    Kind(
        "cover-art.mp3",
        "MP3 with cover art",
        ffmpeg(
            *tone(44100),
            *picture("64x64", "1"),
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-frames:v",
            "1",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "mjpeg",
            "-disposition:v",
            "attached_pic",
        ),
        "indexed",
    ),
    # -- video
    Kind("h264-aac.mp4", "H.264 + AAC in MP4", ffmpeg(*av(), *H264, "-c:a", "aac"), "indexed"),
    Kind(
        "vp9-opus.webm",
        "VP9 + Opus in WebM",
        ffmpeg(*av(), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"),
        "indexed",
    ),
    Kind(
        "hevc-flac.mkv",
        "HEVC + FLAC in Matroska",
        ffmpeg(
            *av(),
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
            "-c:a",
            "flac",
        ),
        "indexed",
    ),
    Kind(
        "prores-pcm.mov",
        "ProRes + PCM in QuickTime",
        ffmpeg(*av(), "-c:v", "prores_ks", "-c:a", "pcm_s16le"),
        "indexed",
    ),
    Kind(
        "mpeg2-mp2.mpg",
        "MPEG-2 + MP2 program stream",
        ffmpeg(*av(), "-c:v", "mpeg2video", "-c:a", "mp2"),
        "indexed",
    ),
    Kind(
        "flv1-mp3.flv",
        "Sorenson FLV + MP3",
        ffmpeg(*av(), "-c:v", "flv", "-c:a", "libmp3lame", "-ar", "44100"),
        "indexed",
    ),
    Kind(
        "theora-vorbis.ogv",
        "Theora + Vorbis in Ogg",
        ffmpeg(*av(), "-c:v", "libtheora", "-c:a", "libvorbis"),
        "indexed",
    ),
    Kind(
        "mpeg4-mp3.avi",
        "MPEG-4 part 2 + MP3 in AVI",
        ffmpeg(*av(), "-c:v", "mpeg4", "-c:a", "libmp3lame"),
        "indexed",
    ),
    Kind("wmv2-wma.wmv", "WMV 8 + WMA in ASF", ffmpeg(*av(), "-c:v", "wmv2", "-c:a", "wmav2"), "indexed"),
    Kind("h264-aac.ts", "H.264 + AAC in MPEG-TS", ffmpeg(*av(), *H264, "-c:a", "aac"), "indexed"),
    Kind(
        "odd-33x17.mkv",
        "FFV1 at an odd size (33x17)",
        ffmpeg(*av("33x17"), "-c:v", "ffv1", "-c:a", "flac"),
        "indexed",
    ),
    Kind(
        "silent-vp8.webm",
        "VP8 without sound",
        ffmpeg(*picture(), "-c:v", "libvpx", "-deadline", "realtime"),
        "indexed",
    ),
    Kind("rotated-90.mp4", "H.264 with a 90 degree display matrix", rotated, "indexed"),
    Kind("vfr.mp4", "variable frame rate H.264", vfr_video, "indexed"),
    Kind("faststart.mp4", "MP4 with its index first", FASTSTART_MP4, "indexed"),
    Kind("café ♪ 日本.wav", "a unicode file name", ffmpeg(*tone(), "-c:a", "pcm_s16le"), "indexed"),
    Kind("two\nlines.wav", "a newline in the file name", ffmpeg(*tone(), "-c:a", "pcm_s16le"), "indexed"),
    Kind("link-to-good.wav", "a symbolic link to a good file", link("s16-8k.wav"), "indexed"),
    # -- decodes in part
    Kind(
        "cut-50.wav",
        "WAV cut at 50%",
        truncated(ffmpeg(*tone(), "-c:a", "pcm_s16le"), 0.5, ".wav"),
        "partial",
        "truncated: the WAV data chunk",
    ),
    Kind(
        "cut-60.flac",
        "FLAC cut at 60%",
        truncated(ffmpeg(*tone(), "-c:a", "flac"), 0.6, ".flac"),
        "partial",
        "truncated: audio stops at",
    ),
    Kind(
        "cut-70.mkv",
        "Matroska cut at 70%",
        truncated(ffmpeg(*av(), *H264, "-c:a", "flac"), 0.7, ".mkv"),
        "partial",
        "truncated: the Matroska segment",
    ),
    Kind(
        "cut-60-faststart.mp4",
        "MP4 (index first) cut at 60%",
        truncated(FASTSTART_MP4, 0.6, ".mp4"),
        "partial",
        "truncated: the 'mdat' box",
    ),
    Kind(
        "corrupt-aac.m4a",
        "AAC in MP4 with corrupt packets",
        corrupted(ffmpeg(*tone(48000), "-t", "4", "-c:a", "aac"), ".m4a", seed=1),
        "partial",
        "corrupt audio packet",
    ),
    Kind(
        "nan-samples.wav",
        "float WAV with NaN and Inf samples",
        float_wav(with_nans),
        "partial",
        "101 NaN or infinite audio samples replaced by silence",
    ),
    # -- fails whole, with the reason
    Kind(
        "cut-50.mp4",
        "MP4 (index last) cut at 50%",
        truncated(ffmpeg(*av(), *H264, "-c:a", "aac"), 0.5, ".mp4"),
        "failed",
        "truncated: the 'mdat' box",
    ),
    Kind(
        "inf-samples.wav",
        "float WAV of Inf samples only",
        float_wav(all_inf),
        "failed",
        "every audio sample is NaN or infinite",
    ),
    Kind("empty.wav", "an empty file named .wav", text(""), "failed", "empty file (0 bytes)"),
    Kind(
        "text.mp4",
        "text named .mp4",
        text("this is not a video\n"),
        "failed",
        "not a media file (it contains text)",
    ),
    Kind(
        "noise.m4a",
        "random bytes named .m4a",
        random_bytes(4000, 3),
        "failed",
        "not a media file FFmpeg can read",
    ),
    Kind(
        "unknown-codec.wav",
        "WAV with a format tag no decoder knows",
        unknown_codec,
        "failed",
        "unsupported audio codec",
    ),
    Kind(
        "dangling.wav",
        "a symbolic link to a missing file",
        link("gone.wav"),
        "failed",
        "dangling symbolic link",
    ),
    Kind("loop-a.mp3", "a symbolic link loop", link("loop-b.mp3"), "failed", "symbolic link loop"),
    Kind("loop-b.mp3", "the loop's other half", link("loop-a.mp3"), "failed", "symbolic link loop"),
    # -- not audio or video
    Kind("notes.txt", "a text file", text("shopping list\n"), "ignored", "text"),
    Kind(
        "picture.png",
        "a PNG picture",
        ffmpeg(*picture("16x16", "1"), "-frames:v", "1"),
        "ignored",
        "a PNG image",
    ),
    Kind(
        "blob.bin",
        "random bytes, no extension FFmpeg knows",
        random_bytes(5000, 4),
        "ignored",
        "not audio or video",
    ),
]


def make_corpus(folder: Path) -> dict[str, Kind]:
    """Write every kind into `folder`; returns {absolute path: kind}."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for kind in KINDS:
        path = folder / kind.name
        kind.make(path)
        made[str(path)] = kind
    return made


def corpus_table(folder: Path, library: Path) -> list[tuple[Kind, str, str]]:
    """Index the corpus with the toy model in one run; (kind, status, reason) per file, as the
    library recorded them."""
    from click.testing import CliRunner

    from pe_search.cli.main import cli
    from pe_search.store import LibraryStore

    made = make_corpus(folder)
    result = CliRunner().invoke(
        cli,
        [
            "index",
            str(folder),
            "--library",
            str(library),
            "--model",
            "toy",
            "--no-frames",
            "--workers",
            "0",
            "--json",
        ],
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    with LibraryStore.open(library, readonly=True) as store:
        rows = {m.path: m for m in store.iter_media()}
    table = []
    for path, kind in made.items():
        row = rows.get(path)
        table.append((kind, row.status if row else "missing", (row.error or "") if row else ""))
    return table


def markdown(table: list[tuple[Kind, str, str]]) -> str:
    lines = ["| file | what | recorded | reason |", "|---|---|---|---|"]
    for kind, status, reason in table:
        name = kind.name.replace("\n", "\\n")
        lines.append(f"| `{name}` | {kind.what} | {status} | {reason.replace('|', '/')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: testkit
    with tempfile.TemporaryDirectory() as temp:
        print(markdown(corpus_table(Path(temp) / "corpus", Path(temp) / "library")))
