"""Benchmark frame vectors at library scale: blocks (sq8, the default; pq; f32) against today's format.

    .venv/bin/python bench/bench_frames.py --hours 10 100 --baseline-hours 0.5 --pq-hours 3
    .venv/bin/python bench/bench_frames.py --hours 2 --baseline-hours 0.25 --pq-hours 1   # quick

Simulated hours of media: 10-minute audio files, 30 s windows every 15 s (one 1024-d `audio` clip
vector each), 40 ms audio frames (25 per second, 1024-d, `audio_frame`), pushed through the real
writing stage (`indexer.write.write_file`, one transaction per file) and queried through the real
query engine (`QueryEngine.locate`, coarse-to-fine). Frames follow sound events: each file is a
sequence of events (a few seconds to a minute each) drawn from 400 event types; a frame is its
event's unit direction plus noise (fading linearly into the next event's over 0.48 s, so frames
at span edges cross the threshold gradually, as a real model's do), and a window's clip vector is
the mean of its frames plus noise. Queries are event directions.

One run prints, per simulated size and code: disk per hour of media (everything in the library
folder), SQLite rows per hour, frames written per second (time inside the writing stage only),
peak resident memory while indexing; then library-wide locate p50 at the largest size, locate
inside one 2-hour file, and for each code the share of spans identical to float32's and of span
edges within one frame of float32's; for sq8 also with the frames it cannot decide re-encoded (the
simulation hands back the file's float32 frames, as re-encoding its chunk would) and how many
frames and 30 s chunks per query that costs. The baseline is today's format (a row per frame,
SPACE.f32 and a FAISS index of frames) written by the previous writing stage at `--baseline-hours` and
scaled per hour.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.encode import EncodedChunk, EncodedWindow  # noqa: E402
from indexer.reader import FileJob  # noqa: E402
from indexer.write import EncodedFile, write_file  # noqa: E402
from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.models.spaces import Calibration  # noqa: E402
from pe_search.query.engine import QueryEngine, QueryVectors  # noqa: E402
from pe_search.query.spans import frames_to_spans  # noqa: E402
from pe_search.store import LibraryStore  # noqa: E402

DIM = 1024
FRAME_SECONDS = 0.04
WINDOW, HOP, CHUNK = 30.0, 15.0, 30.0
EVENT_TYPES = 400
NOISE = 0.6  # per-frame noise norm against a unit event direction
RAMP = 12  # frames (0.48 s) over which one event fades into the next, so span edges are gradual
CALIBRATION = {"text_audio": (10.0, -5.0), "text_audio_frame": (12.0, -6.0)}
THRESHOLD = 0.3


class World:
    """Deterministic simulated media: event directions, and each file's frames from its seed."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        directions = rng.standard_normal((EVENT_TYPES, DIM)).astype(np.float32)
        self.directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        noise = rng.standard_normal((1 << 15, DIM)).astype(np.float32)
        self.noise = noise * (NOISE / np.sqrt(DIM))

    def frames(self, file_seed: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """(event label per frame, frames float32 [n, DIM]) of one file."""
        rng = np.random.default_rng([file_seed, 1])
        count = int(round(seconds / FRAME_SECONDS))
        labels = np.empty(count, dtype=np.int64)
        at = 0
        while at < count:
            length = int(rng.integers(75, 1500))  # 3 s .. 60 s
            labels[at : at + length] = rng.integers(0, EVENT_TYPES)
            at += length
        start = int(rng.integers(0, len(self.noise) - 1))
        rows = (start + np.arange(count)) % len(self.noise)
        frames = self.directions[labels] * 0.8
        for edge in np.flatnonzero(np.diff(labels)) + 1:  # one event fades into the next
            lo, hi = max(0, edge - RAMP // 2), min(count, edge + RAMP // 2)
            share = ((np.arange(lo, hi) - (edge - RAMP / 2) + 0.5) / RAMP)[:, None]
            frames[lo:hi] = 0.8 * (
                (1 - share) * self.directions[labels[edge - 1]] + share * self.directions[labels[edge]]
            )
        frames += self.noise[rows]
        return labels, frames.astype(np.float32)

    def encoded(self, file_seed: int, seconds: float) -> tuple[EncodedFile, np.ndarray, np.ndarray]:
        labels, frames = self.frames(file_seed, seconds)
        path = f"/sim/{file_seed:06d}.wav"
        job = FileJob(path=path, size=int(seconds * 96_000), mtime=1.0, content_hash=f"sim:{file_seed}")
        windows = []
        start, index = 0.0, 0
        rng = np.random.default_rng([file_seed, 2])
        while start < seconds:
            end = min(start + WINDOW, seconds)
            part = frames[int(start / FRAME_SECONDS) : int(end / FRAME_SECONDS)]
            clip = part.mean(0) + rng.standard_normal(DIM).astype(np.float32) * (0.2 / np.sqrt(DIM))
            windows.append(EncodedWindow(path, index, start, end, {"audio": clip.astype(np.float32)}))
            if end >= seconds:
                break
            start, index = start + HOP, index + 1
        per_chunk = int(CHUNK / FRAME_SECONDS)
        chunks = [
            EncodedChunk(path, i * CHUNK, frames[i * per_chunk : (i + 1) * per_chunk])
            for i in range((len(frames) + per_chunk - 1) // per_chunk)
        ]
        encoded = EncodedFile(job, True, False, seconds, windows=windows, chunks=chunks)
        return encoded, labels, frames


def identity() -> ModelIdentity:
    return ModelIdentity(
        model_ids=("sim/pe-av", "sim/pe-a-frame"),
        config_hash="c" * 64,
        weights_hash="w" * 64,
        dim=DIM,
        calibration=CALIBRATION,
    )


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def sqlite_rows(folder: Path) -> int:
    db = sqlite3.connect(folder / "library.db")
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    rows = sum(db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables)
    db.close()
    return rows


def build(world: World, folder: Path, hours: float, writer, codes: str, file_minutes: float) -> dict:
    """Write `hours` of simulated media; returns the figures of the run."""
    files = max(1, int(round(hours * 60 / file_minutes)))
    seconds = file_minutes * 60
    store = LibraryStore.open(folder, identity())
    write_time, frames, peak, started = 0.0, 0, rss_mb(), time.perf_counter()
    for number in range(files):
        encoded, _, file_frames = world.encoded(number, seconds)
        began = time.perf_counter()
        writer(store, encoded, FRAME_SECONDS, codes)
        write_time += time.perf_counter() - began
        frames += len(file_frames)
        peak = max(peak, rss_mb())
        if (number + 1) % max(1, files // 10) == 0:
            logging.info(
                "%s: %d/%d files, %.0f frames/s", folder.name, number + 1, files, frames / write_time
            )
    began = time.perf_counter()
    store.close()  # saves the indexes: part of writing
    write_time += time.perf_counter() - began
    media_hours = files * seconds / 3600
    return {
        "hours": media_hours,
        "files": files,
        "frames": frames,
        "disk_mb_per_hour": disk_bytes(folder) / 1e6 / media_hours,
        "sqlite_rows_per_hour": sqlite_rows(folder) / media_hours,
        "frames_per_second": frames / write_time,
        "peak_rss_mb": peak,
        "seconds": time.perf_counter() - started,
    }


def float32_spans(frames: np.ndarray, seconds: float, query: np.ndarray) -> list[tuple[float, float]]:
    starts = np.arange(len(frames)) * FRAME_SECONDS
    ends = np.minimum(starts + FRAME_SECONDS, seconds)
    probabilities = Calibration(*CALIBRATION["text_audio_frame"]).probability(frames @ query)
    return [
        (round(s.start, 6), round(s.end, 6)) for s in frames_to_spans(starts, ends, probabilities, THRESHOLD)
    ]


class SimulatedReencoding:
    """The query layer's `exact` callback for simulated files: what re-encoding a chunk would give
    (the file's float32 frames), counting the frames and 30 s chunks it is asked for."""

    def __init__(self) -> None:
        self.file: np.ndarray | None = None  # float32 frames of the file being queried
        self.frames = self.chunks = 0

    def __call__(self, frames, positions: np.ndarray) -> np.ndarray:
        exact = self.file
        at = frames.first + positions
        self.frames += len(at)
        self.chunks += len(np.unique(at // int(CHUNK / FRAME_SECONDS)))
        return exact[at]


def span_agreement(world: World, folder: Path, files: int, seconds: float, per_file: int = 5) -> dict:
    """Spans inside each file from the library's code against float32 on the same frames: the code
    alone, and with the frames it cannot decide re-encoded (what `locate` does for sq8)."""
    counts = {"coded": [0, 0, 0, 0], "reencoded": [0, 0, 0, 0]}  # same spans, spans, close edges, edges
    reencoding = SimulatedReencoding()
    asked = 0
    with LibraryStore.open(folder, readonly=True) as store:
        engine = QueryEngine(store)
        for number in range(files):
            media = store.find_media(f"/sim/{number:06d}.wav")
            assert media.id == number + 1
            labels, reencoding.file = world.frames(number, seconds)
            queries = world.directions[np.unique(labels)[:per_file]]  # events the file holds
            asked += len(queries)
            for query in queries:
                exact = float32_spans(reencoding.file, seconds, query)
                for way, callback in (("coded", None), ("reencoded", reencoding)):
                    found = engine.locate(
                        query, THRESHOLD, media_id=media.id, path=media.path, exact=callback
                    )
                    got = [(round(s.start, 6), round(s.end, 6)) for s in found]
                    tally = counts[way]
                    tally[0] += len(set(exact) & set(got))
                    tally[1] += len(exact)
                    edges = np.array([e for span in got for e in span])
                    for edge in (e for span in exact for e in span):
                        tally[3] += 1
                        tally[2] += (
                            bool(edges.size) and float(np.min(np.abs(edges - edge))) <= FRAME_SECONDS + 1e-6
                        )
    asked = max(1, asked)
    return {
        "spans_identical_share": counts["coded"][0] / max(1, counts["coded"][1]),
        "span_edges_within_one_frame_share": counts["coded"][2] / max(1, counts["coded"][3]),
        "spans_identical_share_reencoded": counts["reencoded"][0] / max(1, counts["reencoded"][1]),
        "reencoded_frames_per_query": reencoding.frames / asked,
        "reencoded_chunks_per_query": reencoding.chunks / asked,
        "spans_compared": counts["coded"][1],
    }


def locate_timings(world: World, folder: Path, queries: np.ndarray, repeats: int) -> dict:
    """Library-wide locate, coarse-to-fine, through the query engine; p50 and p90 in ms."""
    timings = []
    with LibraryStore.open(folder, readonly=True) as store:
        engine = QueryEngine(store)
        for _ in range(repeats):
            for query in queries:

                def embed(name, q=query):
                    return q

                began = time.perf_counter()
                spans = engine.locate(
                    query,
                    THRESHOLD,
                    k=20,
                    clip_query=QueryVectors(embed, frozenset({"text"}), frozenset({"text_audio"})),
                )
                timings.append(time.perf_counter() - began)
        found = len(spans)
    timings_ms = np.array(timings) * 1000
    return {
        "locate_p50_ms": float(np.percentile(timings_ms, 50)),
        "locate_p90_ms": float(np.percentile(timings_ms, 90)),
        "spans_last_query": found,
    }


def locate_in_one_file(world: World, workdir: Path, hours: float, queries: np.ndarray, codes: str) -> dict:
    folder = workdir / f"one-file-{codes}"
    with LibraryStore.open(folder, identity()) as store:
        encoded, _, _ = world.encoded(999_999, hours * 3600)
        write_file(store, encoded, FRAME_SECONDS, codes)
    timings = []
    with LibraryStore.open(folder, readonly=True) as store:
        engine = QueryEngine(store)
        media = store.find_media(encoded.job.path)
        for query in list(queries) * 3:
            began = time.perf_counter()
            engine.locate(query, THRESHOLD, media_id=media.id, path=media.path)
            timings.append(time.perf_counter() - began)
    shutil.rmtree(folder)
    return {
        "in_file_hours": hours,
        "in_file_locate_p50_ms": float(np.percentile(np.array(timings) * 1000, 50)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, nargs="+", default=[10.0, 100.0], help="simulated sizes (sq8)")
    parser.add_argument("--baseline-hours", type=float, default=1.0, help="today's format, scaled per hour")
    parser.add_argument("--pq-hours", type=float, default=10.0, help="the compact code's library")
    parser.add_argument("--f32-hours", type=float, default=1.0, help="float32 blocks (--frame-codes f32)")
    parser.add_argument("--file-minutes", type=float, default=10.0)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument(
        "--span-files", type=int, default=6, help="files whose spans are compared with float32"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("pe_search").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="bench-frames-", dir=args.workdir))
    world = World()
    queries = world.directions[: args.queries]
    seconds = args.file_minutes * 60
    report: dict = {"file_minutes": args.file_minutes, "runs": {}}
    try:
        from testkit.legacy_frames import write_file_legacy

        logging.info("baseline: today's format, %.1f h", args.baseline_hours)
        report["runs"]["today"] = build(
            world, workdir / "today", args.baseline_hours, write_file_legacy, "sq8", args.file_minutes
        )
        shutil.rmtree(workdir / "today")
        logging.info("compact code: pq, %.1f h", args.pq_hours)
        pq_folder = workdir / "pq"
        report["runs"]["pq"] = build(world, pq_folder, args.pq_hours, write_file, "pq", args.file_minutes)
        files = min(args.span_files, report["runs"]["pq"]["files"])
        report["runs"]["pq"].update(span_agreement(world, pq_folder, files, seconds))
        shutil.rmtree(pq_folder)
        if args.f32_hours > 0:
            logging.info("float32 blocks, %.1f h", args.f32_hours)
            report["runs"]["f32"] = build(
                world, workdir / "f32", args.f32_hours, write_file, "f32", args.file_minutes
            )
            shutil.rmtree(workdir / "f32")
        for hours in args.hours:
            logging.info("blocks: sq8, %.1f h", hours)
            folder = workdir / f"sq8-{hours:g}h"
            run = build(world, folder, hours, write_file, "sq8", args.file_minutes)
            if hours == max(args.hours):
                run.update(span_agreement(world, folder, min(args.span_files, run["files"]), seconds))
                run.update(locate_timings(world, folder, queries, repeats=2))
            report["runs"][f"sq8-{hours:g}h"] = run
            shutil.rmtree(folder)
        report["in_file"] = locate_in_one_file(world, workdir, 2.0, queries[:5], "sq8")
        report["in_file_pq"] = locate_in_one_file(world, workdir, 2.0, queries[:5], "pq")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"simulated {args.file_minutes:g}-minute audio files, 30 s windows / 15 s hop, 25 frames/s, d={DIM}"
    )
    print(f"{'run':<12} {'hours':>6} {'MB/h':>8} {'rows/h':>9} {'frames/s':>9} {'peak RSS MB':>11}")
    for name, run in report["runs"].items():
        print(
            f"{name:<12} {run['hours']:>6.1f} {run['disk_mb_per_hour']:>8.1f} {run['sqlite_rows_per_hour']:>9.0f} "
            f"{run['frames_per_second']:>9.0f} {run['peak_rss_mb']:>11.0f}"
        )
    for name, run in report["runs"].items():
        if "locate_p50_ms" in run:
            print(
                f"{name}: library-wide locate p50 {run['locate_p50_ms']:.1f} ms, p90 {run['locate_p90_ms']:.1f} ms"
            )
        if "spans_identical_share" in run:
            print(
                f"{name}: spans identical to float32 {run['spans_identical_share']:.3f}, span edges within "
                f"one frame {run['span_edges_within_one_frame_share']:.3f} ({run['spans_compared']} spans)"
            )
            if name.startswith("sq8"):
                print(
                    f"{name}: with the undecided frames re-encoded: spans identical "
                    f"{run['spans_identical_share_reencoded']:.3f}, re-encoded per query "
                    f"{run['reencoded_frames_per_query']:.2f} frames in {run['reencoded_chunks_per_query']:.2f} chunks"
                )
    for key in ("in_file", "in_file_pq"):
        print(
            f"locate inside one {report[key]['in_file_hours']:g}-hour file ({key}): p50 {report[key]['in_file_locate_p50_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
