"""One weights identity for the same bytes, wherever they sit (issue 27, defect 1).

The hub cache keeps each file once under `blobs/` (an LFS file under the sha256 of its bytes, a
small file under the git sha1 of its header and bytes) and links `snapshots/<rev>/<name>` to it;
`hf download --local-dir` copies the same files into a plain directory. A library built from one
must open under the other, and a library recorded with the digest of an older release must not be
refused after an upgrade.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from pe_search import Library
from pe_search.models.encoder import PeEncoder
from pe_search.store import LibraryLayout, LibraryStore
from testkit import media

REPO = "acme/pe-audio-tiny"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 (git's own naming)


def _hub_cache_like_the_hub(cache: Path, repo_id: str, source: Path) -> Path:
    """Lay `source` out as huggingface_hub lays out a download: blobs named by their LFS sha256
    (weights) or git sha1 (small files), snapshot entries as relative links into blobs/, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / REVISION
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in sorted(source.iterdir()):
        name = _sha256(file) if file.suffix == ".safetensors" else _git_blob_sha1(file)
        shutil.copyfile(file, blobs / name)
        (snapshot / file.name).symlink_to(Path("..") / ".." / "blobs" / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


@pytest.fixture
def hub_and_copy(tmp_path, checkpoint_dirs) -> tuple[Path, Path]:
    """(the hub snapshot of the audio checkpoint, a plain directory copy of the same files)."""
    snapshot = _hub_cache_like_the_hub(tmp_path / "hf-cache", REPO, checkpoint_dirs["audio"])
    weights = snapshot / "model.safetensors"
    assert weights.is_symlink() and not os.path.isabs(os.readlink(weights))
    assert weights.resolve().parent.name == "blobs"
    copy = tmp_path / "local-dir"
    shutil.copytree(snapshot, copy)  # what `hf download --local-dir` leaves: plain files
    assert not (copy / "model.safetensors").is_symlink()
    return snapshot, copy


def test_hub_cache_and_directory_copy_have_one_identity(hub_and_copy, checkpoint_dirs):
    _, copy = hub_and_copy
    from_hub = PeEncoder.from_pretrained(REPO).identity.weights_sha256
    from_copy = PeEncoder.from_pretrained(copy).identity.weights_sha256
    assert from_hub == from_copy
    # the identity is the sha256 of each weights file's sha256 (one file here), by hand:
    by_hand = hashlib.sha256(_sha256(copy / "model.safetensors").encode()).hexdigest()
    assert from_copy == by_hand
    # and other weights are another identity
    other = PeEncoder.from_pretrained(checkpoint_dirs["audio_frame"]).identity.weights_sha256
    assert other != from_copy


def test_a_blob_not_named_by_its_sha256_is_hashed_by_its_bytes(tmp_path, checkpoint_dirs):
    """A non-LFS blob is named by git's sha1 of header + bytes: its name is not the bytes' sha256."""
    source = checkpoint_dirs["audio"]
    repo = tmp_path / "hf-cache" / f"models--{REPO.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        name = _git_blob_sha1(file)  # 40 hex, as a non-LFS file would be stored
        shutil.copyfile(file, repo / "blobs" / name)
        (snapshot / file.name).symlink_to(Path("..") / ".." / "blobs" / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    from_hub = PeEncoder.from_pretrained(REPO).identity.weights_sha256
    assert from_hub == PeEncoder.from_pretrained(source).identity.weights_sha256


def _index(library_dir: Path, model: str | Path, folder: Path):
    with Library.open(library_dir, model=model, frame_model=None, fast=False) as library:
        return library.index([folder], workers=0, progress=False, window=1.0)


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    for number, freq in enumerate((440.0, 660.0)):
        media.write_audio(folder / f"tone{number}.wav", media.tone(freq, 2.0, 48_000), 48_000)
    return folder


@pytest.mark.parametrize("built_with", ["hub", "copy"])
def test_a_library_built_from_one_opens_under_the_other(hub_and_copy, folder, tmp_path, built_with):
    _, copy = hub_and_copy
    first, second = (REPO, copy) if built_with == "hub" else (copy, REPO)
    library_dir = tmp_path / "lib"
    assert _index(library_dir, first, folder).files_indexed == 2
    again = _index(library_dir, second, folder)  # used to raise ModelMismatchError
    assert (again.files_indexed, again.skipped) == (0, 2)  # nothing re-encoded


def _old_digests(directory: Path) -> dict[str, str]:
    """What older releases recorded for one checkpoint: from a directory, the sha256 of the
    weights files' bytes one after another; from the hub cache, the sha256 of the blob names."""
    files = sorted(directory.glob("*.safetensors"))
    return {
        "copy": hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest(),
        "hub": hashlib.sha256("".join(_sha256(f) for f in files).encode()).hexdigest(),
    }


def _record_weights(library_dir: Path, weights_hash: str) -> None:
    connection = sqlite3.connect(LibraryLayout(library_dir).database)
    connection.execute("UPDATE model_fingerprint SET weights_hash = ? WHERE id = 1", (weights_hash,))
    connection.commit()
    connection.close()


def _recorded_weights(library_dir: Path) -> str:
    with LibraryStore.open(library_dir, readonly=True) as store:
        return store.identity.weights_hash


@pytest.mark.parametrize("old_form", ["copy", "hub"])
@pytest.mark.parametrize("opened_with", ["hub", "copy"])
def test_a_library_recorded_with_an_old_digest_is_not_refused(
    hub_and_copy, folder, tmp_path, old_form, opened_with
):
    _, copy = hub_and_copy
    library_dir = tmp_path / "lib"
    assert _index(library_dir, copy, folder).files_indexed == 2
    current = _recorded_weights(library_dir)
    # a single-model library records sha256("+".join(per-checkpoint digests)) of one digest
    old = hashlib.sha256(_old_digests(copy)[old_form].encode()).hexdigest()
    _record_weights(library_dir, old)
    again = _index(library_dir, REPO if opened_with == "hub" else copy, folder)
    assert (again.files_indexed, again.skipped) == (0, 2)
    assert _recorded_weights(library_dir) == current  # re-recorded in today's form on open


def test_other_weights_are_still_refused(hub_and_copy, folder, tmp_path):
    from pe_search.store import ModelMismatchError
    from pe_search.toy.tiny import write_tiny_checkpoint

    _, copy = hub_and_copy
    other = write_tiny_checkpoint(tmp_path / "other", "audio", seed=7)  # same config, other weights
    library_dir = tmp_path / "lib"
    _index(library_dir, copy, folder)
    with pytest.raises(ModelMismatchError):
        _index(library_dir, other, folder)
