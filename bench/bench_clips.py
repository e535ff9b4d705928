"""Benchmark trimmed-clip writing (issue 22): media seconds written per second of wall time, for
each way a clip is cut: PCM sample cut (soundfile), stream copy (the cut on a keyframe) and
re-encode (between keyframes).

    .venv/bin/python bench/bench_clips.py                 # 60 s sources, 10 clips of 10 s each way
    .venv/bin/python bench/bench_clips.py --seconds 600 --span 30 --clips 20 --json

Sources are made with Debian's ffmpeg: a 48 kHz stereo 24-bit WAV, and a 1280x720 25 fps H.264 +
AAC mp4 with a keyframe every second and no B-frames (so a cut on a whole second is stream-copied;
a cut a third of a second later is re-encoded with libx264). Each clip's span starts at a new
offset; the figure is the sum of the clips' durations over the wall time of writing them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pe_search.media.trim import write_clip  # noqa: E402


def make_sources(folder: Path, seconds: float) -> dict[str, Path]:
    def ffmpeg(*args: str) -> None:
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)

    wav, mp4 = folder / "take.wav", folder / "take.mp4"
    ffmpeg("-f", "lavfi", "-i", f"anoisesrc=d={seconds}:r=48000", "-ac", "2", "-c:a", "pcm_s24le", str(wav))
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=d={seconds}:s=1280x720:r=25", "-f", "lavfi", "-i",
        f"sine=d={seconds}:r=48000", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "25",
        "-c:a", "aac", str(mp4),
    )  # fmt: skip
    return {"wav": wav, "mp4": mp4}


def run(source: Path, suffix: str, offsets: list[float], span: float, out: Path) -> dict:
    methods, written = set(), 0.0
    began = time.perf_counter()
    for index, start in enumerate(offsets):
        clip = write_clip(source, start, start + span, out / f"clip-{index}{suffix}", force=True)
        methods.add(clip.method)
        written += clip.duration
    wall = time.perf_counter() - began
    return {"method": "/".join(sorted(methods)), "clips": len(offsets), "media_seconds": round(written, 3),
            "wall_seconds": round(wall, 3), "media_seconds_per_second": round(written / wall, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each source")
    parser.add_argument("--span", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--clips", type=int, default=10, help="clips per way")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as temporary:
        folder = Path(temporary)
        sources = make_sources(folder, args.seconds)
        last = args.seconds - args.span - 1
        whole = [float(int(i * last / max(args.clips - 1, 1))) for i in range(args.clips)]  # on keyframes
        between = [t + 1 / 3 for t in whole]  # a third of a second after: not on a keyframe
        results = {
            "wav sample cut": run(sources["wav"], ".wav", between, args.span, folder),
            "mp4 stream copy": run(sources["mp4"], ".mp4", whole, args.span, folder),
            "mp4 re-encode": run(sources["mp4"], ".mp4", between, args.span, folder),
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'way':<18} {'method':<12} {'clips':>5} {'media s':>8} {'wall s':>7} {'media s / s':>11}")
    for name, r in results.items():
        print(f"{name:<18} {r['method']:<12} {r['clips']:>5} {r['media_seconds']:>8.1f} {r['wall_seconds']:>7.2f} "
              f"{r['media_seconds_per_second']:>11.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
