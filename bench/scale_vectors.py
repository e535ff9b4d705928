"""bench_scale's `--part vectors` (issue 24, item 1): clip search in one space of N vectors, on disk.

    .venv/bin/python bench/bench_scale.py --part vectors --vectors 1000000 --workdir /big/scratch

Steps, each printed to stderr as it ends, one JSON object per size on stdout:

1. Library (this process): hour-long files of `PER_FILE` 30 s windows (15 s hop). The first file
   goes through the store's writer (`LibraryStore.write()`), which makes the space; the rest is
   the same data the writer would leave, written in bulk: rows to `vectors/audio.f32` in chunks
   through the store's `VectorFile`, with the chunk CRCs the writer keeps, and the media, segment
   and vector rows by `executemany` (the writer's per-file round trips would take hours). Data:
   bench_vectors' clustered model (its centres, projection and modality gap), made cheap: centre
   plus a latent-noise row and an isotropic-noise row drawn from reused pools, times a norm
   spread. The exact top 10 of every benchmark query is computed on the same pass.
2. Index build (a new process): the writer opens the library, finds no index and builds the
   IVF-PQ the policy picks (trained on a sample, added in chunks, tuned to the recall target),
   then saves it. Wall, CPU, peak RSS (`ru_maxrss`).
3. Serving (a new process): the library's own files (vectors, index data, database) are evicted
   from the page cache first (`posix_fadvise(POSIX_FADV_DONTNEED)` on each, nothing else), then
   open read-only, one query, then each query alone: open to first answer, p50/p90 per query
   distribution, recall@10 against exact, RSS (VmRSS, VmHWM).
   Distributions: `text_like` (bench_vectors' queries: two-centre mixtures through a perturbed
   projection plus the modality gap), `offset` (the same with a gap twice as long), `own` (stored
   vectors), and, reported but not a target, `foreign` (another model's queries: unrelated to the
   data's clusters).
4. Append (a new process): the writer opens the library and commits 10,000 new vectors (files of
   `PER_FILE` windows through `LibraryStore.write()`); the time of those commits, the index
   following each (no rebuild), and the close (which saves the index) apart.
5. `pe-search search` (a new process, `--mode vector --json`) from process start to the first hit,
   on a second library of the same N under the toy model's identity (its text tower is 64-d),
   built the same way with the page cache left as it is after its build.

Figures are wall time, with CPU time beside them: the development machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_vectors import _model, queries  # noqa: E402

from pe_search.media.timecode import zero_timecode  # noqa: E402
from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.store import LibraryStore, MediaRecord, SegmentRecord, checksums  # noqa: E402
from pe_search.store.vector_file import VectorFile  # noqa: E402

PER_FILE = 239  # 30 s windows every 15 s in an hour
CHUNK = 4096 * 12  # rows generated at a time (whole 16 MiB checksum chunks at d = 1024)
POOL = 32_768
QUERIES = 50  # per distribution
APPEND = 10_000
SPACE = "audio"
# The targets of issue 24 item 1 (and item 5's search from process start).
RSS_GB, P50_MS, P90_MS, RECALL, OPEN_S, BUILD_S, BUILD_GB, APPEND_S, CLI_S = (
    4,
    50,
    150,
    0.95,
    2,
    1800,
    8,
    10,
    3,
)


def identity(dim: int) -> ModelIdentity:
    return ModelIdentity(("bench-scale-vectors",), "config", "weights", dim, {"text_audio": (10.0, -5.0)})


class Data:
    """bench_vectors' clustered data, generated from reused noise pools (cheap at 10M)."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        projection, centres, _, _ = _model(dim, seed)
        rng = np.random.default_rng([seed, 9])
        self.dim, self.seed = dim, seed
        self.centres = (centres @ projection).astype(np.float32)
        self.latent = (0.6 * rng.standard_normal((POOL, projection.shape[0]), dtype=np.float32)) @ projection
        self.iso = 0.2 * rng.standard_normal((POOL, dim), dtype=np.float32)

    def rows(self, start: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 3, start])
        x = self.centres[rng.integers(0, len(self.centres), n)]
        x += self.latent[rng.integers(0, POOL, n)]
        x += self.iso[rng.integers(0, POOL, n)]
        x *= np.exp(0.15 * rng.standard_normal((n, 1))).astype(np.float32)
        return x


def query_sets(data: Data) -> dict[str, np.ndarray]:
    """The three distributions of the targets, and `foreign` (reported, not a target)."""
    text_like = queries(data.dim, data.seed, QUERIES)
    _, _, _, gap = _model(data.dim, data.seed)
    # text-like queries (other draws of the same model) with a modality gap twice as long
    offset = queries(data.dim, data.seed, 2 * QUERIES)[QUERIES:] + gap
    own = data.rows(0, CHUNK)[np.random.default_rng(5).choice(CHUNK, QUERIES, replace=False)]
    # Queries of another model (other centres, projection and gap) moved by this one's gap too:
    # unrelated to the data's clusters. sc-ivf's `offset` was these (seed + 1 changes the whole
    # model, not only the draws), hence its 0.386 (docs/store.md).
    foreign = queries(data.dim, data.seed + 1, QUERIES) + gap
    return {
        "text_like": text_like, "offset": offset.astype(np.float32), "own": own,
        "foreign": foreign.astype(np.float32),
    }  # fmt: skip


def _media(index: int) -> MediaRecord:
    return MediaRecord(
        path=f"/archive/{index // 1000:03d}/hour{index:07d}.wav", size=1, mtime=1.7e9, content_hash=f"{index:016x}",
        duration=PER_FILE * 15.0 + 15.0, has_audio=True, status="indexed",
    )  # fmt: skip


def _segments() -> list[SegmentRecord]:
    return [SegmentRecord(i * 15.0, i * 15.0 + 30.0, "clip") for i in range(PER_FILE)]


def build_library(directory: Path, n: int, dim: int, ident: ModelIdentity) -> tuple[dict, dict]:
    """The library of n vectors (whole files); returns (figures, exact top 10 per query set)."""
    data, began, began_cpu = Data(dim), time.perf_counter(), time.process_time()
    sets = query_sets(data)
    every = np.concatenate(list(sets.values()))
    files = n // PER_FILE
    n = files * PER_FILE
    with LibraryStore.open(directory, ident) as store, store.write() as tx:  # file 0 through the writer
        media_id = tx.upsert_media(_media(0))
        tx.set_timecode(media_id, zero_timecode(None))  # as the indexer records a file's timecode
        first = data.rows(0, min(CHUNK, n))[:PER_FILE]  # as the bulk pass draws them (below)
        tx.add_vectors(SPACE, tx.add_segments(media_id, _segments()), first)
    best_scores = np.full((len(every), 0), -np.inf, np.float32)
    best_ids = np.zeros((len(every), 0), np.int64)
    file = VectorFile(directory / "vectors" / f"{SPACE}.f32", dim, writable=True)
    crcs: dict[int, int] = {}
    for start in range(0, n, CHUNK):
        rows = data.rows(start, min(CHUNK, n - start))
        checksums.extend_chunks(crcs, start * dim * 4, rows)
        if start + len(rows) > PER_FILE:
            skip = max(0, PER_FILE - start)
            file.write(start + skip, rows[skip:])
        scores = every @ rows.T
        ids = np.broadcast_to(np.arange(start, start + len(rows)), scores.shape)
        scores, ids = np.concatenate([best_scores, scores], 1), np.concatenate([best_ids, ids], 1)
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        best_scores, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
        if start // CHUNK % 20 == 0:
            print(
                f"  {start + len(rows)} vectors, {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    file.sync()
    file.close()
    generated_s = time.perf_counter() - began
    _bulk_rows(directory / "library.db", files, n, crcs)
    order = np.argsort(-best_scores, axis=1)
    truth_all = np.take_along_axis(best_ids, order, 1)
    truth, at = {}, 0
    for name, found in sets.items():
        truth[name] = truth_all[at : at + len(found)]
        at += len(found)
    figures = {
        "vectors": n,
        "files": files,
        "library_write_s": round(time.perf_counter() - began, 1),
        "library_write_cpu_s": round(time.process_time() - began_cpu, 1),
        "vectors_write_s": round(generated_s, 1),
        "vectors_file_gb": round(n * dim * 4 / 1e9, 2),
    }
    return figures, {
        "sets": {k: v.tolist() for k, v in sets.items()},
        "truth": {k: v.tolist() for k, v in truth.items()},
    }


def _bulk_rows(database: Path, files: int, n: int, crcs: dict[int, int]) -> None:
    """The rows the writer would leave for files 1 .. files-1 (file 0 went through it)."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA synchronous=OFF")
    step = 2000
    for first in range(1, files, step):
        batch = range(first, min(files, first + step))
        media, segments, vectors = [], [], []
        for index in batch:
            m = _media(index)
            media.append(
                (
                    index + 1,
                    m.path,
                    m.size,
                    m.mtime,
                    m.content_hash,
                    m.duration,
                    1,
                    0,
                    "indexed",
                    None,
                    "audio",
                )
            )
            for window in range(PER_FILE):
                vector_id = index * PER_FILE + window
                segments.append((vector_id + 1, index + 1, window * 15.0, window * 15.0 + 30.0, "clip"))
                vectors.append((SPACE, vector_id, vector_id + 1))
        with connection:
            connection.executemany(
                "INSERT INTO media_files (id, path, size, mtime, content_hash, duration, has_audio, "
                "has_video, status, error, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                media,
            )
            connection.executemany(
                "INSERT INTO segments (id, media_file_id, start_s, end_s, level) VALUES (?, ?, ?, ?, ?)",
                segments,
            )
            connection.executemany(
                "INSERT INTO vectors (space, vector_id, segment_id) VALUES (?, ?, ?)", vectors
            )
    with connection:
        connection.execute(
            "UPDATE index_state SET next_vector_id = ?, count = ?, generation = generation + 1, "
            "vectors_crc32 = NULL WHERE space = ?",
            (n, n, SPACE),
        )
        connection.executemany(
            "INSERT OR REPLACE INTO vector_chunks (space, chunk, crc32) VALUES (?, ?, ?)",
            [(SPACE, chunk, crc) for chunk, crc in crcs.items()],
        )
        connection.execute(  # every file's timecode, as file 0's (else a search reads them from the files)
            "INSERT INTO source_timecodes (media_file_id, start, rate, drop_frame, start_seconds, origin, note) "
            "SELECT m.id, t.start, t.rate, t.drop_frame, t.start_seconds, t.origin, t.note "
            "FROM media_files m, source_timecodes t WHERE m.id != t.media_file_id"
        )
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


# -- the steps that run in processes of their own ------------------------------------------------


def _rss() -> dict:
    status = Path("/proc/self/status").read_text()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return {"rss_gb": round(kb["VmRSS"] / 2**20, 3), "rss_peak_gb": round(kb["VmHWM"] / 2**20, 3)}


def step_build(directory: Path) -> dict:
    began, began_cpu = time.perf_counter(), time.process_time()
    with LibraryStore.open(directory) as store:
        messages = list(store.messages)
        index = store._synced(SPACE).index
        spec = index.spec.describe()
        report = getattr(index, "build_report", None)
        timings = getattr(index, "timings", {})
    return {
        **{f"build_{key}": value for key, value in timings.items() if key != "build_s"},
        "build_train_add_s": timings.get("build_s"),
        "build_report": None if report is None else report.__dict__,
        "build_s": round(time.perf_counter() - began, 1),
        "build_cpu_s": round(time.process_time() - began_cpu, 1),
        "build_peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "index": spec,
        "build_messages": messages,
    }


def evict(directory: Path) -> list[str]:
    """Drop this library's files (only them) from the page cache."""
    evicted = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            evicted.append(path.name)
    return evicted


def step_serve(directory: Path, query_file: Path, warm: bool = True) -> dict:
    """A serving process: opened on a cold page cache and warmed as a server is (`warm_up`: its
    index's lists file read ahead in the background); the first answer is timed while that read
    goes on, the query families after it (the vectors file stays out of the page cache: the
    re-rank's rows come from disk)."""
    saved = json.loads(query_file.read_text())
    evicted = evict(directory)
    sets = {name: np.asarray(v, dtype=np.float32) for name, v in saved["sets"].items()}
    began, began_cpu = time.perf_counter(), time.process_time()
    store = LibraryStore.open(directory, readonly=True)
    reading = store.warm_up() if warm else []
    first = store.search(SPACE, sets["text_like"][:1], k=10)
    open_s = time.perf_counter() - began
    result: dict = {
        "open_to_first_answer_s": round(open_s, 3),
        "open_to_first_answer_cpu_s": round(time.process_time() - began_cpu, 3),
        "first_answer_hits": len(first[0]),
        "evicted_files": len(evicted),
    }
    for thread in reading:
        thread.join()
    result["warm_up_s"] = round(time.perf_counter() - began, 3)  # open to the lists file read
    for name, found in sets.items():
        times, cpu, ids = [], [], []
        for query in found:
            t, c = time.perf_counter(), time.process_time()
            ids.append(store.search_ids(SPACE, query[None], k=10)[1][0])
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        truth = np.asarray(saved["truth"][name])
        recall = np.mean(
            [len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(ids, truth, strict=True)]
        )
        p50, p90 = np.percentile(np.array(times) * 1000, [50, 90])
        c50, c90 = np.percentile(np.array(cpu) * 1000, [50, 90])
        result[name] = {
            "recall_at_10": round(float(recall), 4),
            "p50_ms": round(float(p50), 2), "p90_ms": round(float(p90), 2),
            "cpu_p50_ms": round(float(c50), 2), "cpu_p90_ms": round(float(c90), 2),
        }  # fmt: skip
    result |= _rss()
    params = store._synced(SPACE).index.params
    result["tuned"] = {
        key: params.get(key) for key in ("nprobe", "rerank", "nlist", "tuned_recall", "recall_target")
    }
    store.close()
    return result


def step_append(directory: Path) -> dict:
    opening = time.perf_counter()
    store = LibraryStore.open(directory)  # the writer reads the index into memory
    opened = time.perf_counter()
    state = store._synced(SPACE)
    dim, before = state.dim, state.index.count()
    data = Data(dim, seed=1)
    files = -(-APPEND // PER_FILE)
    base = 10**7
    began, began_cpu = time.perf_counter(), time.process_time()
    added = 0
    for number in range(files):
        take = min(PER_FILE, APPEND - added)
        with store.write() as tx:
            media_id = tx.upsert_media(_media(base + number))
            ids = tx.add_segments(media_id, _segments()[:take])
            tx.add_vectors(SPACE, ids, data.rows(number * PER_FILE, take))
        added += take
    append_s, append_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    after = store._synced(SPACE).index
    kind, trained_on = after.kind, after.params.get("trained_on")
    count = after.count()
    closing = time.perf_counter()
    store.close()
    return {
        "append_vectors": added,
        "append_s": round(append_s, 2),
        "append_cpu_s": round(append_cpu, 2),
        "append_index_after": f"{kind} (trained on {trained_on}), {before} -> {count} vectors",
        "append_writer_open_s": round(opened - opening, 1),
        "append_close_save_s": round(time.perf_counter() - closing, 1),
    }


def _same_hits(runs: list[str]) -> bool:
    """Whether every run's hits are the same segments in the same order, with scores within 1e-4."""
    first = json.loads(runs[0])
    for other in map(json.loads, runs[1:]):
        if [(h["path"], h["segment_id"]) for h in other] != [(h["path"], h["segment_id"]) for h in first]:
            return False
        if any(abs(a["score"] - b["score"]) > 1e-4 * max(1.0, abs(b["score"])) for a, b in zip(other, first)):
            return False
    return True


def cli_search(directory: Path, keep_hits: bool = False) -> dict:
    """`pe-search search` in a process of its own: seconds to its first hit (the first line of its
    JSON on stdout; the target) and to its exit (Python's teardown of torch and transformers'
    modules comes after the answer), and that process's own CPU seconds."""
    command = [sys.executable, "-c", "from pe_search.cli.main import cli; cli()", "search", "a high beep",
               "--library", str(directory), "--mode", "vector", "--target", "audio", "-k", "10", "--json"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = process.stdout.readline()
    first_hit_s = time.perf_counter() - began
    out = process.stdout.read()  # (communicate() would skip what readline buffered)
    err = process.stderr.read()
    process.wait()
    seconds = time.perf_counter() - began
    if process.returncode:
        raise RuntimeError(err[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = {"cli_search_s": round(first_hit_s, 2), "cli_search_exit_s": round(seconds, 2),
              "cli_search_cpu_s": round(cpu, 2), "cli_search_hits": len(json.loads(first + out)),
              "cli_children_cpu_s_total": round(after.ru_utime + after.ru_stime, 1)}  # fmt: skip
    return result | ({"hits": first + out} if keep_hits else {})


def cli_part(owned: Path, n: int) -> dict:
    """Step 5: a toy-identity library of n vectors, its index built, then `pe-search search`."""
    from pe_search.models.model_set import ModelSet

    models = ModelSet.load("toy", "toy-frame")
    toy = owned / "toy"
    figures, _ = build_library(toy, n, models.dim, models.identity())
    built = _step("build", str(toy))
    result = {"cli_library_write_s": figures["library_write_s"], "cli_build_s": built["build_s"]}
    result["cli_build_cpu_s"], result["cli_index"] = built["build_cpu_s"], built["index"]
    result |= text_graph(toy)
    result |= cli_search(toy)
    result |= cli_search_runs(toy)
    result["targets_held"] = targets(result)
    return result


def text_graph(directory: Path) -> dict:
    """The library's text query graphs, written as for an existing library (`index` writes them
    when it records the models; this library was written through the store alone)."""
    from pe_search.api import Library

    began = (time.perf_counter(), time.process_time())
    with Library.open(directory) as library:
        manifest = library.write_text_graph()
    wall, cpu = time.perf_counter() - began[0], time.process_time() - began[1]
    size = sum(f.stat().st_size for f in manifest.parent.rglob("*") if f.is_file())
    return {
        "cli_graph_write_s": round(wall, 2),
        "cli_graph_write_cpu_s": round(cpu, 2),
        "cli_graph_bytes": size,
    }


def cli_search_runs(directory: Path, runs: int = 3) -> dict:
    """`cli_search` alternated with and without the text graphs (the manifest moved aside: the
    torch text side answers), `runs` each; medians."""
    manifest = directory / "models" / "text-query.json"
    aside = manifest.with_name("text-query.json.aside")
    measured: dict[str, list[dict]] = {"graph": [], "torch": []}
    for _ in range(runs):
        for way in ("graph", "torch"):
            if way == "torch":
                manifest.rename(aside)
            try:
                measured[way].append(cli_search(directory, keep_hits=True))
            finally:
                if aside.exists():
                    aside.rename(manifest)
    every = [r.pop("hits") for runs_of in measured.values() for r in runs_of]
    result: dict = {"graph_and_torch_same_hits": _same_hits(every)}
    for way, runs_of in measured.items():
        for key in ("cli_search_s", "cli_search_exit_s", "cli_search_cpu_s"):
            result[f"{way}_{key}_median"] = statistics.median(r[key] for r in runs_of)
    result["cli_runs_load_avg"] = os.getloadavg()[0]
    return result


def killed_build(directory: Path, chunk: int) -> dict:
    """Item 7: the build step killed (-9) when its `chunk`-th chunk is on disk; the next build
    step resumes from the chunks it left."""
    command = [sys.executable, str(Path(__file__)), "--step", "build", str(directory)]
    env = {**os.environ, "PE_SEARCH_CRASH_AT": f"index-build-chunk:{chunk}"}
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - began
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    folder = directory / "vectors" / f"{SPACE}.index.build"
    result = {
        "killed_build_returncode": done.returncode,
        "killed_build_s": round(seconds, 1),
        "killed_build_children_cpu_s_total": round(children.ru_utime + children.ru_stime, 1),
        "killed_build_chunks_left": len(list(folder.glob("chunk-*.npz"))),
    }
    print(f"  killed build: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def _step(name: str, *args: str) -> dict:
    command = [sys.executable, str(Path(__file__)), "--step", name, *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"step {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {name}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def targets(result: dict) -> dict[str, bool]:
    held = {}
    if "rss_gb" in result:
        held[f"serving RSS <= {RSS_GB} GB"] = result["rss_gb"] <= RSS_GB
        for name in ("text_like", "offset", "own"):
            figures = result[name]
            held[f"{name}: p50 <= {P50_MS} ms"] = figures["p50_ms"] <= P50_MS
            held[f"{name}: p90 <= {P90_MS} ms"] = figures["p90_ms"] <= P90_MS
            held[f"{name}: recall@10 >= {RECALL}"] = figures["recall_at_10"] >= RECALL
        held[f"open to first answer <= {OPEN_S} s"] = result["open_to_first_answer_s"] <= OPEN_S
    if "build_s" in result:
        held[f"build <= {BUILD_S // 60} min"] = result["build_s"] <= BUILD_S
        held[f"build peak <= {BUILD_GB} GB"] = result["build_peak_gb"] <= BUILD_GB
    if "append_s" in result:
        held[f"append {APPEND} <= {APPEND_S} s"] = result["append_s"] <= APPEND_S
    if "cli_search_s" in result:
        held[f"pe-search search to first hit <= {CLI_S} s"] = result["cli_search_s"] <= CLI_S
    return held


def run(n: int, workdir: str | None, keep: bool, cli: bool | str, kill_at: int | None = None) -> dict:
    owned = Path(tempfile.mkdtemp(dir=workdir, prefix="scale-vectors-"))
    try:
        if cli == "only":  # item 5 alone (its library is small beside the 1024-d one)
            return {"vectors": n, **cli_part(owned, n), "load_avg": os.getloadavg()[0]}
        library = owned / "lib"
        result, saved = build_library(library, n, 1024, identity(1024))
        query_file = owned / "queries.json"
        query_file.write_text(json.dumps(saved))
        print(f"  library: {json.dumps(result)}", file=sys.stderr, flush=True)
        if kill_at:
            result |= killed_build(library, kill_at)
        result |= _step("build", str(library))
        result |= _step("serve", str(library), str(query_file))
        result |= _step("append", str(library))
        result["library_gb"] = round(
            sum(p.stat().st_size for p in library.rglob("*") if p.is_file()) / 1e9, 2
        )
        if not keep:
            shutil.rmtree(library)  # room for the toy library (the disk holds one at 10M)
        if cli:
            result |= cli_part(owned, n)
        result["load_avg"] = os.getloadavg()[0]
        result["targets_held"] = targets(result)
        return result
    finally:
        if not keep:
            shutil.rmtree(owned, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["vectors"], help="as bench_scale.py takes it")
    parser.add_argument("--vectors", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-cli", action="store_true", help="skip the toy-identity library for pe-search search"
    )
    parser.add_argument("--only-cli", action="store_true", help="only step 5 (pe-search search)")
    parser.add_argument(
        "--kill-build-at", type=int, help="kill -9 the first build at this chunk, then resume (item 7)"
    )
    parser.add_argument("--step", choices=["build", "serve", "append"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        step = {"build": step_build, "serve": step_serve, "append": step_append}[args.step]
        print(json.dumps(step(*map(Path, args.paths))), flush=True)
        return
    for n in args.vectors:
        print(
            json.dumps(
                run(
                    n,
                    args.workdir,
                    args.keep,
                    "only" if args.only_cli else not args.no_cli,
                    args.kill_build_at,
                )
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
