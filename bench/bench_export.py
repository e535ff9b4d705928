"""Benchmark export (issue 22): seconds to write a 10,000-span spot list in each format.

    .venv/bin/python bench/bench_export.py --spans 10000 --files 20

The spans are spread over `--files` 60 s videos at 25 fps with a start timecode (made with ffmpeg,
so each file is real and has a timecode to read); .vtt and .srt hold one file's spans, so they get
all `--spans` spans in one file. Each format is written once through `export_results` (checks
against the files, timeline, adapter, atomic write), sequence layout, and timed on the wall clock.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from pe_search.export import FORMATS, FileFacts, export_results
from pe_search.media.timecode import read_timecode
from pe_search.query.results import LocatedSpan

SECONDS = 60.0


def _media(folder: Path, files: int) -> list[Path]:
    paths = []
    for index in range(files):
        path = folder / f"take{index:03d}.mp4"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
             "-t", str(SECONDS), "-timecode", f"{index % 24:02d}:00:00:00", "-c:v", "mpeg4", str(path)],
            check=True,
        )  # fmt: skip
        paths.append(path)
    return paths


def _spans(paths: list[Path], count: int, seed: int = 0) -> list[LocatedSpan]:
    random = np.random.default_rng(seed)
    timecodes = {path: read_timecode(path) for path in paths}
    spans = []
    for index in range(count):
        path = paths[index % len(paths)]
        start = float(random.uniform(0, SECONDS - 2))
        span = LocatedSpan(
            str(path), start, start + float(random.uniform(0.04, 2.0)), float(random.uniform(0.5, 1))
        )
        spans.append(dataclasses.replace(span, timecode=timecodes[path]))
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pe-search-bench-export-") as folder:
        root = Path(folder)
        paths = _media(root, args.files)
        facts = {str(path): FileFacts(SECONDS, "video") for path in paths}
        many, one = _spans(paths, args.spans), _spans(paths[:1], args.spans)
        print(f"| format ({args.spans:,} spans) | seconds | spans / s |")
        print("|---|---|---|")
        for chosen in FORMATS.values():
            spans = one if chosen.one_file else many
            started = time.perf_counter()
            export_results(spans, root / f"out{chosen.extension}", facts, query="door slam", force=True)
            seconds = time.perf_counter() - started
            print(f"| {chosen.extension} | {seconds:.2f} | {len(spans) / seconds:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
