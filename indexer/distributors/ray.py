"""The Ray distributor: file jobs -> a Ray Dataset -> actors that decode + encode -> outcomes.

The jobs the planner decided to encode become a Ray Dataset, one file per row. One
`map_batches` stage runs on a pool of actors (`FileEncoder`): each loads the models once, by the
same ids or directories the driver loaded (`ModelSet.source`), then runs the run's
`EncodeStage` on whole files with a local distributor (in the actor, or with decode worker
processes) and returns one row per file: the pickled `EncodedFile`, or the reason it failed. The
rows stream back to the driver, which stays the single writer of the library (the pipeline's
`SingleWriter`, one transaction per file), so a library never has two writers and a file is
committed whole or not at all.

Decoding runs inside the encoding actor rather than in a stage of its own: a decoded 30 s
window (16 preprocessed frames, 1.4 M audio samples) is ~30 MB, its vectors a few KB, so
moving decoded windows between nodes would cost far more network and object store than the
decoding it spreads (under 1 % of the encoder's time on CPU, docs/benchmarks.md).

Media files are read by the actors from their own paths: every node must see the media at the
same path (a shared mount). `check_shared_paths` proves that for every node before any work
starts, and an actor that meets a file it cannot see stops the run with the same error rather
than recording the file as bad.

Faults: Ray Data restarts a killed actor and retries its batch; the driver drops a file it has
already written (a retry of a batch that had been delivered), so nothing is lost or
duplicated. A killed driver takes its actors with it; running again resumes from the files
committed so far, as a local run does.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.distributors.local import InProcess, LocalWorkers
from indexer.reader import FileJob
from indexer.settings import IndexSettings
from indexer.stage import EncodeStage, FileFailure, FileOutcome
from indexer.write import EncodedFile
from pe_search.errors import Option, PeSearchError
from pe_search.models.model_set import ModelSet, ModelSource

log = logging.getLogger(__name__)

RAY = Option("ray")
# Passed to the actors so that they run the encoder as the driver would (speed paths, offline hub).
FORWARDED_ENV_PREFIXES = ("PE_SEARCH_", "HF_HUB_OFFLINE", "TORCHINDUCTOR_CACHE_DIR")
MTIME_TOLERANCE = 2.0  # seconds: network file systems may round modification times
SHARE_FIX = (
    "every node must see the media at the same path (mount the same share everywhere), or index without {0}"
)


class RayNotInstalled(PeSearchError):
    def __init__(self) -> None:
        super().__init__(
            "{0} needs Ray, which is not installed", "pip install 'pe-search[ray]'", options=(RAY,)
        )


class RayClusterError(PeSearchError):
    """No cluster at the address, or the cluster cannot run the job as asked."""


class InvalidRayOptions(PeSearchError, ValueError):
    """A RayOptions value that cannot be used (no actors, a negative worker count)."""


class MediaNotShared(PeSearchError):
    """A node of the cluster cannot read files the driver planned to encode."""


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray. `address`: "auto" (the running cluster: RAY_ADDRESS or the local head),
    "local" (start a Ray instance in this process) or a cluster address (host:port, ray://...)."""

    address: str = "auto"
    actors: int | None = None  # default: one per GPU; without GPUs, the cluster's CPUs minus one
    files_per_batch: int = 1  # files an actor takes at a time (a killed actor repeats at most these)
    cpus_per_actor: float = 1.0
    gpus_per_actor: float | None = None  # default: 1 where the cluster has GPUs, else 0
    decode_workers: int | None = None  # decode processes per actor; default: 0 on CPU actors,
    # cpus_per_actor - 1 on GPU actors (decoding then overlaps the GPU's work)

    def __post_init__(self) -> None:
        for value, least, option in (
            (self.actors, 1, Option("actors", flag="--ray-actors")),
            (self.files_per_batch, 1, Option("files_per_batch", flag="--ray-batch-files")),
            (self.decode_workers, 0, Option("decode_workers", cli=False)),  # no flag: RayOptions only
        ):
            if value is not None and value < least:
                raise InvalidRayOptions(f"{{0}} must be at least {least}", options=(option,), value=value)


def import_ray():
    """The `ray` module with Ray Data, or RayNotInstalled with the one-line install hint."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra installs both; a bare `ray` lacks Data)
    except ImportError:
        raise RayNotInstalled() from None
    return ray


def connect(address: str):
    """Join (or, for "local", start) the cluster; a driver already connected stays connected."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except ConnectionError as error:
        where = "no running cluster found" if address == "auto" else f"cannot reach {address}"
        raise RayClusterError(
            f"{{0}}: {where} ({str(error).splitlines()[0]})",
            "start one with `ray start --head`, or use {1}",
            options=(Option("ray", address), Option("ray", "local")),
            value=address,
        ) from None
    return ray


@dataclass(frozen=True)
class ActorPlan:
    """How many actors, with what resources: decided once from the cluster's resources."""

    actors: int
    cpus: float
    gpus: float
    decode_workers: int = 0

    @property
    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"


def plan_actors(options: RayOptions, cluster: dict[str, float], files: int) -> ActorPlan:
    """Actors sized to the cluster. CPU pools leave one CPU free, so Ray Data's read and
    bookkeeping tasks are never starved by actors holding every CPU (ray#44687)."""
    gpus_total = cluster.get("GPU", 0.0)
    cpus_total = cluster.get("CPU", 0.0)
    gpus = options.gpus_per_actor if options.gpus_per_actor is not None else (1.0 if gpus_total else 0.0)
    if gpus > gpus_total:
        raise RayClusterError(
            f"actors ask for {gpus:g} GPU each but the cluster has {gpus_total:g}",
            "ask for fewer with {0}",
            options=(Option("gpus_per_actor", cli=False),),
            value=gpus,
        )
    if options.cpus_per_actor > cpus_total:
        raise RayClusterError(
            f"actors ask for {options.cpus_per_actor:g} CPU each but the cluster has {cpus_total:g}",
            "ask for fewer with {0}",
            options=(Option("cpus_per_actor", flag="--ray-cpus-per-actor"),),
            value=options.cpus_per_actor,
        )
    if options.actors is not None:
        actors = options.actors
    elif gpus:
        actors = max(1, int(gpus_total // gpus))
    else:
        actors = max(1, int((cpus_total - 1) // options.cpus_per_actor))
    decode_workers = options.decode_workers
    if decode_workers is None:
        decode_workers = max(0, int(options.cpus_per_actor) - 1) if gpus else 0
    return ActorPlan(max(1, min(actors, files)), options.cpus_per_actor, gpus, decode_workers)


def check_shared_paths(ray, jobs: Sequence[FileJob]) -> None:
    """Every alive node sees every job's file at its path with the driver's size and mtime, or
    MediaNotShared names the node and the first file it cannot read."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    signatures = [(job.path, job.size, job.mtime) for job in jobs]
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
    probe = ray.remote(num_cpus=0)(_unreadable)
    pending = {
        node["NodeManagerAddress"]: probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote(signatures)
        for node in nodes
    }
    for address, result in pending.items():
        problems = ray.get(result)
        if problems:
            path, problem = problems[0]
            more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
            raise MediaNotShared(
                f"Ray node {address} cannot read {path} ({problem}){more}",
                SHARE_FIX,
                options=(RAY,),
                value=path,
            )


def _unreadable(signatures: list[tuple[str, int, float]]) -> list[tuple[str, str]]:
    """(path, problem) for each file this node cannot read as the driver saw it."""
    problems = []
    for path, size, mtime in signatures:
        problem = _file_problem(path, size, mtime)
        if problem:
            problems.append((path, problem))
    return problems


def _file_problem(path: str, size: int, mtime: float) -> str | None:
    try:
        stat = os.stat(path)
    except OSError as error:
        return error.strerror or "not found"
    if stat.st_size != size or abs(stat.st_mtime - mtime) > MTIME_TOLERANCE:
        return "a different file: size or modification time differ from the driver's"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def covered_seconds(encoded: EncodedFile) -> float:
    """Media seconds the file's clip windows cover (overlaps counted once), as a local run counts."""
    covered = total = 0.0
    for window in sorted(encoded.windows, key=lambda w: w.start):
        total += max(0.0, window.end - max(window.start, covered))
        covered = max(covered, window.end)
    return total


class FileEncoder:
    """A Ray Data actor: the models, loaded once; each call decodes and encodes a batch of files."""

    def __init__(
        self, source: ModelSource, settings: IndexSettings, batch_size: int, plan: ActorPlan
    ) -> None:
        import torch

        torch.set_num_threads(max(1, int(plan.cpus) - plan.decode_workers))
        self.stage = EncodeStage(source.load(plan.device), settings, batch_size)
        self.local = LocalWorkers(plan.decode_workers) if plan.decode_workers else InProcess()
        self.weights = self.stage.models.identity().weights_hash

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        jobs = [
            FileJob(str(p), int(s), float(m), str(h))
            for p, s, m, h in zip(batch["path"], batch["size"], batch["mtime"], batch["content_hash"])
        ]
        missing = {job.path: _file_problem(job.path, job.size, job.mtime) for job in jobs}
        readable = [job for job in jobs if not missing[job.path]]
        outcomes = {_path(o): o for o in self.local.encoded_files(readable, self.stage)} if readable else {}
        rows: dict[str, list] = {"path": [], "encoded": [], "reason": [], "unreadable": [], "weights": []}
        for job in jobs:
            outcome = outcomes.get(job.path)
            rows["path"].append(job.path)
            rows["encoded"].append(
                pickle.dumps(outcome, protocol=5) if isinstance(outcome, EncodedFile) else b""
            )
            rows["reason"].append(outcome.reason if isinstance(outcome, FileFailure) else "")
            rows["unreadable"].append(missing[job.path] or "")
            rows["weights"].append(self.weights)
        return {name: np.array(values, dtype=object) for name, values in rows.items()}


def _path(outcome: FileOutcome) -> str:
    return outcome.job.path


@dataclass(frozen=True)
class RayDistributor:
    """Decode + encode on a Ray cluster (a `distributors.Distributor`): `run_index(distributor=...)`."""

    options: RayOptions = RayOptions()

    def encoded_files(self, jobs: Sequence[FileJob], stage: EncodeStage) -> Iterator[FileOutcome]:
        """Each job's outcome once, in the order actors finish them (a retried batch can deliver
        a file twice: the first is kept). Media seconds and Ctrl-C go through `stage` as in a
        local run; a file's media seconds count when it arrives."""
        by_path = {job.path: job for job in jobs}
        done: set[str] = set()
        started = time.perf_counter()
        for outcome in encode_on_ray(jobs, stage.settings, stage.models, self.options, stage.batch_size):
            path = _path(outcome)
            if path in done or path not in by_path:
                continue
            done.add(path)
            if isinstance(outcome, EncodedFile):
                stage.media_seconds += covered_seconds(outcome)
                if stage.on_media is not None:
                    stage.on_media(stage.media_seconds, time.perf_counter() - started)
            yield outcome
            if stage.stop.is_set() and len(done) < len(jobs):
                stage.interrupted = True
                return


def ray_distributor(ray: str | RayOptions) -> RayDistributor:
    """From `--ray`'s value or RayOptions; RayNotInstalled (the install line) before anything runs."""
    import_ray()
    return RayDistributor(ray if isinstance(ray, RayOptions) else RayOptions(address=ray))


def encode_on_ray(
    jobs: Sequence[FileJob],
    settings: IndexSettings,
    models: ModelSet,
    options: RayOptions,
    batch_size: int,
) -> Iterator[FileOutcome]:
    """Each job's EncodedFile or FileFailure as the actors deliver them (possibly twice)."""
    if not jobs:
        return
    if models.source is None:  # a programming error, not a user's: models built in memory
        raise ValueError("Ray actors load models by id: use a ModelSet from ModelSet.load")
    ray = connect(options.address)
    plan = plan_actors(options, ray.cluster_resources(), len(jobs))
    check_shared_paths(ray, jobs)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the indexer shows its own: files and media seconds
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    by_path = {job.path: job for job in jobs}
    rows = [{"path": j.path, "size": j.size, "mtime": j.mtime, "content_hash": j.content_hash} for j in jobs]
    blocks = max(1, -(-len(jobs) // options.files_per_batch))
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        FileEncoder,
        fn_constructor_kwargs={
            "source": models.source,
            "settings": settings,
            "batch_size": batch_size,
            "plan": plan,
        },
        batch_size=options.files_per_batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_cpus=plan.cpus,
        num_gpus=plan.gpus,
        runtime_env={"env_vars": env},
    )
    log.info("encoding %d files on Ray with %d actors (%s)", len(jobs), plan.actors, plan.device)
    expected_weights = models.identity().weights_hash
    for row in dataset.iter_rows():
        if row["weights"] != expected_weights:
            raise RayClusterError(
                f"a Ray actor loaded other weights for {models.source.model} than this process",
                "give a checkpoint directory every node shares, or the same hub cache on every node",
                value=models.source.model,
            )
        if row["unreadable"]:
            raise MediaNotShared(
                f"a Ray worker cannot read {row['path']} ({row['unreadable']})",
                SHARE_FIX,
                options=(RAY,),
                value=row["path"],
            )
        if row["reason"]:
            yield FileFailure(by_path[row["path"]], row["reason"])
        else:
            yield pickle.loads(row["encoded"])
