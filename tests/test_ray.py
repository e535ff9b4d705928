"""`index --ray` on Ray's own local cluster (no mock): one cluster shared by every test here.

The reference is a local run on the same folder with one torch thread, the thread count of a
one-CPU actor (the order of float sums differs between thread counts, by ~2e-5 on the tiny models,
for local runs as much as for Ray).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import ray
import soundfile
import torch
from indexing import FAST, assert_same_library, local_ray_cluster, make_folder, snapshot

from indexer import write
from indexer.distributors.ray import (
    ActorPlan,
    MediaNotShared,
    RayNotInstalled,
    RayOptions,
    check_shared_paths,
    encode_on_ray,
    plan_actors,
)
from indexer.reader import FileJob
from pe_search import Library, crash_points
from pe_search.duplicates.audio_fingerprint import fingerprint_file
from pe_search.models.model_set import ModelSet
from pe_search.store import LibraryStore
from testkit import media

TIMEOUT = 300  # seconds for any one run: a hang fails the test instead of stalling CI
FILES = 11  # make_folder's five (one broken) and six more tones
OPTIONS = {"window": 1.0, "hop": 0.5, "frames_per_window": 4, "batch_size": 2}
ACTOR_TITLE = b"FileEncoder"  # Ray names an actor's process after its class


@pytest.fixture(scope="module")
def cluster():
    """A two-CPU Ray cluster started by this process; its address for other drivers."""
    with local_ray_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = make_folder(tmp_path_factory.mktemp("ray-media"))
    for index in range(FILES - 5):
        media.write_audio(root / f"extra{index}.wav", media.tone(300 + 90 * index, 1.5, 48_000), 48_000)
    return root


@pytest.fixture(scope="module")
def models(checkpoint_dirs) -> tuple[str, str]:
    return str(checkpoint_dirs["audio_video"]), str(checkpoint_dirs["audio_frame"])


@pytest.fixture(scope="module")
def reference(cluster, folder, models, tmp_path_factory):
    """The same folder indexed locally: (library snapshot, summary)."""
    library_dir = tmp_path_factory.mktemp("ray-reference") / "library"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Library.open(library_dir, model=models[0], frame_model=models[1]) as library:
            summary = library.index([folder], workers=0, **OPTIONS)
    finally:
        torch.set_num_threads(threads)
    return snapshot(library_dir), summary


def _open(tmp_path, models) -> Library:
    return Library.open(tmp_path / "library", model=models[0], frame_model=models[1])


def _indexed(library_dir: Path, statuses: tuple[str, ...] = ("indexed",)) -> int:
    """Files committed so far, read the way any other reader would (WAL: never blocks the writer)."""
    database = library_dir / "library.db"
    if not database.exists():
        return 0
    query = f"select count(*) from media_files where status in ({', '.join('?' * len(statuses))})"
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute(query, statuses).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _actor_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if ACTOR_TITLE in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_ray_run_equals_a_local_run_and_stays_incremental(cluster, folder, models, reference, tmp_path):
    expected, local = reference
    with _open(tmp_path, models) as library:
        summary = library.index([folder], ray=cluster, **OPTIONS)
    assert summary.files_indexed == local.files_indexed == FILES - 1
    assert summary.failed == local.failed and "broken.mp4" in summary.failed[0]["path"]
    assert summary.segments == local.segments and summary.vectors == local.vectors
    assert summary.media_seconds == pytest.approx(local.media_seconds)
    assert_same_library(snapshot(tmp_path / "library"), expected, atol=1e-5)
    with _open(tmp_path, models) as library:  # a local run afterwards finds nothing to encode
        again = library.index([folder], workers=0, **OPTIONS)
        status = library.status()
    assert (again.files_indexed, again.skipped, again.failed) == (0, FILES, local.failed)
    assert status.media_by_status == {"indexed": FILES - 1, "failed": 1}


def test_the_driver_decodes_nothing_and_the_side_data_comes_from_the_actors(
    cluster, folder, models, tmp_path, monkeypatch
):
    files = [folder / "tone440.wav", folder / "square.mp4"]  # libsndfile and FFmpeg paths
    expected = {str(path): fingerprint_file(path) for path in files}  # the media layer's own, here
    opened: list[str] = []

    def counted(function):
        def wrapper(*args, **kwargs):
            opened.append(str(args[0]) if args else "?")
            return function(*args, **kwargs)

        return wrapper

    # Every way the media layer opens a file, counted in this (the driver's) process only: the
    # actors are other processes.
    monkeypatch.setattr(av, "open", counted(av.open))
    monkeypatch.setattr(soundfile, "SoundFile", counted(soundfile.SoundFile))
    with _open(tmp_path, models) as library:
        summary = library.index(files, ray=cluster, **OPTIONS)
    monkeypatch.undo()
    assert summary.files_indexed == 2 and not summary.failed
    assert opened == [], "the driver opened media"
    with LibraryStore.open(tmp_path / "library", readonly=True) as store:
        stored = {p.path: p.codes for p in store.audio_fingerprints()}
        # the file's name entry (its tags, also text entries, may match "tone" too)
        (name,) = [match for match in store.search_text("tone440") if match.field == "name"]
    assert sorted(stored) == sorted(expected) and name.path.endswith("tone440.wav")
    for path, codes in expected.items():
        np.testing.assert_array_equal(stored[path], codes if codes is not None else np.zeros(0, np.uint32))


def test_an_actor_killed_mid_run_is_replaced_and_nothing_is_lost_or_doubled(
    cluster, folder, models, reference, tmp_path, monkeypatch
):
    expected, _ = reference
    killed: dict[str, int] = {}
    real_write_file = write.write_file

    def write_then_kill(store, *args, **kwargs):
        """The run's writer, which kills the actor right after the second commit: the kill
        lands mid-run, with eight files to go, however fast or slow the machine."""
        written = real_write_file(store, *args, **kwargs)
        if "pid" not in killed and _indexed(tmp_path / "library") >= 2:
            pid = min(_actor_pids())
            killed["committed"] = _indexed(tmp_path / "library")
            os.kill(pid, signal.SIGKILL)
            killed["pid"] = pid
        return written

    monkeypatch.setattr(write, "write_file", write_then_kill)
    with _open(tmp_path, models) as library:
        summary = library.index(
            [folder],
            ray=RayOptions(address=cluster, actors=1, files_per_batch=1),
            **OPTIONS,
        )
    assert "pid" in killed, "the actor should have been killed during the run"
    assert killed["committed"] < FILES - 1, "the kill should land before the last file"
    assert summary.files_indexed == FILES - 1 and len(summary.failed) == 1
    assert_same_library(snapshot(tmp_path / "library"), expected, atol=1e-5)


def test_a_killed_driver_resumes_without_encoding_committed_files_again(
    cluster, folder, models, reference, tmp_path
):
    expected, _ = reference
    library_dir = tmp_path / "library"
    command = [
        sys.executable, "-m", "pe_search", "index", str(folder), "--library", str(library_dir),
        "--model", models[0], "--frame-model", models[1], "--ray", cluster, "--ray-batch-files", "1",
        "--batch-size", "2", *FAST, "--json",
    ]  # fmt: skip
    # The driver kills itself (-9) just after its first commit (pe_search/crash_points.py): the
    # kill lands mid-run however fast the actors are.
    environment = {**os.environ, crash_points.ENV: "file-committed:1"}
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
    driver.wait(timeout=2 * TIMEOUT)  # a hang guard over start-up and the first commit, as before
    assert driver.returncode == -signal.SIGKILL, "the driver should be killed mid-run"
    committed = _indexed(library_dir)
    recorded = _indexed(library_dir, ("indexed", "failed"))  # the broken file may be recorded too
    assert 1 <= committed < FILES - 1
    with Library.open(library_dir) as library:  # the models recorded in the library
        summary = library.index([folder], ray=cluster)  # and its recorded settings
    assert summary.files_indexed == FILES - 1 - committed, "committed files must not be encoded again"
    assert summary.skipped == recorded
    assert_same_library(snapshot(library_dir), expected, atol=1e-5)


def test_files_a_node_cannot_read_stop_the_run_up_front_in_one_line(cluster, folder, models, tmp_path):
    good = folder / "tone440.wav"
    gone = tmp_path / "gone.wav"
    other = tmp_path / "other.wav"
    for path in (gone, other):
        media.write_audio(path, media.tone(500, 0.5, 48_000), 48_000)
    jobs = [FileJob(str(p), p.stat().st_size, p.stat().st_mtime, "x") for p in (good, gone, other)]
    gone.unlink()  # what a node without the driver's mount sees
    media.write_audio(other, media.tone(500, 0.9, 48_000), 48_000)  # another file at the same path
    with pytest.raises(MediaNotShared) as raised:
        check_shared_paths(ray, jobs)
    message = str(raised.value)
    assert "\n" not in message and str(gone) in message and "1 more" in message
    assert "same path" in message
    check_shared_paths(ray, jobs[:1])  # a readable file passes
    loaded = ModelSet.load(*models)
    before = _actor_pids()
    with pytest.raises(MediaNotShared):
        next(encode_on_ray(jobs, None, loaded, RayOptions(address=cluster), batch_size=2))
    assert _actor_pids() <= before, "no actor starts before every file is known to be readable"


def test_without_ray_installed_index_ray_says_how_to_install_it(
    cluster, folder, models, tmp_path, monkeypatch
):
    library_dir = tmp_path / "library"
    hide_ray = "import sys; sys.modules['ray'] = None; from pe_search.cli.main import cli; cli()"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            hide_ray,
            "index",
            str(folder),
            "--library",
            str(library_dir),
            "--ray",
            "local",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: --ray needs Ray, which is not installed: pip install 'pe-search[ray]'"
    )
    assert not library_dir.exists(), "nothing is created before the hint"
    monkeypatch.setitem(sys.modules, "ray", None)
    with _open(tmp_path, models) as library, pytest.raises(RayNotInstalled):
        library.index([folder], ray="local", **OPTIONS)


def test_actor_pools_fit_the_cluster_and_leave_a_cpu_for_read_tasks():
    cpus_only = {"CPU": 8.0}
    assert plan_actors(RayOptions(), cpus_only, files=100) == ActorPlan(7, 1.0, 0.0)
    assert plan_actors(RayOptions(), {"CPU": 2.0}, files=100).actors == 1
    assert plan_actors(RayOptions(actors=3), cpus_only, files=2).actors == 2  # no idle actors
    gpus = plan_actors(RayOptions(), {"CPU": 32.0, "GPU": 4.0}, files=100)
    assert (gpus.actors, gpus.gpus, gpus.device) == (4, 1.0, "cuda")
    half = plan_actors(RayOptions(gpus_per_actor=0.5), {"CPU": 32.0, "GPU": 4.0}, files=100)
    assert half.actors == 8
    decoding = plan_actors(RayOptions(cpus_per_actor=8), {"CPU": 64.0, "GPU": 8.0}, files=100)
    assert (decoding.actors, decoding.decode_workers) == (8, 7)  # the GPU never waits on decoding
    assert plan_actors(RayOptions(cpus_per_actor=2), cpus_only, files=100).decode_workers == 0
