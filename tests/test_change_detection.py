"""Change detection on large files: a file whose size or mtime changed is compared by its whole
content before it is called unchanged, so an edit anywhere in it is re-encoded, while a moved
file (same bytes, new path) is still recognised as a move."""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from pe_search.api import Library

RATE = 192_000  # a high-rate 4-channel WAV: a large file, few seconds of audio to encode
CHANNELS = 4
BYTES_PER_SECOND = RATE * CHANNELS * 2
SECONDS = 48
HEADER = 44  # the `wave` module's canonical header: PCM data starts here
MiB = 1 << 20


def _write_silent_wav(path: Path) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(SECONDS * BYTES_PER_SECOND))


def _beep(seconds: float, rate: int, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _gap_between_old_samples(size: int) -> tuple[int, int]:
    """The middle stretch of bytes the former sampled hash never read: it read 16 evenly spaced
    1 MiB samples of a file over 16 MiB, first and last included (worked out here by hand)."""
    step = (size - MiB) / 15
    return int(7 * step) + MiB, int(8 * step)


def _overwrite_with_beep(path: Path) -> float:
    """Write a 1 s beep in place, between the old samples; the size stays. Returns its start (s)."""
    size = path.stat().st_size
    low, high = _gap_between_old_samples(size)
    start = np.ceil((low - HEADER) / BYTES_PER_SECOND)  # on the 1 s window grid
    first = HEADER + int(start * BYTES_PER_SECOND)
    beep = _beep(1.0, RATE)
    pcm = np.repeat((beep * 32767).astype("<i2"), CHANNELS).tobytes()  # interleaved channels
    assert low <= first and first + len(pcm) <= high, "the edit must fall between the old samples"
    with open(path, "r+b") as handle:
        handle.seek(first)
        handle.write(pcm)
    assert path.stat().st_size == size
    return float(start)


def _index(library: Path, folder: Path, checkpoint: Path):
    with Library.open(library, model=str(checkpoint), frames=False, fast=False) as lib:
        return lib.index([folder], window=1.0, hop=1.0, workers=0, progress=False)


def _best_audio_hit(library: Path, checkpoint: Path):
    with Library.open(library, model=str(checkpoint), frames=False, fast=False) as lib:
        hits = lib.search(audio=(_beep(1.0, 48_000), 48_000), target="audio", k=1, mode="vector")
    return hits[0]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, checkpoint_dirs):
    """A library of one large silent WAV, and pristine copies of both to start each test from."""
    root = tmp_path_factory.mktemp("change")
    folder = root / "media"
    folder.mkdir()
    _write_silent_wav(folder / "long.wav")
    assert (folder / "long.wav").stat().st_size > 16 * MiB
    checkpoint = checkpoint_dirs["audio_video"]
    _index(root / "pristine-library", folder, checkpoint)
    shutil.copy2(folder / "long.wav", root / "pristine.wav")
    return root, folder, checkpoint


@pytest.fixture
def library_copy(indexed, tmp_path):
    """The library copied, its media put back where it was indexed (bytes and mtime as indexed)."""
    root, folder, checkpoint = indexed
    shutil.rmtree(folder)
    folder.mkdir()
    shutil.copy2(root / "pristine.wav", folder / "long.wav")
    shutil.copytree(root / "pristine-library", tmp_path / "library")
    return tmp_path / "library", folder, checkpoint


def test_same_size_edit_between_old_samples_is_encoded_again(library_copy):
    library, folder, checkpoint = library_copy
    start = _overwrite_with_beep(folder / "long.wav")
    summary = _index(library, folder, checkpoint)
    assert summary.files_indexed == 1 and summary.skipped == 0
    hit = _best_audio_hit(library, checkpoint)
    assert hit.path == str(folder / "long.wav")
    assert (hit.start, hit.end) == (start, start + 1.0)


def test_edit_with_the_old_mtime_put_back_is_found_once_the_mtime_changes(library_copy):
    """An editor that keeps the mtime hides the edit from the cheap check (size and mtime); the
    first run that sees another mtime must still find it, not record the new mtime unread."""
    library, folder, checkpoint = library_copy
    path = folder / "long.wav"
    stat = path.stat()
    start = _overwrite_with_beep(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _index(library, folder, checkpoint).files_indexed == 0  # size and mtime as recorded
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _index(library, folder, checkpoint).files_indexed == 1
    assert _best_audio_hit(library, checkpoint).start == start


def test_touched_large_file_is_not_encoded_and_a_moved_one_is_a_move(library_copy):
    library, folder, checkpoint = library_copy
    path = folder / "long.wav"
    os.utime(path, ns=(10**18, 10**18))
    touched = _index(library, folder, checkpoint)
    assert touched.files_indexed == 0 and touched.moved == 0
    (folder / "elsewhere").mkdir()
    path.rename(folder / "elsewhere" / "renamed.wav")
    moved = _index(library, folder, checkpoint)
    assert moved.moved == 1 and moved.files_indexed == 0 and moved.removed == 0


def _old_sampled_hash(path: Path) -> str:
    """What earlier versions recorded for a file over 16 MiB, worked out here on its own: sha256 of
    "SIZE:" and 16 evenly spaced 1 MiB samples, first and last included."""
    import hashlib

    data = path.read_bytes()
    digest = hashlib.sha256(f"{len(data)}:".encode())
    step = (len(data) - MiB) / 15
    for index in range(16):
        offset = int(index * step)
        digest.update(data[offset : offset + MiB])
    return f"sha256s:{digest.hexdigest()}"


def test_move_in_a_library_recorded_with_the_old_sampled_hash_is_a_move(library_copy):
    from sqlalchemy import create_engine, text

    library, folder, checkpoint = library_copy
    path = folder / "long.wav"
    engine = create_engine(f"sqlite:///{library / 'library.db'}")
    with engine.begin() as connection:  # as an earlier version recorded it
        connection.execute(text("UPDATE media_files SET content_hash = :h"), {"h": _old_sampled_hash(path)})
    engine.dispose()
    path.rename(folder / "renamed.wav")
    moved = _index(library, folder, checkpoint)
    assert moved.moved == 1 and moved.files_indexed == 0 and moved.removed == 0
    with Library.open(library) as lib:  # the move records the whole-file hash from now on
        row = lib.store.find_media(str(folder / "renamed.wav"))
    assert row.content_hash.startswith("sha256:")
    assert row.content_hash != _old_sampled_hash(folder / "renamed.wav")
