"""Frame blocks: one block per (file, space); write, read a slice, move, replace, delete, compact,
and the codes (sq8 keeps scores to float32's within a quantisation step; pq after training)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.store import FramePolicy, LibraryStore, MediaRecord

STEP = 0.04


@pytest.fixture
def identity():
    return make_identity()


def frames(file_number: int, count: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng([file_number, count, 7]).standard_normal((count, dim)).astype(np.float32)


def put(store: LibraryStore, path: str, file_number: int, count: int, codes: str = "sq8") -> np.ndarray:
    vectors = frames(file_number, count)
    starts = np.arange(count) * STEP
    ends = np.minimum(starts + STEP, count * STEP - 0.01)
    with store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(path=path, size=1, mtime=1.0, content_hash=path, status="indexed")
        )
        tx.delete_segments(media_id)
        tx.put_frames(media_id, "audio_frame", starts, ends, vectors, codes)
    return vectors


def step_of(vectors: np.ndarray) -> np.ndarray:
    """One 8-bit quantisation step per dimension for a block of these vectors."""
    return (vectors.max(0) - vectors.min(0)) / 255


def test_a_block_reads_back_whole_and_as_a_slice(tmp_path, identity):
    with LibraryStore.open(tmp_path / "lib", identity) as store:
        vectors = put(store, "/m/a.wav", 1, 500)
        media = store.find_media("/m/a.wav")
        whole = store.frame_slice(media.id, "audio_frame")
        assert len(whole) == 500 and whole.encoding == "sq8"
        np.testing.assert_allclose(whole.starts, np.arange(500) * STEP, atol=1e-9)
        assert whole.ends[-1] == pytest.approx(500 * STEP - 0.01)
        assert np.all(np.abs(whole.vectors() - vectors) <= step_of(vectors) * 0.51 + 1e-6)
        part = store.frame_slice(media.id, "audio_frame", 4.0, 5.0)  # frames overlapping [4, 5]
        assert part.first == 100 and len(part) == 25
        np.testing.assert_array_equal(part.codes, whole.codes[100:125])
        assert part.codes.base is not None  # a view of the mapped file, not a copy of the block
        status = store.status().frames["audio_frame"]
        assert status.frames == 500 and status.blocks == 1 and status.dead_bytes == 0
        assert status.live_bytes == status.file_bytes
        # one byte per dimension and frame, plus the header, the block's ranges and the bounds of
        # its 32 pieces of 16 frames (a coded centroid and a float32 radius each)
        bounds = 32 * (DIM + 4)
        assert 500 * DIM + bounds <= status.live_bytes <= 500 * DIM + 64 + 8 * DIM + bounds + 64
    with LibraryStore.open(tmp_path / "lib", readonly=True) as reader:
        again = reader.frame_slice(media.id, "audio_frame")
        np.testing.assert_array_equal(again.codes, whole.codes)


def test_move_keeps_the_block_change_and_delete_free_it(tmp_path, identity):
    with LibraryStore.open(tmp_path / "lib", identity) as store:
        put(store, "/m/a.wav", 1, 300)
        put(store, "/m/b.wav", 2, 200)
        before = store.frame_slice(store.find_media("/m/a.wav").id, "audio_frame")
        store.move_media("/m/a.wav", "/m/moved.wav")
        moved = store.frame_slice(store.find_media("/m/moved.wav").id, "audio_frame")
        np.testing.assert_array_equal(moved.codes, before.codes)
        assert store.status().frames["audio_frame"].dead_bytes == 0
        put(store, "/m/b.wav", 3, 100)  # changed: re-encoded, the old block is dead
        status = store.status().frames["audio_frame"]
        assert status.frames == 400 and status.blocks == 2 and status.dead_bytes > 200 * DIM
        store.delete_media("/m/moved.wav")
        status = store.status().frames["audio_frame"]
        assert status.frames == 100 and status.blocks == 1
        assert status.dead_bytes == status.file_bytes - status.live_bytes > 500 * DIM


def test_compaction_reclaims_dead_bytes_and_keeps_live_blocks(tmp_path, identity):
    with LibraryStore.open(tmp_path / "lib", identity) as store:
        for number in range(4):
            put(store, f"/m/{number}.wav", number, 100 + number)
        store.delete_media("/m/1.wav")
        store.delete_media("/m/2.wav")
        kept = {
            p: store.frame_slice(store.find_media(p).id, "audio_frame").codes.copy()
            for p in ("/m/0.wav", "/m/3.wav")
        }
        messages = store.compact()
        assert len(messages) == 1 and "compacted" in messages[0]
        status = store.status().frames["audio_frame"]
        assert status.dead_bytes == 0 and status.file_bytes == status.live_bytes
        assert sorted(p.name for p in (tmp_path / "lib" / "frames").iterdir()) == ["audio_frame.1.blocks"]
        for path, codes in kept.items():
            np.testing.assert_array_equal(
                store.frame_slice(store.find_media(path).id, "audio_frame").codes, codes
            )
        assert store.compact() == []  # nothing dead: nothing to do


def test_compaction_runs_on_its_own_past_the_dead_share(tmp_path, identity):
    policy = FramePolicy(compact_share=0.5, compact_min_bytes=0)
    with LibraryStore.open(tmp_path / "lib", identity, frame_policy=policy) as store:
        put(store, "/m/a.wav", 1, 100)
        put(store, "/m/b.wav", 2, 100)
        store.delete_media("/m/a.wav")  # half dead: not past the share yet
        assert store.status().frames["audio_frame"].dead_bytes > 0
        put(store, "/m/b.wav", 3, 100)  # now two thirds dead
        status = store.status().frames["audio_frame"]
        assert status.dead_bytes == 0 and any("compacted" in m for m in store.messages)


COMPACT_AND_DIE = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from test_store_support import make_identity
    from pe_search.store import LibraryStore

    def die(step):
        if step == {step!r}:
            os.kill(os.getpid(), signal.SIGKILL)

    store = LibraryStore.open({library!r}, make_identity())
    store.compact(on_step=die)
    """
)


@pytest.mark.parametrize("step", ["copied", "synced", "committed"])
def test_kill_9_during_compaction_then_reopen_equals_a_clean_library(tmp_path, identity, step):
    library = tmp_path / "lib"
    with LibraryStore.open(library, identity) as store:
        expected = {}
        for number in range(5):
            expected[f"/m/{number}.wav"] = put(store, f"/m/{number}.wav", number, 80 + 10 * number)
        for number in (0, 2):
            store.delete_media(f"/m/{number}.wav")
            expected.pop(f"/m/{number}.wav")
        live = {p: store.frame_slice(store.find_media(p).id, "audio_frame").codes.copy() for p in expected}
    script = COMPACT_AND_DIE.format(tests=os.path.dirname(__file__), step=step, library=str(library))
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with LibraryStore.open(library, identity) as store:  # leftovers removed, blocks intact
        blocks_files = sorted(p.name for p in (library / "frames").iterdir())
        assert len(blocks_files) == 1
        for path, codes in live.items():
            np.testing.assert_array_equal(
                store.frame_slice(store.find_media(path).id, "audio_frame").codes, codes
            )
        status = store.status().frames["audio_frame"]
        assert status.frames == sum(len(v) for v in expected.values())
        assert status.file_bytes == status.live_bytes + status.dead_bytes
        store.compact()  # finishing the job leaves the same blocks
        for path, codes in live.items():
            np.testing.assert_array_equal(
                store.frame_slice(store.find_media(path).id, "audio_frame").codes, codes
            )
        assert store.status().frames["audio_frame"].dead_bytes == 0


def test_a_write_that_never_committed_leaves_no_block(tmp_path, identity):
    with LibraryStore.open(tmp_path / "lib", identity) as store:
        put(store, "/m/a.wav", 1, 50)
        tail = store.status().frames["audio_frame"].live_bytes
        with pytest.raises(RuntimeError, match="boom"), store.write() as tx:
            media_id = tx.upsert_media(MediaRecord(path="/m/b.wav", size=1, mtime=1.0, status="indexed"))
            tx.put_frames(
                media_id, "audio_frame", np.arange(40) * STEP, np.arange(1, 41) * STEP, frames(2, 40), "sq8"
            )
            raise RuntimeError("boom")
        assert store.find_media("/m/b.wav") is None
        status = store.status().frames["audio_frame"]
        assert status.blocks == 1 and status.live_bytes == tail and status.dead_bytes == 0
        vectors = put(store, "/m/c.wav", 3, 60)  # overwrites the uncommitted bytes
        got = store.frame_slice(store.find_media("/m/c.wav").id, "audio_frame").vectors()
        assert np.all(np.abs(got - vectors) <= step_of(vectors) * 0.51 + 1e-6)


def test_irregular_frame_times_are_kept_exactly(tmp_path, identity):
    starts = np.array([0.0, 0.25, 0.5, 1.5, 1.75])  # a gap between 0.75 and 1.5
    ends = np.array([0.25, 0.5, 0.75, 1.75, 1.8])
    with LibraryStore.open(tmp_path / "lib", identity) as store, store.write() as tx:
        media_id = tx.upsert_media(MediaRecord(path="/m/v.mp4", size=1, mtime=1.0, status="indexed"))
        tx.put_frames(media_id, "video_frame", starts, ends, frames(1, 5))
    with LibraryStore.open(tmp_path / "lib", readonly=True) as store:
        whole = store.frame_slice(media_id, "video_frame")
        np.testing.assert_array_equal(whole.starts, starts)
        np.testing.assert_array_equal(whole.ends, ends)
        part = store.frame_slice(media_id, "video_frame", 0.6, 1.6)
        np.testing.assert_array_equal(part.starts, [0.5, 1.5])


def test_pq_codes_train_on_the_first_frames_then_code_128_times_smaller(tmp_path):
    dim = 256
    identity = make_identity(dim=dim)
    policy = FramePolicy(pq_train_min=3_000)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, dim)).astype(np.float32)

    def clustered(count):
        return (centres[rng.integers(0, 40, count)] + 0.1 * rng.standard_normal((count, dim))).astype(
            np.float32
        )

    with LibraryStore.open(tmp_path / "lib", identity, frame_policy=policy) as store:
        written = {}
        for number, count in enumerate((500, 4_000, 2_000)):
            vectors = clustered(count)
            written[number] = vectors
            with store.write() as tx:
                media_id = tx.upsert_media(
                    MediaRecord(path=f"/m/{number}", size=1, mtime=1.0, status="indexed")
                )
                starts = np.arange(count) * STEP
                tx.put_frames(media_id, "audio_frame", starts, starts + STEP, vectors, "pq")
        status = store.status().frames["audio_frame"]
        assert status.codes == "pq" and status.encodings == {
            "sq8": 1,
            "pq": 2,
        }  # the first came before training
        third = store.frame_slice(store.find_media("/m/2").id, "audio_frame")
        assert third.encoding == "pq" and third.codes.shape == (2_000, 128)
        query = centres[3]
        exact = written[2] @ query
        coded = third.vectors() @ query
        assert np.corrcoef(exact, coded)[0, 1] > 0.99
        with pytest.raises(ValueError, match="coded pq, not sq8"), store.write() as tx:
            tx.put_frames(media_id, "audio_frame", starts, starts + STEP, written[2], "sq8")
