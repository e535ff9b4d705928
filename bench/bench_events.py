"""Benchmark the event timeline of one long file: every label of a vocabulary over its frame block.

    .venv/bin/python bench/bench_events.py                  # a 2-hour file, 527 labels, sq8 and f32
    .venv/bin/python bench/bench_events.py --hours 0.25     # quick

One simulated file of `--hours` of 40 ms frames (25 a second, 1024-d) is written as one block per
frame code through the store's real writing path, as `bench_frames.py` does: the file is a
sequence of sound events (a few seconds to a minute each, each of one of the labels), a frame is
its event's unit direction plus noise, fading into the next event's over 0.48 s so span edges
cross the threshold gradually. The labels' text vectors are the event directions (the text tower
is not timed: its embeddings are computed once per model and vocabulary and kept).

Timed: `query.events.events_in_frames` on the block as a query reads it (memory-mapped), that is
the matrix product of all labels with every frame, the exactness rule, and the spans; best of
`--repeats`. For sq8 it runs twice: the code deciding alone, and with the frames it cannot decide
given back exactly (the simulation hands back the file's float32 frames, as re-encoding their
chunks would; that re-encoding's model time is not in the figure, and the count of frames and
30 s chunks it would cost is printed).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.models.spaces import Calibration  # noqa: E402
from pe_search.query.events import events_in_frames  # noqa: E402
from pe_search.store import LibraryStore, MediaRecord  # noqa: E402

DIM = 1024
FRAME_SECONDS = 0.04
CHUNK = 30.0  # seconds of audio per frame-model call (what re-encoding a frame costs)
NOISE = 0.6
RAMP = 12
CALIBRATION = Calibration(12.0, -6.0)  # as bench_frames' text_audio_frame
THRESHOLD = 0.3


def simulated_frames(hours: float, labels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(frames [n, DIM] float32, label directions [labels, DIM])."""
    directions = rng.standard_normal((labels, DIM)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    count = round(hours * 3600 / FRAME_SECONDS)
    frames = np.empty((count, DIM), np.float32)
    at, previous = 0, None
    while at < count:
        length = min(count - at, int(rng.uniform(3, 60) / FRAME_SECONDS))
        label = int(rng.integers(labels))
        piece = np.repeat(directions[label][None], length, axis=0)
        if previous is not None:
            ramp = min(RAMP, length)
            weight = np.linspace(1, 0, ramp, dtype=np.float32)[:, None]
            piece[:ramp] = weight * directions[previous] + (1 - weight) * directions[label]
        noise = rng.standard_normal((length, DIM)).astype(np.float32)
        noise *= NOISE / np.sqrt(DIM)
        frames[at : at + length] = piece + noise
        at, previous = at + length, label
    return frames, directions


def identity() -> ModelIdentity:
    return ModelIdentity(
        model_ids=("bench/pe-a-frame",),
        config_hash="c" * 64,
        weights_hash="w" * 64,
        dim=DIM,
        calibration={"text_audio_frame": (CALIBRATION.scale, CALIBRATION.bias)},
    )


def run(hours: float, labels: int, codes: list[str], repeats: int) -> dict:
    rng = np.random.default_rng(23)
    vectors, directions = simulated_frames(hours, labels, rng)
    names = [f"label {i}" for i in range(labels)]
    starts = np.arange(len(vectors)) * FRAME_SECONDS
    results = {
        "hours": hours,
        "frames": len(vectors),
        "labels": labels,
        "dim": DIM,
    }
    root = Path(tempfile.mkdtemp(prefix="bench-events-"))
    try:
        for code in codes:
            with LibraryStore.open(root / code, identity()) as store:
                with store.write() as tx:
                    media_id = tx.upsert_media(
                        MediaRecord(path=f"/bench/{code}.wav", size=1, mtime=1.0, status="indexed")
                    )
                    tx.put_frames(media_id, "audio_frame", starts, starts + FRAME_SECONDS, vectors, code)
                frames = store.frame_slice(media_id, "audio_frame")
                asked: list[np.ndarray] = []

                def exact(slice_, positions, asked=asked):
                    asked.append(positions)
                    return vectors[slice_.first + positions]

                modes = [("coded", None)] + ([("exact", exact)] if code == "sq8" else [])
                for mode, given in modes:
                    times, cpu = [], []
                    for _ in range(repeats):
                        asked.clear()
                        began, began_cpu = time.perf_counter(), time.process_time()
                        events, decided = events_in_frames(
                            frames, names, directions, CALIBRATION, THRESHOLD, exact=given
                        )
                        times.append(time.perf_counter() - began)
                        cpu.append(time.process_time() - began_cpu)
                    key = code if mode == "coded" else f"{code}+exact"
                    reencoded = np.unique(np.concatenate(asked)) if asked else np.zeros(0, np.int64)
                    results[key] = {
                        "seconds_best": round(min(times), 3),
                        "seconds_all": [round(t, 3) for t in times],
                        "cpu_seconds_best": round(
                            min(cpu), 3
                        ),  # both cores' time: a busy machine's wall lies
                        "events": len(events),
                        "decided_exactly": decided,
                        "frames_reencoded": int(reencoded.size),
                        "chunks_reencoded": int(np.unique(np.floor(starts[reencoded] / CHUNK)).size),
                        "block_mb": round(frames.codes.nbytes / 2**20, 1),
                    }
                    print(key, json.dumps(results[key]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--labels", type=int, default=527)
    parser.add_argument("--codes", nargs="+", default=["sq8", "f32"], choices=["sq8", "f32", "pq"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.hours, args.labels, args.codes, args.repeats), indent=1))


if __name__ == "__main__":
    main()
