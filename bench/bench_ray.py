"""Benchmark `index --ray` against the local pipeline on the same folder, in one run.

    .venv/bin/python bench/bench_ray.py --minutes 2

The folder and checkpoint of bench_index.py (PE-AV's default audio tower, the default fused
encoder, PE-Core S/16-384 as video tower, random weights; no frame model). Indexed three times
into fresh libraries: by the local pipeline (`run_index`, one decode worker, torch on every
core), then on a local Ray cluster of `--cpus` CPUs with 1 and with 2 CPU actors (one torch
thread each). Every side starts cold and pays its own model load and first-call compile inside
its wall time (a Ray actor loads its models when it starts; the local side loads them in the
timed section too). Prints media seconds per second of each and the ratios to local, and checks
the three libraries hold the same files and segments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

if __name__ != "__mp_main__":  # decode workers re-import this script: they need none of it
    from bench_index import write_checkpoint, write_media

    from indexer.distributors.ray import RayDistributor, RayOptions
    from indexer.pipeline import run_index
    from indexer.settings import IndexSettings
    from pe_search.models.model_set import ModelSet
    from pe_search.store import LibraryStore


def index_once(folder: Path, library: Path, checkpoint: Path, batch_size: int, ray_options=None) -> dict:
    distributor = None if ray_options is None else RayDistributor(ray_options)
    began = time.perf_counter()
    models = ModelSet.load(checkpoint, batch_size=batch_size)
    settings = IndexSettings(frame_preprocessing=models.clip.frame_preprocessing, audio_frames=False)
    with LibraryStore.open(library, models.identity()) as store:
        summary = run_index(
            [folder],
            store,
            models,
            settings,
            workers=1,
            batch_size=batch_size,
            progress=False,
            distributor=distributor,
        )
        counts = store.counts()
    wall = time.perf_counter() - began
    return {
        "wall_s": round(wall, 1),
        "media_s_per_s": round(summary.media_seconds / wall, 3),
        "files": summary.files_indexed,
        "segments": summary.segments,
        "vectors": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--file-seconds", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local, short-lived cluster
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        total = write_media(scratch / "media", args.minutes, args.file_seconds)
        checkpoint = write_checkpoint(scratch / "checkpoint")
        result = {
            "architecture": "bench_index.py's: PE-AV default audio tower, default fused encoder, "
            "PE-Core S/16-384 video tower, random weights; no frame model",
            "media_seconds": total,
            "file_seconds": args.file_seconds,
            "cpus": args.cpus,
        }
        result["local"] = index_once(scratch / "media", scratch / "lib-local", checkpoint, args.batch_size)
        began = time.perf_counter()
        ray.init(
            num_cpus=args.cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
        )
        result["ray_start_s"] = round(time.perf_counter() - began, 1)  # once per cluster, not per run
        for actors in (1, 2):
            options = RayOptions(address="auto", actors=actors)
            result[f"ray_{actors}_actor"] = index_once(
                scratch / "media", scratch / f"lib-ray{actors}", checkpoint, args.batch_size, options
            )
        ray.shutdown()
    local = result["local"]["media_s_per_s"]
    for actors in (1, 2):
        side = result[f"ray_{actors}_actor"]
        result[f"ratio_ray_{actors}_actor_to_local"] = round(side["media_s_per_s"] / local, 3)
        assert (side["files"], side["segments"], side["vectors"]) == (
            result["local"]["files"],
            result["local"]["segments"],
            result["local"]["vectors"],
        ), "a Ray run must index what the local run indexes"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
