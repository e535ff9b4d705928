"""Watch mode (issue 25): from a file's last write to it being searchable, and the idle cost.

    .venv/bin/python bench/bench_watch.py --singles 10 --burst 1000 --tree 100000

Runs `Library.watch` in this process on a temp folder with a tiny random checkpoint (the model's
speed is not what is measured: bench_index.py measures encoding), clip vectors only.

- latency: (after one untimed file: the model's first call) a file written (closed) -> the run that holds it committed and checkpointed (the
  watcher's RunFinished: a search from any process finds it from then on); `--singles` files one
  at a time, then `--burst` small files written at once (each file's latency from its own last
  write), p50 and p95. It is bounded below by the settle time (`--settle`) and the OS watcher's
  grouping of events, and above by the run (walk of the changed paths, hashing, decoding, encoding).
- idle: a tree of `--tree` small non-media files under `--tree / 1000` folders, watched; the
  watcher's CPU seconds per wall second over `--idle` seconds with nothing changing (all threads of
  this process: the OS watcher's thread and the run loop), and what one periodic full rescan of
  the tree costs (seconds, CPU seconds): the price of the safety net for lost events.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.events import FileDone, RunFinished, Watching  # noqa: E402
from pe_search.api import Library  # noqa: E402
from pe_search.toy.tiny import write_tiny_checkpoint  # noqa: E402
from testkit import media  # noqa: E402

RATE = 8_000


class Recorder:
    """The watcher's events with their arrival times; waits on them."""

    def __init__(self) -> None:
        self.events: list[tuple[float, object]] = []
        self.changed = threading.Condition()

    def __call__(self, event) -> None:
        with self.changed:
            self.events.append((time.perf_counter(), event))
            self.changed.notify_all()

    def wait_for(self, condition, timeout: float = 3600.0) -> None:
        with self.changed:
            if not self.changed.wait_for(condition, timeout):
                raise TimeoutError("the watcher did not get there")

    def committed_at(self) -> dict[str, float]:
        """{path: when the run that wrote it finished}."""
        done: dict[str, float] = {}
        waiting: list[str] = []
        for at, event in self.events:
            if isinstance(event, FileDone):
                waiting.append(event.path)
            elif isinstance(event, RunFinished):
                done.update({path: at for path in waiting})
                waiting = []
        return done

    def finished_runs(self) -> list[tuple[float, RunFinished]]:
        return [(at, e) for at, e in self.events if isinstance(e, RunFinished)]


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": round(pick(0.5), 3), "p95": round(pick(0.95), 3), "n": len(ordered)}


def _write(path: Path, index: int) -> float:
    media.write_audio(path, media.tone(200 + index % 2000, 0.25, RATE), RATE)
    return time.perf_counter()


def latency(scratch: Path, checkpoint: Path, singles: int, burst: int, settle: float) -> dict:
    folder = scratch / "latency"
    folder.mkdir()
    recorder = Recorder()
    library = Library.open(scratch / "latency-library", model=str(checkpoint), frames=False)
    options = {"workers": 0, "window": 1.0, "progress": recorder}
    with library, library.watch([folder], settle=settle, rescan=3600, **options):
        recorder.wait_for(lambda: any(isinstance(e, Watching) for _, e in recorder.events))
        warm = (
            folder / "warm-up.wav"
        )  # untimed: the model's first call (allocations, kernels) is not the watcher's
        _write(warm, 0)
        recorder.wait_for(lambda: str(warm) in recorder.committed_at())
        single = []
        for index in range(singles):
            path = folder / f"single{index}.wav"
            written = _write(path, index)
            recorder.wait_for(lambda p=str(path): p in recorder.committed_at())
            single.append(recorder.committed_at()[str(path)] - written)
        runs_before = len(recorder.finished_runs())
        written_at = {}
        for index in range(burst):
            path = folder / f"burst{index:04d}.wav"
            written_at[str(path)] = _write(path, index)
        recorder.wait_for(lambda: set(written_at) <= set(recorder.committed_at()))
        committed = recorder.committed_at()
        burst_latency = [committed[path] - at for path, at in written_at.items()]
        runs = len(recorder.finished_runs()) - runs_before
    return {
        "settle_s": settle,
        "single_file_s": _percentiles(single),
        "burst_file_s": _percentiles(burst_latency),
        "burst_runs": runs,
        "burst_seconds_first_write_to_last_searchable": round(
            max(committed[p] for p in written_at) - min(written_at.values()), 2
        ),
    }


def idle(scratch: Path, checkpoint: Path, tree: int, seconds: float, settle: float) -> dict:
    folder = scratch / "tree"
    per_folder = 1000
    began = time.perf_counter()
    for index in range(tree):
        sub = folder / f"d{index // per_folder:04d}"
        if index % per_folder == 0:
            sub.mkdir(parents=True)
        (sub / f"note{index:06d}.txt").write_text("x")
    made = time.perf_counter() - began
    recorder = Recorder()
    library = Library.open(scratch / "tree-library", model=str(checkpoint), frames=False)
    began = time.perf_counter()
    rescan = 3600.0
    with (
        library,
        library.watch([folder], settle=settle, rescan=rescan, workers=0, progress=recorder) as watcher,
    ):
        recorder.wait_for(lambda: any(isinstance(e, Watching) for _, e in recorder.events))
        first_run = time.perf_counter() - began
        time.sleep(1.0)  # let the first run's own aftermath pass before measuring
        cpu, wall = time.process_time(), time.perf_counter()
        time.sleep(seconds)  # measured: nothing changes
        idle_cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
        # one rescan, as the safety net runs it every `rescan` seconds
        cpu, wall = time.process_time(), time.perf_counter()
        watcher._run(None, "rescan")  # the watcher's own full run, on this thread while it idles
        rescan_s, rescan_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "files": tree,
        "folders": -(-tree // per_folder),
        "tree_written_s": round(made, 1),
        "first_run_s": round(first_run, 1),
        "idle_seconds_measured": seconds,
        "idle_cpu_fraction": round(idle_cpu, 5),
        "rescan_s": round(rescan_s, 2),
        "rescan_cpu_s": round(rescan_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--tree", type=int, default=100_000)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measured")
    parser.add_argument("--settle", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        checkpoint = write_tiny_checkpoint(scratch / "checkpoint", "audio_video")
        result = {"latency": latency(scratch, checkpoint, args.singles, args.burst, args.settle)}
        print(json.dumps(result), file=sys.stderr, flush=True)  # the first half, while the tree is built
        if args.tree:
            result["idle"] = idle(scratch, checkpoint, args.tree, args.idle, args.settle)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
