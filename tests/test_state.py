"""The change planner (`indexer/state.py`) on its own: real files, a real store with rows written
as the indexer would, no models. Expected hashes are worked out here with hashlib."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from test_store_support import make_identity

from indexer import state
from indexer.reader import FileJob
from indexer.state import Plan, content_hash, file_signature, plan_changes, sampled_hash
from indexer.walk import IgnoredFile, MediaCandidate
from pe_search.store import LibraryStore, MediaRecord

MiB = 1 << 20


def _whole(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(f"{len(data)}:".encode() + data).hexdigest()


def _sampled(data: bytes) -> str:
    digest = hashlib.sha256(f"{len(data)}:".encode())
    step = (len(data) - MiB) / 15
    for index in range(16):
        digest.update(data[int(index * step) : int(index * step) + MiB])
    return "sha256s:" + digest.hexdigest()


def _pattern(size: int, seed: int = 0) -> bytes:
    return np_bytes(size, seed)


def np_bytes(size: int, seed: int) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


# -- hashes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 5, 16 * MiB, 16 * MiB + 1, 17 * MiB + 3])
def test_content_hash_is_sha256_of_size_and_every_byte(tmp_path, size):
    data = _pattern(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert content_hash(path) == _whole(data)
    assert content_hash(str(path)) == _whole(data)


def test_sampled_hash_is_the_old_identity_of_files_over_16_mib_only(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(_pattern(16 * MiB))
    data = _pattern(16 * MiB + 1, seed=1)
    large.write_bytes(data)
    assert sampled_hash(small) is None
    assert sampled_hash(large) == _sampled(data)
    edited = bytearray(data)
    edited[-1] ^= 1  # the last sample covers the last byte
    large.write_bytes(bytes(edited))
    assert sampled_hash(large) != _sampled(data)


def test_file_signature_of_a_link_itself_or_its_target(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"x" * 100)
    os.utime(target, (5, 7.5))
    link = tmp_path / "link"
    link.symlink_to(target)
    assert file_signature(target) == (100, 7.5)
    assert file_signature(link) == (100, 7.5)
    own = os.lstat(link)
    assert file_signature(link, follow=False) == (own.st_size, own.st_mtime)


# -- plans ----------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    with LibraryStore.open(tmp_path / "library", make_identity()) as opened:
        yield opened


def _file(folder: Path, name: str, data: bytes, mtime: float = 1_000.0) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _record(store, path, data: bytes, mtime: float = 1_000.0, status="indexed", error=None, digest=None):
    with store.write() as tx:
        tx.upsert_media(
            MediaRecord(
                path=str(path),
                size=len(data),
                mtime=mtime,
                content_hash=digest or _whole(data),
                status=status,
                error=error,
            )
        )


def _plan(store, folder, *paths, ignored=(), prune=True, problem=None) -> Plan:
    candidates = [MediaCandidate(Path(p), "wav", problem) for p in paths]
    return plan_changes(candidates, store, [folder], prune=prune, ignored=ignored)


def test_unchanged_files_are_not_read(store, tmp_path, monkeypatch):
    folder = tmp_path / "media"
    path = _file(folder, "a.wav", b"a" * 10)
    _record(store, path, b"a" * 10)
    failed = _file(folder, "bad.wav", b"b" * 3)
    _record(store, failed, b"b" * 3, status="failed", error="no audio")
    nameless = _file(folder, "bad2.wav", b"c" * 4)
    _record(store, nameless, b"c" * 4, status="failed")
    monkeypatch.setattr(state, "content_hash", lambda p: pytest.fail(f"{p} was read"))
    plan = _plan(store, folder, path, failed, nameless)
    assert plan.unchanged == [str(path), str(failed), str(nameless)]
    assert plan.still_failed == [(str(failed), "no audio"), (str(nameless), "failed")]
    assert plan.encode == plan.touched == plan.moves == plan.removals == []


@pytest.mark.parametrize(("size", "mtime"), [(0, 1.0), (1, 0.0)], ids=["mtime changed", "size changed"])
def test_changed_signature_leads_to_the_content(store, tmp_path, size, mtime):
    folder = tmp_path / "media"
    data = b"a" * 10
    same = _file(folder, "same.wav", data, mtime=1_001.0)  # touched: same bytes, another mtime
    _record(store, same, data, mtime=1_000.0)
    edited = _file(folder, "edited.wav", b"b" * (10 + size), mtime=1_000.0 + mtime)
    _record(store, edited, b"a" * 10, mtime=1_000.0)
    plan = _plan(store, folder, same, edited)
    assert plan.touched == [FileJob(str(same), 10, 1_001.0, _whole(data))]
    assert plan.encode == [FileJob(str(edited), 10 + size, 1_000.0 + mtime, _whole(b"b" * (10 + size)))]
    assert plan.unchanged == []


@pytest.mark.parametrize("status", ["pending", "indexed", "partial", "failed", "ignored", "sidecar"])
def test_only_settled_rows_count_as_unchanged_or_touched(store, tmp_path, status):
    folder = tmp_path / "media"
    kept = _file(folder, "kept.wav", b"k" * 5)
    _record(store, kept, b"k" * 5, status=status)
    touched = _file(folder, "touched.wav", b"t" * 5, mtime=2_000.0)
    _record(store, touched, b"t" * 5, status=status)
    plan = _plan(store, folder, kept, touched)
    if status == "pending":  # an interrupted file is encoded again, whatever its signature
        assert [job.path for job in plan.encode] == [str(kept), str(touched)]
        assert plan.unchanged == plan.touched == []
    else:
        assert plan.unchanged == [str(kept)] and [job.path for job in plan.touched] == [str(touched)]
        assert plan.encode == []


def test_new_file_with_the_content_of_a_gone_one_is_a_move(store, tmp_path):
    folder = tmp_path / "media"
    data = b"m" * 20
    _record(store, folder / "old.wav", data)
    new = _file(folder, "sub/new.wav", data)
    copy = _file(folder, "copy.wav", data)  # the same content twice: one move, one new file
    plan = _plan(store, folder, new, copy)
    assert plan.moves == [(str(folder / "old.wav"), FileJob(str(new), 20, 1_000.0, _whole(data)))]
    assert [job.path for job in plan.encode] == [str(copy)]
    assert plan.removals == []  # the old path was claimed by the move


def test_copy_of_a_file_still_on_disk_is_new(store, tmp_path):
    folder = tmp_path / "media"
    data = b"c" * 20
    original = _file(folder, "original.wav", data)
    _record(store, original, data)
    copy = _file(folder, "copy.wav", data)
    plan = _plan(store, folder, original, copy)
    assert plan.moves == [] and [job.path for job in plan.encode] == [str(copy)]


@pytest.mark.parametrize("status", ["failed", "pending", "ignored"])
def test_unsearchable_row_is_not_the_origin_of_a_move(store, tmp_path, status):
    folder = tmp_path / "media"
    data = b"f" * 20
    _record(store, folder / "gone.wav", data, status=status)
    new = _file(folder, "new.wav", data)
    plan = _plan(store, folder, new)
    assert plan.moves == [] and [job.path for job in plan.encode] == [str(new)]


def test_move_found_by_the_old_sampled_hash_of_a_large_file(store, tmp_path):
    folder = tmp_path / "media"
    data = _pattern(16 * MiB + 10, seed=2)
    _record(store, folder / "gone.wav", data, digest=_sampled(data))
    new = _file(folder, "new.wav", data)
    plan = _plan(store, folder, new)
    assert plan.moves == [(str(folder / "gone.wav"), FileJob(str(new), len(data), 1_000.0, _whole(data)))]


def test_small_file_is_not_matched_by_a_sampled_hash(store, tmp_path, monkeypatch):
    folder = tmp_path / "media"
    data = b"s" * 100
    _record(store, folder / "gone.wav", data, digest="sha256s:x")
    monkeypatch.setattr(state, "sampled_hash", lambda path: "sha256s:x")
    new = _file(folder, "new.wav", data)
    assert _plan(store, folder, new).moves == []


def test_link_to_nothing_is_broken_unless_recorded_failed_as_it_is(store, tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    link = folder / "dangling.wav"
    link.symlink_to(folder / "nowhere.wav")
    plan = _plan(store, folder, link, problem="link to no file")
    size, mtime = file_signature(link, follow=False)
    assert plan.broken == [(FileJob(str(link), size, mtime, ""), "link to no file")]
    with store.write() as tx:
        tx.upsert_media(MediaRecord(path=str(link), size=size, mtime=mtime, status="failed", error="x"))
    again = _plan(store, folder, link, problem="link to no file")
    assert again.broken == [] and again.unchanged == [str(link)]
    with store.write() as tx:  # once indexed (the link led somewhere then): broken now
        tx.upsert_media(MediaRecord(path=str(link), size=size, mtime=mtime, status="indexed"))
    assert _plan(store, folder, link, problem="link to no file").broken != []


def test_ignored_and_sidecar_files(store, tmp_path):
    folder = tmp_path / "media"
    notes = _file(folder, "notes.pdf", b"p" * 7)
    cover = _file(folder, "cover.jpg", b"j" * 7)
    subs = _file(folder, "a.srt", b"s" * 7)
    lyrics = _file(folder, "a.txt", b"l" * 7)
    new = _file(folder, "new.png", b"n" * 7)
    new_subs = _file(folder, "b.vtt", b"v" * 7)
    _record(store, notes, b"p" * 7, status="ignored")
    _record(store, cover, b"j" * 7, status="ignored")
    _record(store, subs, b"s" * 7, status="sidecar")
    _record(store, lyrics, b"l" * 7, status="sidecar")
    plan = _plan(
        store,
        folder,
        ignored=[
            IgnoredFile(notes, "a PDF"),
            IgnoredFile(cover, "a JPEG image"),
            IgnoredFile(subs, "subtitles", "sidecar"),
            IgnoredFile(lyrics, "text", "sidecar"),
            IgnoredFile(new, "a PNG image"),
            IgnoredFile(new_subs, "subtitles", "sidecar"),
        ],
    )
    assert (plan.still_ignored, plan.still_sidecars) == (2, 2)
    assert plan.ignored == [
        (FileJob(str(new), 7, 1_000.0, ""), "a PNG image", "ignored"),
        (FileJob(str(new_subs), 7, 1_000.0, ""), "subtitles", "sidecar"),
    ]
    assert (plan.count("ignored"), plan.count("sidecar")) == (3, 3)
    turned = _plan(store, folder, ignored=[IgnoredFile(notes, "text", "sidecar")])  # now beside media
    assert turned.ignored == [(FileJob(str(notes), 7, 1_000.0, ""), "text", "sidecar")]
    assert (turned.count("ignored"), turned.count("sidecar")) == (0, 1)


def test_links_are_planned_by_their_target_and_dangling_ones_by_themselves(store, tmp_path):
    folder = tmp_path / "media"
    target = _file(tmp_path / "elsewhere", "real.wav", b"r" * 9)
    link = folder / "link.wav"
    folder.mkdir()
    link.symlink_to(target)
    _record(store, link, b"r" * 9)  # recorded with the target's size and mtime, as indexed
    text = _file(tmp_path / "elsewhere", "notes.txt", b"t" * 9)
    text_link = folder / "notes.txt"
    text_link.symlink_to(text)
    _record(store, text_link, b"t" * 9, status="ignored")
    dangling = folder / "gone.txt"
    dangling.symlink_to(folder / "nowhere.txt")
    plan = _plan(store, folder, link, ignored=[IgnoredFile(text_link, "text"), IgnoredFile(dangling, "text")])
    assert plan.unchanged == [str(link)] and plan.still_ignored == 1
    size, mtime = file_signature(dangling, follow=False)
    assert plan.ignored == [(FileJob(str(dangling), size, mtime, ""), "text", "ignored")]


def test_files_after_a_broken_link_are_still_planned(store, tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    link = folder / "a-dangling.wav"
    link.symlink_to(folder / "nowhere.wav")
    new = _file(folder, "b-new.wav", b"n")
    candidates = [MediaCandidate(link, None, "link to no file"), MediaCandidate(new, "wav")]
    plan = plan_changes(candidates, store, [folder])
    assert [job.path for job, _ in plan.broken] == [str(link)]
    assert [job.path for job in plan.encode] == [str(new)]


def test_pruning_is_the_default_and_a_folder_name_may_end_in_a_space(store, tmp_path):
    folder = tmp_path / "media "
    _record(store, folder / "gone.wav", b"g")
    kept = _file(folder, "kept.wav", b"k")
    _record(store, kept, b"k")
    plan = plan_changes([MediaCandidate(kept, "wav")], store, [folder])
    assert plan.removals == [str(folder / "gone.wav")]


def test_gone_files_under_the_roots_are_removed_unless_no_prune(store, tmp_path):
    folder, other = tmp_path / "media", tmp_path / "other"
    _record(store, folder / "gone.wav", b"g")
    _record(store, tmp_path / "media2" / "gone.wav", b"h")  # a sibling folder sharing the prefix
    _record(store, other / "gone.wav", b"o")
    kept = _file(folder, "kept.wav", b"k")
    _record(store, kept, b"k")
    folder_link = folder / "linked.wav"
    folder_link.symlink_to(folder / "nowhere")  # a dangling link is still there: not gone
    _record(store, folder_link, b"l")
    assert _plan(store, folder, kept).removals == [str(folder / "gone.wav")]
    assert _plan(store, folder, kept, prune=False).removals == []
    single = plan_changes([MediaCandidate(kept, "wav")], store, [kept])  # a file as the root
    assert single.removals == []
