"""Benchmark a text query through the HTTP API against the same query through the library API,
in one process, on one open `Library`.

    .venv/bin/python bench/bench_http.py --demo-library pe-search-demo/library --segments 100000

Two libraries: the demo's (`pe-search demo` builds it; made here in a temp dir when not given)
and one of `--segments` audio clip segments (synthetic clustered vectors from bench_vectors,
10 segments per file, written through the store's own write path by bench/segments_library.py,
shared with bench_query, under the toy model's identity, so the index type is the one the
library picks at that size and the toy text tower embeds the query). The server is uvicorn on a loopback port in a thread of this process; the
client is one keep-alive httpx connection, as a page or a script would hold.

Reported per library, over `--queries` texts, each asked both ways in turn (so drift hits both):
p50 and p95 of `Library.search` alone, of `POST /api/search` (HTTP, JSON both ways, the same
search), and their p50 ratio; also the floor of one round trip through the same stack (`GET
/api/files/{id}`, one row read), which bounds what any HTTP request costs here. Goal: HTTP adds
at most 20 % to p50 (ratio <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from segments_library import build_segments_library  # noqa: E402

from pe_search.api import Library  # noqa: E402
from pe_search.models.model_set import ModelSet  # noqa: E402
from pe_search.server import ServerConfig, create_app  # noqa: E402
from pe_search.toy import synth  # noqa: E402
from testkit.server_live import live_server  # noqa: E402

GOAL = 1.2
PER_FILE = 10


def texts(count: int) -> list[str]:
    captions = [c for table in (synth.SOUNDS, synth.SCENES) for name in table for c in synth.captions(name)]
    return [captions[i % len(captions)] for i in range(count)]


def build_big_library(directory: Path, segments: int) -> Path:
    """The shared segments library under the toy model's identity (its text tower embeds the query)."""
    models = ModelSet.load("toy", "toy-frame")
    build_segments_library(directory, segments, models.identity(), models.dim, PER_FILE, 500).close()
    return directory


def measure(library_dir: Path, queries: list[str], k: int, target: str | None) -> dict:
    library = Library.open(library_dir)
    app = create_app(ServerConfig(library=library_dir), library=library, warm_up=True)
    direct, http, floor = [], [], []
    with live_server(app) as site, httpx.Client(base_url=site, timeout=60) as client:
        body = {"k": k, "target": target}
        for text in queries[:5]:  # warm up both paths (model, index, connection)
            library.search(text, target=target, k=k)
            client.post("/api/search", json={**body, "q": text}).raise_for_status()
        for text in queries:
            began = time.perf_counter()
            hits = library.search(text, target=target, k=k)
            direct.append(time.perf_counter() - began)
            began = time.perf_counter()
            answer = client.post("/api/search", json={**body, "q": text})
            answer.raise_for_status()
            http.append(time.perf_counter() - began)
            assert [h["path"] for h in answer.json()["hits"]] == [h.path for h in hits]
            began = time.perf_counter()
            client.get(f"/api/files/{hits[0].media_id}").raise_for_status()
            floor.append(time.perf_counter() - began)
        segments = library.status().segments
    library.close()
    direct_ms = np.percentile(np.array(direct) * 1000, [50, 95])
    http_ms = np.percentile(np.array(http) * 1000, [50, 95])
    floor_ms = np.percentile(np.array(floor) * 1000, [50, 95])
    return {
        "segments": segments,
        "target": target or "audio+video",
        "library_api_ms": {"p50": round(direct_ms[0], 2), "p95": round(direct_ms[1], 2)},
        "http_ms": {"p50": round(http_ms[0], 2), "p95": round(http_ms[1], 2)},
        "http_over_library_p50": round(http_ms[0] / direct_ms[0], 3),
        "http_over_library_p95": round(http_ms[1] / direct_ms[1], 3),
        "http_added_ms_p50": round(http_ms[0] - direct_ms[0], 2),
        "http_round_trip_floor_ms": {"p50": round(floor_ms[0], 2), "p95": round(floor_ms[1], 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo-library", type=Path, help="The demo's library (default: build one).")
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    asked = texts(args.queries)
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        demo_library = args.demo_library
        if demo_library is None:
            from pe_search.toy.demo import run_demo

            demo_library = Path(run_demo(Path(directory) / "demo", workers=0, all_captions=False).library)
        results["demo"] = measure(demo_library, asked, args.k, None)
        big = build_big_library(Path(directory) / "big", args.segments)
        results[f"{args.segments}_segments"] = measure(big, asked, args.k, "audio")
    results["goal"] = f"http_over_library_p50 <= {GOAL}"
    results["met"] = all(r["http_over_library_p50"] <= GOAL for r in results.values() if isinstance(r, dict))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
