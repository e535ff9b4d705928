"""bench_scale's `--part writer` (issue 24, item 6): the writer's memory while a library grows
file by file, and what the library costs on disk per media hour.

    .venv/bin/python bench/bench_scale.py --part writer --hours 1000 10000 --workdir /big/scratch
    .venv/bin/python bench/bench_scale.py --part writer --hours 100 --clip-spaces 1 --frames-every 20

ONE process grows a library of simulated hour-long files through the indexer's real writer
(`indexer.write.write_file`, one `LibraryStore.write()` transaction per file: `upsert_media`,
the file's text entries and audio print, its 239 clip segments, one vector per segment in each
clip space, and its frame blocks), so every index switch, build, retrain and retune happens
where it happens in an index run: after the commit of the file that crosses the threshold.

Data: bench_vectors' clustered model at d = 1024 (scale_vectors.Data: cheap rows from reused noise
pools), one model seed per clip space. Frames (40 ms audio frames: 90,000 an hour, and the
window's video frames on the default grid) are written for one file in `--frames-every` (K):
at sq8, frames for every hour of 10,000 would be ~1 TB. The frame bytes per media hour are those
files' block bytes over their hours.

Memory: the process at start (Python, numpy, FAISS, and torch, which `indexer.write` imports
through the encoder: ~420 MB, what an index run holds before its model) is recorded, and the
target is judged on the process's peak and on the writer's own, the peak over that start. The
process's VmRSS (with RssAnon and RssFile apart: pages of the library's files
mapped and touched count in VmRSS but are the page cache's, reclaimable) is sampled every
`--sample-every` files; the peak is VmHWM, reset before every file (`/proc/self/clear_refs` 5),
so each file's peak is its own. Each index message of the store (switch, build, retrain, tune)
is recorded with the file that caused it, and the peak and time of that file.

One JSON object per size in `--hours` (printed when the growth passes it; at the end, or at
`--stop-at`, the size reached if it is not one of them), with the RSS curve, the peak, the
switches, and bytes per media hour by part: vectors files, index files, frame blocks, SQLite;
at the default settings (sq8 frame codes) and the compact ones (`--frame-codes pq`, the only
setting in this code base that makes a library smaller: clip vectors are always kept as
float32, docs/store.md). The pq figure comes from a small side library holding the same frame
files coded pq (its codebook is trained on its first file, as a library's is).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DIM = 1024
PER_FILE = 239  # 30 s windows every 15 s in an hour
HOUR_S = PER_FILE * 15.0 + 15.0
FRAME_S = 0.04
CLIP_SPACES = ("audio", "video", "audio_video")
TARGET_GB = 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--clip-spaces", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--frames-every", type=int, default=100, help="K: frame blocks for one file in K")
    parser.add_argument("--sample-every", type=int, default=50, help="files between RSS samples")
    parser.add_argument(
        "--stop-at", default=None, help="HH:MM (UTC): stop growing then, report what was reached"
    )
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--library", default=None, help="grow this library (kept)")
    parser.add_argument(
        "--reader-every", type=int, default=2500, help="hours between checks that a reader process answers"
    )


def rss() -> dict[str, float]:
    """This process's memory from /proc/self/status, in MB."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


class Clustered:
    """bench_vectors' clustered model (its centres and projection), rows drawn as scale_vectors'
    `Data` draws them (centre + latent-noise row + isotropic-noise row, times a norm spread)
    but from pools of `POOL` rows shared by every space: 33 MB in all, so the generator does
    not weigh on the writer's measured memory (four `Data` would hold 1 GB)."""

    POOL = 4096

    def __init__(self, seed: int = 0) -> None:
        from bench_vectors import _model

        projection, centres, _, _ = _model(DIM, seed)
        rng = np.random.default_rng([seed, 9])
        self.centres = (centres @ projection).astype(np.float32)
        self.latent = (
            0.6 * rng.standard_normal((self.POOL, projection.shape[0]), dtype=np.float32)
        ) @ projection
        self.iso = 0.2 * rng.standard_normal((self.POOL, DIM), dtype=np.float32)

    def rows(self, stream: int, start: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([stream, 3, start])
        x = self.centres[rng.integers(0, len(self.centres), n)]
        x += self.latent[rng.integers(0, self.POOL, n)]
        x += self.iso[rng.integers(0, self.POOL, n)]
        x *= np.exp(0.15 * rng.standard_normal((n, 1))).astype(np.float32)
        return x


class Simulated:
    """Hour-long files: their clip vectors per space, text, audio print and (some) frames."""

    def __init__(self, spaces: tuple[str, ...]) -> None:
        self.spaces = spaces
        self.model = Clustered()

    def encoded(self, index: int, with_frames: bool):
        from indexer.encode import EncodedChunk, EncodedWindow
        from indexer.file_text import FileText
        from indexer.reader import FileJob
        from indexer.segments import frame_grid_step
        from indexer.settings import DEFAULT_FRAMES_PER_WINDOW
        from indexer.side_data import SideData
        from indexer.write import EncodedFile
        from pe_search.store import TextEntryRecord, path_entries

        path = f"/archive/{index // 1000:03d}/reel {index:06d}/hour{index:06d}.mov"
        clip = {space: self.model.rows(n, index * PER_FILE, PER_FILE) for n, space in enumerate(self.spaces)}
        windows = [
            EncodedWindow(path, w, w * 15.0, w * 15.0 + 30.0, {s: clip[s][w] for s in self.spaces})
            for w in range(PER_FILE)
        ]
        chunks = []
        if with_frames:
            step = frame_grid_step(30.0, 15.0, DEFAULT_FRAMES_PER_WINDOW)
            per_window = round(30.0 / step)
            video = self.model.rows(17, index * 7919, (PER_FILE + 1) * per_window // 2 + per_window)
            for w, window in enumerate(windows):
                times = tuple(window.start + i * step for i in range(per_window))
                window.frame_times = times
                first = w * per_window // 2
                window.frame_vectors = video[first : first + per_window]
            count = int(HOUR_S / FRAME_S)
            for start in range(0, count, 750):  # 30 s chunks, as PE-A-Frame runs
                n = min(750, count - start)
                chunks.append(
                    EncodedChunk(path, start * FRAME_S, self.model.rows(18, index * 100_003 + start, n))
                )
        text = path_entries(path) + [
            TextEntryRecord("tag", f"Reel {index} take {index % 7}", key="title"),
            TextEntryRecord("tag", f"Archive {index % 97}", key="artist"),
        ]
        rng = np.random.default_rng(index)
        fingerprint = rng.integers(0, 2**32, 5168, dtype=np.uint32)  # 120 s at 23.2 ms
        return EncodedFile(
            job=FileJob(path, 10**9, 1.7e9 + index, f"{index:032x}"),
            has_audio=True,
            has_video=True,
            duration=HOUR_S,
            windows=windows,
            chunks=chunks,
            side=SideData(FileText(text, "bench"), fingerprint),
        )


def disk_parts(directory: Path) -> dict[str, int]:
    """Bytes of the library by part."""
    parts = {"vectors_files": 0, "index_files": 0, "frame_blocks": 0, "sqlite": 0, "other": 0}
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        name = path.name
        if name.endswith(".f32"):
            parts["vectors_files"] += size
        elif ".index" in name:
            parts["index_files"] += size
        elif "frame" in str(path.relative_to(directory)) or name.endswith(".blocks"):
            parts["frame_blocks"] += size
        elif name.startswith("library.db"):
            parts["sqlite"] += size
        else:
            parts["other"] += size
    return parts


def frame_bytes(directory: Path) -> int:
    """Bytes of live frame blocks, from the library's own rows."""
    import sqlite3

    with sqlite3.connect(directory / "library.db") as connection:
        return int(connection.execute("SELECT coalesce(sum(nbytes), 0) FROM frame_blocks").fetchone()[0])


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


class Growth:
    """The one writing process: grows the library and records its memory as it goes."""

    def __init__(self, directory: Path, args: argparse.Namespace) -> None:
        from pe_search.models.identity import ModelIdentity
        from pe_search.store import LibraryStore

        self.directory = directory
        self.args = args
        self.simulated = Simulated(CLIP_SPACES[: args.clip_spaces])
        self.at_start = rss()  # Python, numpy, the generator: before the library is opened
        ident = ModelIdentity(("bench-scale-writer",), "config", "weights", DIM, {"text_audio": (10.0, -5.0)})
        self.store = LibraryStore.open(directory, ident)
        self.files = 0
        self.frame_files = 0
        self.curve: list[dict] = []
        self.events: list[dict] = []
        self.peak = {"VmHWM": 0.0}
        self.peak_file = -1
        self.saves: list[dict] = []
        self.readers: list[dict] = []
        self._record_saves()
        self.began, self.began_cpu = time.perf_counter(), _cpu()

    def _record_saves(self) -> None:
        """Time each index save and note what it wrote (the merge of the mapped lists and those
        held since the last save: issue 24, item 6)."""
        from pe_search.store.space_index import SpaceIndex

        growth, real_save = self, SpaceIndex.save

        def save(space, *args, **kwargs):
            held = getattr(space.index, "held_rows", lambda: -1)()
            began, cpu = time.perf_counter(), _cpu()
            header = real_save(space, *args, **kwargs)
            growth.saves.append(
                {
                    "hours": growth.files + 1, "space": space.space, "kind": header.kind,
                    "count": header.count, "held_rows_before": held,
                    "held_rows_after": getattr(space.index, "held_rows", lambda: -1)(),
                    "bytes": getattr(space.index, "saved_bytes", 0),
                    "wall_s": round(time.perf_counter() - began, 2), "cpu_s": round(_cpu() - cpu, 2),
                }
            )  # fmt: skip
            return header

        SpaceIndex.save = save

    def held_rows(self) -> int:
        """IVF-PQ codes the writer holds in memory, over all spaces."""
        return sum(getattr(s.index, "held_rows", lambda: 0)() for s in self.store._spaces.values())

    def check_reader(self) -> None:
        """A reader process opens the library mid-growth (the writer open, codes unsaved) and answers."""
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            answer = pool.submit(reader_answers, str(self.directory), self.simulated.spaces[0]).result()
        self.readers.append({"hours": self.files} | answer)
        print(f"  [{self.files} h] reader: {answer}", file=sys.stderr, flush=True)

    def grow_to(self, files: int, deadline: float | None) -> bool:
        """Write files until `files`; False when `deadline` (epoch seconds) stopped it first."""
        from indexer.write import write_file

        every = self.args.frames_every
        interval_peak = 0.0
        while self.files < files:
            if deadline is not None and time.time() >= deadline:
                return False
            index = self.files
            with_frames = index % every == every // 2
            encoded = self.simulated.encoded(index, with_frames)
            said = len(self.store.messages)
            reset_peak()
            before, began = rss(), time.perf_counter()
            write_file(self.store, encoded, FRAME_S)
            del encoded
            took = time.perf_counter() - began
            after = rss()
            self.files += 1
            self.frame_files += with_frames
            interval_peak = max(interval_peak, after["VmHWM"])
            if after["VmHWM"] > self.peak["VmHWM"]:
                self.peak, self.peak_file = after, index
            for message in self.store.messages[said:]:
                self.events.append(
                    {
                        "file": index, "hours": self.files, "message": message[:400],
                        "rss_before_mb": before["VmRSS"], "peak_mb": after["VmHWM"],
                        "rss_after_mb": after["VmRSS"], "anon_after_mb": after["RssAnon"],
                        "file_s": round(took, 1),
                    }
                )  # fmt: skip
                print(
                    f"  [{self.files} h] {message[:200]} (peak {after['VmHWM']} MB)",
                    file=sys.stderr,
                    flush=True,
                )
            if self.args.reader_every and self.files % self.args.reader_every == 0:
                self.check_reader()
            if self.files % self.args.sample_every == 0 or self.files == files:
                self.curve.append(
                    {
                        "hours": self.files, "rss_mb": after["VmRSS"], "anon_mb": after["RssAnon"],
                        "file_mb": after["RssFile"], "peak_since_last_mb": interval_peak,
                        "held_rows": self.held_rows(),
                        "wall_s": round(time.perf_counter() - self.began, 1),
                        "cpu_s": round(_cpu() - self.began_cpu, 1),
                    }
                )  # fmt: skip
                interval_peak = 0.0
                last = self.curve[-1]
                print(
                    f"  {self.files} h: rss {last['rss_mb']} MB (anon {last['anon_mb']}), peak since "
                    f"last {last['peak_since_last_mb']} MB, {last['wall_s']} s wall, {last['cpu_s']} s CPU",
                    file=sys.stderr,
                    flush=True,
                )
        return True

    def figures(self, compact_frames_per_hour: float | None) -> dict:
        hours = self.files
        parts = disk_parts(self.directory)
        frames = frame_bytes(self.directory)
        frame_hours = max(self.frame_files, 1)
        clip_parts = {k: v for k, v in parts.items() if k != "frame_blocks"}
        per_hour = {k: round(v / hours) for k, v in clip_parts.items()}
        per_hour["frame_blocks"] = round(frames / frame_hours)
        default_total = sum(per_hour.values())
        figures = {
            "hours": hours,
            "clip_spaces": list(self.simulated.spaces),
            "clip_vectors_per_space": hours * PER_FILE,
            "frames_every": self.args.frames_every,
            "frame_files": self.frame_files,
            "wall_s": round(time.perf_counter() - self.began, 1),
            "cpu_s": round(_cpu() - self.began_cpu, 1),
            "peak_rss_mb": self.peak["VmHWM"],
            "peak_at_hours": self.peak_file + 1,
            "rss_at_start_mb": self.at_start["VmRSS"],
            "rss_now_mb": rss(),
            "indexes": {
                name: space.index.spec.describe()[:300] for name, space in self.store._spaces.items()
            },
            "index_bytes_estimate_mb": {
                name: round(space.index.nbytes() / 2**20, 1) for name, space in self.store._spaces.items()
            },
            "disk_bytes": parts,
            "bytes_per_hour_default": per_hour | {"total": default_total},
            "curve": self.curve,
            "events": self.events,
            "saves": self.saves,
            "save_totals": {
                "saves": len(self.saves),
                "wall_s": round(sum(s["wall_s"] for s in self.saves), 1),
                "cpu_s": round(sum(s["cpu_s"] for s in self.saves), 1),
                "bytes": sum(s["bytes"] for s in self.saves),
            },
            "readers": self.readers,
            "load": os.getloadavg(),
            "peak_over_start_mb": round(self.peak["VmHWM"] - self.at_start["VmRSS"], 1),
            "targets_held": {
                f"process peak <= {TARGET_GB} GB": self.peak["VmHWM"] <= TARGET_GB * 1024,
                f"writer's own peak (over the process at start) <= {TARGET_GB} GB": (
                    self.peak["VmHWM"] - self.at_start["VmRSS"] <= TARGET_GB * 1024
                ),
            },
        }
        if compact_frames_per_hour is not None:
            compact = dict(per_hour, frame_blocks=round(compact_frames_per_hour))
            figures["bytes_per_hour_compact"] = compact | {"total": sum(compact.values())}
        return figures

    def close(self) -> None:
        self.store.close()


def reader_answers(directory: str, space: str) -> dict:
    """In a process of its own: open the library read-only and answer 10 queries."""
    from pe_search.store import LibraryStore

    began, cpu = time.perf_counter(), _cpu()
    queries = Clustered(seed=0).rows(99, 0, 10)
    with LibraryStore.open(Path(directory), readonly=True) as reader:
        scores, ids = reader.search_ids(space, queries, k=10)
        count = reader._synced(space).index.count()
    return {
        "answered": bool((ids >= 0).all() and np.isfinite(scores).all()), "vectors": count,
        "open_to_answers_s": round(time.perf_counter() - began, 2), "cpu_s": round(_cpu() - cpu, 2),
        "rss_mb": rss()["VmHWM"],
    }  # fmt: skip


def compact_frame_bytes_per_hour(workdir: Path, files: int = 3) -> float:
    """Frame block bytes per media hour with `--frame-codes pq`, on a side library of `files`
    frame files (the same simulated frames)."""
    from indexer.write import write_file
    from pe_search.models.identity import ModelIdentity
    from pe_search.store import LibraryStore

    directory = Path(tempfile.mkdtemp(dir=workdir, prefix="compact-"))
    try:
        simulated = Simulated(("audio",))
        ident = ModelIdentity(("bench-scale-writer",), "config", "weights", DIM, {"text_audio": (10.0, -5.0)})
        with LibraryStore.open(directory, ident) as store:
            for index in range(files):
                write_file(store, simulated.encoded(index, True), FRAME_S, "pq")
        return frame_bytes(directory) / files
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _deadline(stop_at: str | None) -> float | None:
    if stop_at is None:
        return None
    hour, minute = (int(part) for part in stop_at.split(":"))
    now = time.gmtime()
    target = time.mktime((now.tm_year, now.tm_mon, now.tm_mday, hour, minute, 0, 0, 0, 0)) - time.timezone
    return target if target > time.time() else target + 86400


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["writer"], required=True)
    add_arguments(parser)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.gettempdir())
    workdir.mkdir(parents=True, exist_ok=True)
    owned = None
    if args.library:
        directory = Path(args.library)
    else:
        owned = Path(tempfile.mkdtemp(dir=workdir, prefix="bench-writer-"))
        directory = owned / "lib"
    began = time.perf_counter()
    # in a process of its own: what pq training leaves in a process is not the writer's
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        compact = pool.submit(compact_frame_bytes_per_hour, workdir).result()
    print(
        f"  pq frame blocks: {compact / 1e6:.1f} MB an hour ({time.perf_counter() - began:.0f} s)",
        file=sys.stderr,
    )
    growth = Growth(directory, args)
    deadline = _deadline(args.stop_at)
    try:
        for hours in sorted(args.hours):
            reached = growth.grow_to(hours, deadline)
            print(json.dumps(growth.figures(compact) | {"size_hours": hours, "reached": reached}), flush=True)
            if not reached:
                break
    finally:
        growth.close()
        if owned is not None and not args.keep:
            shutil.rmtree(owned, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
