"""Duplicates at a million files (issue 24 item 3): `bench_scale.py --part duplicates`.

    .venv/bin/python bench/scale_duplicates.py --files 1000000 --workdir /big/scratch
    .venv/bin/python bench/bench_scale.py --part duplicates --files 1000000 --workdir /big/scratch

A simulated sound library written through the store: the first `WRITER_FILES` files through
`LibraryStore.write()` (`upsert_media`, `set_audio_fingerprint`), the rest as the same rows by
bulk SQL (media_files, audio_fingerprints), as bench_scale's text part does. Durations are a
sound library's: mostly short (log-normal, median `MEDIAN_SECONDS` s, sigma `SIGMA`, 0.5 s to
10 min; the fingerprint covers the first 120 s). Codes drift a few bits per hop as real ones do
(each bit flips with probability 1/8 from one hop to the next). `COPY_SHARE` of the files are
planted copies of an earlier file: exact copies (same content hash), re-encodes (1-8 % of bits
flipped), trims (cut at either end, up to 15 % each) and trimmed re-encodes.

Then, each in a fresh process (so its peak memory is its own): `find_duplicates` over the whole
library (the command's work; wall, CPU and peak RSS, recall and precision of the planted copies),
and after adding `--added` files (with their own planted copies of old files) the regrouping run.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pe_search.duplicates import audio_fingerprint  # noqa: E402
from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.store import LibraryStore, MediaRecord  # noqa: E402

SECONDS_TARGET = 30 * 60
RSS_TARGET_GB = 8.0
REGROUP_SECONDS_TARGET = 30.0
WRITER_FILES = 2_000
BULK_FILES = 20_000
MEDIAN_SECONDS = 6.0
SIGMA = 1.1
COPY_SHARE = 0.05
WINDOW = 2_000  # copies are made of the last this many originals
KINDS = ("exact", "reencode", "trim", "trim_reencode")


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Simulated:
    """File `index`'s codes, content hash and recording (planted copies share their original's)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.recording: list[int] = []  # per file: the recording it holds
        self.codes_of: dict[int, np.ndarray] = {}  # originals' codes, by file

    def duration(self) -> float:
        return float(np.clip(self.rng.lognormal(np.log(MEDIAN_SECONDS), SIGMA), 0.5, 600.0))

    def drifting(self, count: int) -> np.ndarray:
        masks = self.rng.integers(0, 2**32, size=(3, count), dtype=np.uint32)
        drift = masks[0] & masks[1] & masks[2]  # each bit with probability 1/8
        drift[0] = self.rng.integers(1, 2**32, dtype=np.uint32)
        codes = np.bitwise_xor.accumulate(drift)
        codes[codes == 0] = 1
        return codes

    def copy(self, codes: np.ndarray, kind: str) -> np.ndarray:
        out = codes
        if kind in ("trim", "trim_reencode"):
            cut = max(1, int(codes.size * 0.15))
            start, end = int(self.rng.integers(0, cut)), int(self.rng.integers(0, cut))
            out = out[start : max(start + 1, out.size - end)]
        if kind in ("reencode", "trim_reencode"):
            share = self.rng.uniform(0.01, 0.08)
            flips = np.packbits(self.rng.random((out.size, 32)) < share, axis=1, bitorder="little")
            out = out ^ flips.view("<u4").reshape(-1)
            out[out == 0] = 1
        return out.astype(np.uint32)

    def file(self, index: int) -> tuple[float, np.ndarray, str]:
        """(duration, codes, content hash) of file `index` (files are made in order)."""
        if self.codes_of and self.rng.random() < COPY_SHARE:
            source = int(self.rng.choice(list(self.codes_of)))
            kind = str(self.rng.choice(KINDS))
            codes = self.copy(self.codes_of[source], kind)
            self.recording.append(self.recording[source])
            digest = f"h{source:08d}" if kind == "exact" else f"h{index:08d}"
            return len(codes) * audio_fingerprint.HOP_SECONDS, codes, digest
        duration = self.duration()
        count = max(1, int(min(duration, audio_fingerprint.MAX_SECONDS) / audio_fingerprint.HOP_SECONDS) - 16)
        codes = self.drifting(count)
        self.codes_of[index] = codes
        if len(self.codes_of) > WINDOW:  # copies are of recent originals: bounded memory here
            del self.codes_of[next(iter(self.codes_of))]
        self.recording.append(index)
        return duration, codes, f"h{index:08d}"


def identity() -> ModelIdentity:
    return ModelIdentity(("bench-duplicates",), "config", "weights", 16, {})


def build(directory: Path, first: int, files: int, sim: Simulated) -> dict:
    """Files first..files-1: the first `WRITER_FILES` of the library through the writer, the rest by
    bulk SQL."""
    began, began_cpu = time.perf_counter(), _cpu()
    total = 0
    with LibraryStore.open(directory, identity()) as store:
        with store.write() as tx:
            for index in range(first, min(files, WRITER_FILES)):
                duration, codes, digest = sim.file(index)
                media_id = tx.upsert_media(_record(index, duration, digest))
                tx.set_audio_fingerprint(media_id, codes, digest, audio_fingerprint.VERSION)
                total += codes.size
        store.checkpoint()
    connection = sqlite3.connect(directory / "library.db")
    connection.execute("PRAGMA synchronous=OFF")
    start = max(first, WRITER_FILES)
    for chunk in range(start, files, BULK_FILES):
        media_rows, prints = [], []
        for index in range(chunk, min(files, chunk + BULK_FILES)):
            duration, codes, digest = sim.file(index)
            media = _record(index, duration, digest)
            media_rows.append(
                (index + 1, media.path, media.size, media.mtime, media.content_hash, media.duration,
                 True, False, "indexed", None, "audio")
            )  # fmt: skip
            prints.append((index + 1, digest, audio_fingerprint.VERSION, codes.astype("<u4").tobytes()))
            total += codes.size
        with connection:
            connection.executemany(
                "INSERT INTO media_files (id, path, size, mtime, content_hash, duration, has_audio, "
                "has_video, status, error, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                media_rows,
            )
            connection.executemany(
                "INSERT INTO audio_fingerprints (media_file_id, content_hash, version, codes) VALUES (?, ?, ?, ?)",
                prints,
            )
        print(
            f"  {chunk + len(media_rows)} files, {time.perf_counter() - began:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return {
        "codes": total,
        "build_s": round(time.perf_counter() - began, 1),
        "build_cpu_s": round(_cpu() - began_cpu, 1),
    }


def _record(index: int, duration: float, digest: str) -> MediaRecord:
    return MediaRecord(
        path=f"/sim/{index // 1000:04d}/{index:07d}.wav", size=1, mtime=0.0, content_hash=digest,
        duration=duration, has_audio=True, status="indexed",
    )  # fmt: skip


def child(library: str, profile: str | None) -> None:
    """`find_duplicates` in this fresh process: its own wall, CPU and peak memory."""
    from pe_search.duplicates.groups import find_duplicates

    began, began_cpu = time.perf_counter(), time.process_time()
    with LibraryStore.open(library) as store:
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            groups = profiler.runcall(find_duplicates, store, "audio")
            profiler.dump_stats(profile)
        else:
            groups = find_duplicates(store, "audio")
    members = [sorted(int(Path(f.path).stem) for f in g.files) for g in groups]
    print(
        json.dumps(
            {
                "seconds": round(time.perf_counter() - began, 1),
                "cpu_seconds": round(time.process_time() - began_cpu, 1),
                "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
                "groups": members,
            }
        )
    )


def run_child(library: Path, profile: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", str(library)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def score(groups: list[list[int]], recording: list[int]) -> dict:
    by_recording: dict[int, list[int]] = {}
    for index, held in enumerate(recording):
        by_recording.setdefault(held, []).append(index)
    truth = {(a, b) for m in by_recording.values() for i, a in enumerate(m) for b in m[i + 1 :]}
    found = {(a, b) for g in groups for i, a in enumerate(g) for b in g[i + 1 :]}
    return {
        "true_pairs": len(truth),
        "recall": round(len(found & truth) / max(1, len(truth)), 4),
        "precision": round(len(found & truth) / max(1, len(found)), 4),
    }


def load() -> float:
    return round(float(open("/proc/loadavg").read().split()[0]), 1)


def _database_gb(library: Path) -> float:
    """The library's database with its write-ahead log, as it stands."""
    files = [library / "library.db", library / "library.db-wal"]
    return round(sum(f.stat().st_size for f in files if f.exists()) / 1e9, 2)


def run(files: int, added: int, workdir: str | None, profile: str | None, keep: str | None = None) -> dict:
    """Build, group from scratch, add `added` files and regroup. With `keep` (a folder), the
    library and the simulator's state stay there; run again with it, only the adding and the
    regrouping are done (so a regroup can be measured again without building a million files)."""
    if keep is not None:
        return _run(Path(keep), files, added, profile)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="scale-duplicates-") as folder:
        return _run(Path(folder) / "lib", files, added, profile)


def _run(library: Path, files: int, added: int, profile: str | None) -> dict:
    state = library / "simulator.pickle"
    result: dict = {"files": files, "added": added}
    if state.exists():
        sim, files = pickle.loads(state.read_bytes())
        result["files"] = files
    else:
        sim = Simulated(seed=5)
        result |= build(library, 0, files, sim)
        result["database_gb"] = _database_gb(library)
        result["fingerprint_gb"] = round(result["codes"] * 4 / 1e9, 2)
        result["load_before"] = load()
        full = run_child(library, profile)
        result["full"] = {k: v for k, v in full.items() if k != "groups"} | score(
            full["groups"], sim.recording
        )
        result["full"]["load_after"] = load()
        result["full"]["database_gb_after"] = _database_gb(library)
        state.write_bytes(pickle.dumps((sim, files)))
    if added:
        build(library, files, files + added, sim)
        result["load_before_regroup"] = load()
        again = run_child(library)
        result["regroup"] = {k: v for k, v in again.items() if k != "groups"}
        result["regroup"] |= score(again["groups"], sim.recording)
        result["regroup"]["load_after"] = load()
        result["regroup"]["database_gb_after"] = _database_gb(library)
        state.write_bytes(pickle.dumps((sim, files + added)))
    result["targets_held"] = {}
    if "full" in result:
        result["targets_held"] = {
            f"duplicates at {files} files <= {SECONDS_TARGET // 60} min (CPU)": result["full"]["cpu_seconds"]
            <= SECONDS_TARGET,
            f"peak RSS <= {RSS_TARGET_GB:g} GB": result["full"]["peak_rss_gb"] <= RSS_TARGET_GB,
        }
    if added:
        result["targets_held"][f"regrouping after {added} files <= {REGROUP_SECONDS_TARGET:g} s (CPU)"] = (
            result["regroup"]["cpu_seconds"] <= REGROUP_SECONDS_TARGET
        )
    return result


def run_sizes(sizes: list[int], workdir: str | None, added: int = 1_000) -> None:
    """One JSON object per library size (what `bench_scale.py --part duplicates` runs)."""
    for files in sizes:
        print(json.dumps(run(files, added, workdir, None)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, nargs="+", default=[100_000])
    parser.add_argument("--added", type=int, default=1_000)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--profile", default=None, help="write the full run's cProfile stats here")
    parser.add_argument(
        "--keep",
        default=None,
        help="build the library in this folder and keep it; again: add and regroup only",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.profile)
        return
    if args.profile or args.keep:
        for files in args.files:
            print(json.dumps(run(files, args.added, args.workdir, args.profile, args.keep)), flush=True)
    else:
        run_sizes(args.files, args.workdir, args.added)


if __name__ == "__main__":
    main()
