"""Frames at scale (issue 24, item 4): locate inside one 10-hour file, and library-wide locate as
the library grows to 1,000 hours. Run it alone or as `bench_scale.py --part frames` (same options).

    .venv/bin/python bench/scale_frames.py --workdir /big/scratch --in-file-hours 10 \\
        --hours 100 300 1000 --snapshots /big/scratch/snap

Media are bench_frames' simulation (10-minute audio files, 30 s clip windows every 15 s, 25
frames a second of 1024-d, events from 400 types; queries are event directions, threshold 0.3),
written through the store's real writer (`indexer.write.write_file`, `put_frames`) and queried
through the real engine (`QueryEngine.locate`). Two kinds of frames: `iid`, bench_frames' own
(each frame's noise drawn anew, norm 0.6 against a 0.8 event direction), and `smooth`, the same
with the noise varying smoothly in time (bench_frames' noise table averaged over
`--smooth-frames` consecutive rows, scaled back to norm 0.6), as frames of a steady sound do.

In-file: one file of `--in-file-hours` (900,000 frames at 10 h) as one sq8 block, per kind of
frames; locate inside it with the block's piece bounds (`frame_bounds`), without them (the
same block, the bounds left out of the read) and with sq8's kernel alone (`sq8_one_pass`: the
integer pass left out, the scan before it), warm (p50 of the queries, repeated) and cold (the
library's files evicted from the page cache with posix_fadvise(DONTNEED) before each query: only
this benchmark's files), with the share of frames whose codes were scanned. The process verifies
a block's checksums on its first read (900 MB at 10 h): that first query is reported apart.
`--frames-on-disk` builds the file's float32 frames (3.7 GB at 10 h) in a memory-mapped file.

Library-wide: 90M sq8 frames (1,000 h) are 92 GB, more than this machine's free disk. Library-wide
locate reads only the frames of the windows clip search proposes (at least 64, `LOCATE_PROPOSALS`),
so each size's library holds every file's clip vectors (the coarse step, in full, through the real
writer), grown once in a flat index and copied at each size (`--snapshots` keeps these clip-only
libraries for another run); then, per size, the clip index is switched to the kind the default
policy chooses for that many vectors (flat to 50,000, HNSW beyond: the switch's time is reported),
and per query the sq8 blocks of the files its clip search proposes are written, the query timed,
and the blocks dropped again (the disk holds one query's blocks at a time). Each size reports
p50/p90 wall and CPU ms of the whole locate, of the clip search alone, and their difference (the
frames part). `--keep-snapshots` measures the snapshots in place and keeps them, switched index
included (a second run then skips the HNSW build).

Wall time and CPU time (this process, all threads) are both given: the machine is shared.
One JSON object per measurement, on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_frames import (  # noqa: E402
    CALIBRATION,
    CHUNK,
    DIM,
    FRAME_SECONDS,
    HOP,
    NOISE,
    THRESHOLD,
    WINDOW,
    World,
    identity,
)

from indexer.encode import EncodedChunk, EncodedWindow  # noqa: E402
from indexer.reader import FileJob  # noqa: E402
from indexer.write import EncodedFile, write_file  # noqa: E402
from pe_search.models.spaces import Calibration  # noqa: E402
from pe_search.query import frames as query_frames  # noqa: E402
from pe_search.query.engine import LOCATE_PROPOSALS, QueryEngine, QueryVectors  # noqa: E402
from pe_search.store import (  # noqa: E402
    LibraryStore,
    MediaRecord,
    frame_codes,  # noqa: E402
)
from pe_search.store.frame_blocks import BlockFile  # noqa: E402
from pe_search.store.policy import IndexPolicy  # noqa: E402

IN_FILE_TARGET_MS = 100.0
LIBRARY_TARGET_MS = 150.0
FILE_MINUTES = 10.0
K = 20
PROPOSALS = max(4 * K, LOCATE_PROPOSALS)  # what locate asks clip search for at k = 20
SPACE = "audio_frame"
# Clip vectors are grown in a flat (exact) index (cheap to append file by file); each size's copy
# is then switched to what the default policy chooses for its size (POLICY) before the timings.
CLIP_POLICY = IndexPolicy(flat_max=10**8)
POLICY = IndexPolicy()  # what a library gets: the clip index measured is the one it chooses


def smooth_world(width: int) -> World:
    """bench_frames' world with its noise table averaged over `width` consecutive rows (cyclic),
    scaled back to the same mean norm: consecutive frames' noise then varies smoothly."""
    world = World()
    table = world.noise.astype(np.float64)
    sums = np.cumsum(np.concatenate([table, table[:width]]), axis=0)
    smooth = (sums[width:] - sums[:-width])[: len(table)]
    smooth *= NOISE / np.linalg.norm(smooth, axis=1).mean()
    world.noise = smooth.astype(np.float32)
    return world


def long_frames(
    world: World, seed: int, seconds: float, on_disk: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """World.frames for a long file, built in place (one float32 array, no full-size temporaries;
    `on_disk`: a memory-mapped file there, so the 3.7 GB of a 10-hour file are page cache the
    kernel may drop, not the process's own memory)."""
    rng = np.random.default_rng([seed, 1])
    count = int(round(seconds / FRAME_SECONDS))
    labels = np.empty(count, dtype=np.int64)
    at = 0
    while at < count:
        length = int(rng.integers(75, 1500))
        labels[at : at + length] = rng.integers(0, len(world.directions))
        at += length
    start = int(rng.integers(0, len(world.noise) - 1))
    if on_disk is None:
        frames = np.empty((count, DIM), np.float32)
    else:
        frames = np.lib.format.open_memmap(on_disk, mode="w+", dtype=np.float32, shape=(count, DIM))
    step = 65_536
    for lo in range(0, count, step):
        hi = min(count, lo + step)
        rows = (start + np.arange(lo, hi)) % len(world.noise)
        frames[lo:hi] = world.directions[labels[lo:hi]] * 0.8 + world.noise[rows]
    return labels, frames


def file_labels(seed: int, count: int, types: int) -> tuple[np.ndarray, int]:
    """The labels and noise-table start World.frames draws for file `seed` (same generator)."""
    rng = np.random.default_rng([seed, 1])
    labels = np.empty(count, dtype=np.int64)
    at = 0
    while at < count:
        length = int(rng.integers(75, 1500))
        labels[at : at + length] = rng.integers(0, types)
        at += length
    return labels, int(rng.integers(0, (1 << 15) - 1))


class ClipWriter:
    """Files' clip windows without their frames: a window's clip vector is the mean of its frames
    (event directions at 0.8 and the noise table's rows, summed by prefix sums) plus noise, as
    bench_frames makes it (its 0.48 s fades left out of the mean)."""

    def __init__(self, world: World) -> None:
        self.world = world
        noise = world.noise.astype(np.float64)
        self.prefix = np.concatenate([np.zeros((1, DIM)), np.cumsum(np.concatenate([noise, noise]), axis=0)])

    def encoded(self, seed: int, seconds: float, chunks: list | None = None) -> EncodedFile:
        count = int(round(seconds / FRAME_SECONDS))
        labels, start = file_labels(seed, count, len(self.world.directions))
        path = f"/sim/{seed:06d}.wav"
        job = FileJob(path=path, size=int(seconds * 96_000), mtime=1.0, content_hash=f"sim:{seed}")
        rng = np.random.default_rng([seed, 2])
        bounds, at = [], 0.0
        while at < seconds:  # the windows, as bench_frames cuts them
            end = min(at + WINDOW, seconds)
            bounds.append((at, end))
            if end >= seconds:
                break
            at += HOP
        types, table = len(self.world.directions), len(self.world.noise)
        events = np.zeros((len(bounds), types))
        noise = np.zeros((len(bounds), DIM))
        for row, (at, end) in enumerate(bounds):
            lo, hi = int(at / FRAME_SECONDS), int(end / FRAME_SECONDS)
            first = (start + lo) % table
            noise[row] = (self.prefix[first + hi - lo] - self.prefix[first]) / (hi - lo)
            events[row] = np.bincount(labels[lo:hi], minlength=types) / (hi - lo)
        vectors = 0.8 * events @ self.world.directions + noise
        windows = []
        for index, (at, end) in enumerate(bounds):
            clip = vectors[index] + rng.standard_normal(DIM) * (0.2 / np.sqrt(DIM))
            windows.append(EncodedWindow(path, index, at, end, {"audio": clip.astype(np.float32)}))
        return EncodedFile(job, True, False, seconds, windows=windows, chunks=chunks or [])


def evict(folder: Path) -> None:
    """Drop this library's own files from the page cache (nothing else is touched)."""
    for path in list(folder.rglob("*.blocks")) + list(folder.rglob("*.f32")):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(call) -> tuple[float, float, object]:
    """(wall ms, CPU ms of this process with all its threads, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


def summary(pairs: list[tuple[float, float]]) -> dict:
    wall = np.array([p[0] for p in pairs])
    cpu = np.array([p[1] for p in pairs])
    return {
        "wall_ms_p50": round(float(np.percentile(wall, 50)), 1),
        "wall_ms_p90": round(float(np.percentile(wall, 90)), 1),
        "cpu_ms_p50": round(float(np.percentile(cpu, 50)), 1),
        "cpu_ms_p90": round(float(np.percentile(cpu, 90)), 1),
        "n": len(pairs),
    }


class NoBounds:
    """Reads blocks with their piece bounds left out (the scan then reads every code)."""

    def __enter__(self):
        self.saved = BlockFile._bounds
        BlockFile._bounds = lambda *args, **kwargs: None
        return self

    def __exit__(self, *exc):
        BlockFile._bounds = self.saved


def scanned_share(store: LibraryStore, media_id: int, queries: np.ndarray) -> float:
    """The share of the block's frames whose codes a bounded scan reads, over the queries."""
    calibration = Calibration(*CALIBRATION["text_audio_frame"])
    sign, cutoff, slack = query_frames._cut(calibration, THRESHOLD)
    frames = store.frame_slice(media_id, SPACE)
    return float(np.mean([frames.scan(sign * q, cutoff, slack).scanned / len(frames) for q in queries]))


def in_file(
    kind: str, world: World, hours: float, workdir: Path, repeats: int, queries: int, on_disk: bool = False
) -> dict:
    folder = workdir / f"in-file-{kind}"
    spill = workdir / f"in-file-{kind}.frames.npy" if on_disk else None
    labels, frames = long_frames(world, 999_999, hours * 3600, spill)
    started = time.perf_counter()
    with LibraryStore.open(folder, identity()) as store, store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(path="/sim/long.wav", size=1, mtime=1.0, content_hash="long", status="indexed")
        )
        starts = np.arange(len(frames)) * FRAME_SECONDS
        tx.put_frames(media_id, SPACE, starts, starts + FRAME_SECONDS, frames, "sq8")
    write_s = time.perf_counter() - started
    count = len(frames)
    del frames
    if spill is not None:
        spill.unlink()
    present = np.unique(labels)
    asked = np.concatenate(
        [world.directions[present[: queries // 2]], world.directions[: queries - queries // 2]]
    )
    result: dict = {
        "part": "in-file",
        "frames": kind,
        "hours": hours,
        "frame_count": count,
        "write_s": round(write_s, 1),
    }
    with LibraryStore.open(folder, readonly=True) as store:
        block = store.frame_slice(media_id, SPACE)
        bounds_bytes = (
            0 if block.bounds is None else block.bounds.radii.nbytes + block.bounds.centroids.nbytes
        )
        result["codes_mb_per_hour"] = round(block.codes.nbytes / 1e6 / hours, 1)
        result["bounds_mb_per_hour"] = round(bounds_bytes / 1e6 / hours, 2)
        engine = QueryEngine(store)

        def locate(query):
            return lambda: engine.locate(query, THRESHOLD, media_id=media_id, path="/sim/long.wav")

        evict(folder)
        wall, cpu, _ = timed(locate(asked[0]))  # maps the block and checks its checksums
        result["first_query_wall_ms"], result["first_query_cpu_ms"] = round(wall, 1), round(cpu, 1)
        for name, context in (("bounds", None), ("no_bounds", NoBounds), ("sq8_one_pass", OnePass)):
            with context() if context else _nothing():
                warm = [timed(locate(q))[:2] for _ in range(repeats) for q in asked]
                cold = []
                for q in asked:
                    evict(folder)
                    cold.append(timed(locate(q))[:2])
            result[f"{name}_warm"] = summary(warm)
            result[f"{name}_cold"] = summary(cold)
        result["scanned_share"] = round(scanned_share(store, media_id, asked), 4)
    result["target_in_file_p50_ms"] = IN_FILE_TARGET_MS
    result["target_held_warm_cpu"] = result["bounds_warm"]["cpu_ms_p50"] <= IN_FILE_TARGET_MS
    shutil.rmtree(folder)
    return result


class OnePass:
    """sq8 scanned by its own kernel alone (the integer pass left out: the design before it)."""

    def __enter__(self):
        self.saved = frame_codes._coarse
        frame_codes._coarse = lambda job: None
        return self

    def __exit__(self, *exc):
        frame_codes._coarse = self.saved


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def grow(store: LibraryStore, clips: ClipWriter, world: World, have: int, want: int, full: bool) -> None:
    """Write files have .. want-1: clip vectors, and every frame block when `full`."""
    seconds = FILE_MINUTES * 60
    for seed in range(have, want):
        chunks = None
        if full:  # the frames bench_frames gives this file, in the indexer's 30 s chunks
            _, frames = world.frames(seed, seconds)
            per_chunk = int(CHUNK / FRAME_SECONDS)
            path = f"/sim/{seed:06d}.wav"
            chunks = [
                EncodedChunk(path, i * CHUNK, frames[at : at + per_chunk])
                for i, at in enumerate(range(0, len(frames), per_chunk))
            ]
        encoded = clips.encoded(seed, seconds, chunks)
        write_file(store, encoded, FRAME_SECONDS, "sq8")
        if (seed + 1) % 500 == 0:
            logging.info("%d/%d files", seed + 1, want)


def frames_part(store: LibraryStore, proposals: list, query: np.ndarray, together: bool) -> list:
    """What locate does after clip search: its candidates' windows scanned together
    (`library_spans`, as the engine does) or one window after another (`file_spans`, as before)."""
    calibration = Calibration(*CALIBRATION["text_audio_frame"])
    readers = query_frames.block_readers(store, SPACE, [p.media_id for p in proposals])
    if together:
        return query_frames.library_spans(readers, proposals, query, calibration, THRESHOLD)
    return [
        query_frames.file_spans(readers[p.media_id], query, calibration, THRESHOLD, 0.0, p.windows)
        for p in proposals
        if p.media_id in readers
    ]


def proposed_files(store: LibraryStore, query: np.ndarray) -> list[int]:
    """The files clip search proposes for `query` (what library-wide locate reads)."""
    return sorted({p.media_id for p in query_frames.propose(store, "audio", query, PROPOSALS)})


def put_blocks(store: LibraryStore, world: World, media_ids: list[int]) -> None:
    """sq8 frame blocks (bench_frames' frames of each file), one transaction per file."""
    for media_id in media_ids:
        seed = int(Path(store.get_media(media_id).path).stem)
        _, frames = world.frames(seed, FILE_MINUTES * 60)
        starts = np.arange(len(frames)) * FRAME_SECONDS
        ends = np.minimum(starts + FRAME_SECONDS, FILE_MINUTES * 60)
        with store.write() as tx:
            tx.put_frames(media_id, SPACE, starts, ends, frames, "sq8")


def drop_blocks(store: LibraryStore, media_ids: list[int]) -> None:
    """Remove these files' blocks again and compact (the disk holds one query's blocks at a time).
    Reaches the frame store through the transaction: no public call drops a block alone."""
    with store.write() as tx:
        for media_id in media_ids:
            tx._sink.frames.remove(tx.session, media_id, SPACE)
    store.compact()


def build_snapshots(folder: Path, hours: list[float], world: World) -> dict[float, Path]:
    """Clip-only libraries at each size (every file's clip windows through the real writer, no
    frames), grown once in a flat index and copied at each size: `folder/clip-{h}h`. Kept and
    reused when already there."""
    clips = None
    per_hour = int(round(60 / FILE_MINUTES))
    growing = folder / "growing"
    snapshots = {}
    for size in sorted(hours):
        target = folder / f"clip-{size:g}h"
        snapshots[size] = target
        if target.exists():
            continue
        clips = clips or ClipWriter(world)
        with LibraryStore.open(growing, identity(), policy=CLIP_POLICY) as store:
            have = len(list(store.iter_media()))
            started = time.perf_counter()
            grow(store, clips, world, have, int(size * per_hour), full=False)
            logging.info("%g h: %d files, %.0f s", size, int(size * per_hour), time.perf_counter() - started)
        shutil.copytree(growing, target)
    shutil.rmtree(growing, ignore_errors=True)
    return snapshots


def measure_snapshot(
    snapshot: Path,
    hours: float,
    world: World,
    queries: np.ndarray,
    repeats: int,
    policy: IndexPolicy,
    keep: bool = False,
) -> dict:
    """Library-wide locate on a clip-only snapshot (used up unless `keep`): the clip index switched
    to what `policy` chooses at this size, then per query the proposed files' blocks written, the
    query timed (warm and cold), the blocks dropped again. Kept, the snapshot is measured in place
    and keeps its switched index (a second run skips the switch: an HNSW build at 1,000 h)."""
    folder = snapshot
    if not keep:
        folder = snapshot.parent / f"measure-{hours:g}h"  # the snapshot is used up (disk: one copy)
        shutil.rmtree(folder, ignore_errors=True)
        snapshot.rename(folder)
    row: dict = {"part": "library-wide", "blocks": "files clip search proposes, per query", "hours": hours}
    started = time.perf_counter()
    with LibraryStore.open(folder, identity(), policy=policy) as store, store.write() as tx:
        # a commit: the clip index switches to the policy's kind for this size
        tx.upsert_media(MediaRecord(path="/sim/x.wav", size=1, mtime=1.0, content_hash="x", status="indexed"))
    row["index_switch_s"] = round(time.perf_counter() - started, 1)
    warm, cold, clip, files, batched, alone, first, clip_cold = [], [], [], [], [], [], [], []
    for query in queries:
        with LibraryStore.open(folder, identity(), policy=policy) as store:
            wanted = proposed_files(store, query)
            put_blocks(store, world, wanted)
        files.append(len(wanted))
        with LibraryStore.open(folder, readonly=True, policy=policy) as store:
            engine = QueryEngine(store)
            vectors = QueryVectors(lambda name, q=query: q, frozenset({"text"}), frozenset({"text_audio"}))

            def locate(engine=engine, query=query, vectors=vectors):
                return engine.locate(query, THRESHOLD, k=K, clip_query=vectors)

            def propose(store=store, query=query):
                return query_frames.propose(store, "audio", query, PROPOSALS)

            first.append(timed(locate)[:2])  # first query: index load and checksums
            warm += [timed(locate)[:2] for _ in range(repeats)]
            clip += [timed(propose)[:2] for _ in range(repeats)]
            proposals = propose()

            def part(together, store=store, proposals=proposals, query=query):
                return lambda: frames_part(store, proposals, query, together)

            batched += [timed(part(True))[:2] for _ in range(repeats)]
            alone += [timed(part(False))[:2] for _ in range(repeats)]
            evict(folder)
            cold.append(timed(locate)[:2])
            evict(folder)
            clip_cold.append(timed(propose)[:2])
            row["clip_vectors"] = engine.spaces.get("audio", 0)
            row["index_kind"] = policy.kind_for(row["clip_vectors"], DIM)
        disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e9
        row["disk_gb_with_blocks"] = max(row.get("disk_gb_with_blocks", 0.0), round(disk, 2))
        with LibraryStore.open(folder, identity(), policy=policy) as store:
            drop_blocks(store, wanted)
    row["files_proposed_per_query"] = files
    row["warm"], row["cold"], row["clip_search_warm"] = summary(warm), summary(cold), summary(clip)
    row["clip_search_cold"], row["first_query_after_open"] = summary(clip_cold), summary(first)
    rest = row["warm"]["cpu_ms_p50"] - row["clip_search_warm"]["cpu_ms_p50"]
    row["locate_less_clip_search_cpu_ms_p50"] = round(rest, 1)
    row["frames_part_batched"], row["frames_part_per_window"] = summary(batched), summary(alone)
    row["target_p50_ms"] = LIBRARY_TARGET_MS
    row["target_held_warm_cpu"] = row["warm"]["cpu_ms_p50"] <= LIBRARY_TARGET_MS
    if not keep:
        shutil.rmtree(folder)
    return row


def library_wide(args, workdir: Path, world: World, queries: np.ndarray) -> list[dict]:
    snapshots = build_snapshots(args.snapshots or workdir, args.hours, world)
    if args.build_only:
        return []
    results = []
    for hours, snapshot in sorted(snapshots.items(), reverse=True):  # the target size first
        policy = POLICY if args.clip_index == "policy" else CLIP_POLICY
        row = measure_snapshot(snapshot, hours, world, queries, args.repeats, policy, args.keep_snapshots)
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--in-file-hours", type=float, default=10.0, help="0: skip")
    parser.add_argument("--hours", type=float, nargs="*", default=[100.0, 300.0, 1000.0])
    parser.add_argument(
        "--snapshots", type=Path, default=None, help="keep the clip-only libraries here (reused when present)"
    )
    parser.add_argument("--build-only", action="store_true", help="only build the clip-only libraries")
    parser.add_argument(
        "--keep-snapshots",
        action="store_true",
        help="measure the snapshots in place and keep them (with their switched clip index) for another run",
    )
    parser.add_argument(
        "--clip-index",
        choices=["policy", "flat"],
        default="policy",
        help="the clip index timed: the default policy's for each size, or flat (exact) at every size",
    )
    parser.add_argument("--kinds", nargs="+", default=["smooth", "iid"], choices=["smooth", "iid"])
    parser.add_argument(
        "--smooth-frames", type=int, default=25, help="frames the smooth noise is averaged over"
    )
    parser.add_argument(
        "--queries", type=int, default=4, help="library-wide queries (each proposes up to 80 files)"
    )
    parser.add_argument("--in-file-queries", type=int, default=8)
    parser.add_argument(
        "--frames-on-disk",
        action="store_true",
        help="build the long file's float32 frames in a memory-mapped file under --workdir (3.7 GB at 10 h)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("pe_search").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="scale-frames-", dir=args.workdir))
    try:
        if args.in_file_hours > 0:
            for kind in args.kinds:
                world = smooth_world(args.smooth_frames) if kind == "smooth" else World()
                row = in_file(
                    kind,
                    world,
                    args.in_file_hours,
                    workdir,
                    args.repeats,
                    args.in_file_queries,
                    args.frames_on_disk,
                )
                row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3)
                print(json.dumps(row), flush=True)
        if args.hours:
            world = World()
            library_wide(args, workdir, world, world.directions[: args.queries])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()


def run_as_part(argv: list[str]) -> bool:
    """`bench_scale.py --part frames ...`: run this benchmark with the other options (True), or
    leave another part to bench_scale (False)."""
    at = argv.index("--part") if "--part" in argv else -1
    if at < 0 or argv[at + 1 : at + 2] != ["frames"]:
        return False
    main(argv[:at] + argv[at + 2 :])
    return True
