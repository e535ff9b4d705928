"""Tags for a simulated library from its stored vectors (issue 23): wall time and memory of
`pe_search.tagging.update_tags` (the path `pe-search tags --update` takes), and the tags' storage
per media hour, for 1024-d clip vectors and a 527-label vocabulary (AudioSet's size), and the cost
of a 10,000-label vocabulary.

The library is built through the store's own write path (`segments_library`): one file per media
hour, 30 s windows every 15 s (240 segments an hour, the indexer's default cut). Label vectors are
random unit directions at the clip vectors' scale (no text model runs: its cost is once per
vocabulary and model, then cached). Each tagging run is a fresh process, so its peak memory is
its own; "tagging RSS" is the peak minus what opening the library took (the space's in-memory
index, which any command that opens the library pays).

    python bench/bench_tags.py --hours 1000            # the issue's size
    python bench/bench_tags.py --hours 100 --labels 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from segments_library import build_segments_library  # noqa: E402

from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.models.spaces import Calibration  # noqa: E402
from pe_search.store import IndexPolicy, LibraryStore  # noqa: E402
from pe_search.tagging.tagger import Tagger  # noqa: E402
from pe_search.tagging.update import update_tags  # noqa: E402

DIM = 1024
SEGMENTS_PER_HOUR = 240  # 30 s windows, 15 s hop
IDENTITY = ModelIdentity(("bench",), "config", "weights", DIM, {"text_audio": (10.0, -10.0)})
POLICY = IndexPolicy(flat_max=10**9, memory_budget=2**40)  # a flat index: the build stays quick


def _rss_gb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**30


def _anon_gb() -> float:
    """The process's own memory (RssAnon): resident pages not backed by a file. The vector
    file's memory-mapped pages count in RSS but are the page cache's, dropped under pressure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def tag_once(library: Path, labels: int) -> dict:
    """One tagging run over every file (the child process's job)."""
    store = LibraryStore.open(library, IDENTITY, policy=POLICY)
    opened_rss = _rss_gb()
    rng = np.random.default_rng(7)
    directions = rng.standard_normal((labels, DIM)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    tagger = Tagger(
        np.arange(labels), directions * 3.0, Calibration(10.0, -10.0), f"bench-{labels}-{time.time()}", threshold=0.1,
        names=tuple(f"label {i}" for i in range(labels)),
    )  # fmt: skip
    database = store.layout.database
    before = database.stat().st_size + Path(str(database) + "-wal").stat().st_size
    anon = [_anon_gb()]
    tracemalloc.start()
    cpu = time.process_time()
    began = time.perf_counter()
    result = update_tags(store, tagger, progress=lambda done, total: anon.append(_anon_gb()))
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.close()  # folds the WAL into the database
    after = database.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "labels": labels,
        "files": result.tagged,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),  # this process's CPU time: the figure a busy machine does not inflate
        "anon_after_open_gb": round(anon[0], 2),
        "anon_peak_gb": round(max(anon), 2),  # sampled after each batch
        "peak_rss_gb": round(peak, 2),
        "rss_after_open_gb": round(opened_rss, 2),
        "tagging_rss_gb": round(peak - opened_rss, 2),
        "traced_peak_gb": round(traced_peak / 2**30, 3),
        "database_growth_bytes": after - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=1000, help="media hours (one file each)")
    parser.add_argument("--labels", type=int, nargs="+", default=[527], help="vocabulary sizes to run")
    parser.add_argument("--dir", type=Path, default=None, help="keep the library here (default: a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "LABELS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(tag_once(Path(args.child[0]), int(args.child[1]))))
        return
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-tags-"))
    library = root / "library"
    if not library.exists():
        build_segments_library(
            library, args.hours * SEGMENTS_PER_HOUR, IDENTITY, DIM, per_file=SEGMENTS_PER_HOUR,
            files_per_transaction=50, policy=POLICY,
        ).close()  # fmt: skip
    for labels in args.labels:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(library), str(labels)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        figures["hours"] = args.hours
        figures["storage_per_hour_bytes"] = round(figures["database_growth_bytes"] / args.hours)
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
