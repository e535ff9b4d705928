"""Damaged frame blocks (issue 27, defect 8): garbage inside a block, a cut or deleted block file,
a damaged block header, a deleted `frame_files` row. Each is named in one line, shown by status,
left out of library-wide scans (the other files still answer), and the next writer marks exactly
the files whose frames were lost as pending, so the next index encodes them again.

The media are generated here: each file's frames are noise with an event planted on known frames
(a strong component along the query's direction), so the right spans are known without the code
under test: file N's event covers frames EVENTS[N], i.e. [first * STEP, stop * STEP).
"""

from __future__ import annotations

import sqlite3
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from test_store_support import DIM, make_identity

from pe_search.cli.main import cli
from pe_search.models.spaces import Calibration
from pe_search.query.frames import block_readers, file_spans
from pe_search.store import LibraryLayout, LibraryStore, MediaRecord

SPACE = "audio_frame"
STEP = 0.04
COUNT = 200
EVENTS = {0: (50, 100), 1: (20, 60), 2: (120, 170)}  # frames [first, stop) of each file's event
QUERY = np.eye(DIM, dtype=np.float32)[0]
# probability 0.5 at a score of 2: event frames score about 4 (probability ~1), the rest about 0
CALIBRATION = Calibration(10.0, -20.0)
TRUTH = {f"/m/{n}.wav": [(first * STEP, stop * STEP)] for n, (first, stop) in EVENTS.items()}


def path_of(number: int) -> str:
    return f"/m/{number}.wav"


def event_frames(number: int) -> np.ndarray:
    rng = np.random.default_rng([number, 27])
    vectors = (rng.standard_normal((COUNT, DIM)) * 0.2).astype(np.float32)
    first, stop = EVENTS[number]
    vectors[first:stop, 0] += 4.0
    return vectors


def put(store: LibraryStore, number: int) -> None:
    """What an index run writes for file `number` (its row, then its block)."""
    starts = np.arange(COUNT) * STEP
    with store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(path=path_of(number), size=1, mtime=1.0, content_hash=str(number), status="indexed")
        )
        tx.delete_segments(media_id)
        tx.put_frames(media_id, SPACE, starts, starts + STEP, event_frames(number))


def located(store: LibraryStore) -> dict[str, list[tuple[float, float]]]:
    """Library-wide spans as locate finds them when every block is scanned (the query layer's
    own readers and span finder)."""
    paths = {media.id: media.path for media in store.iter_media()}
    found = {}
    for media_id, read in block_readers(store, SPACE, None).items():
        spans, _ = file_spans(read, QUERY, CALIBRATION, 0.5)
        if spans:
            found[paths[media_id]] = [(round(s.start, 6), round(s.end, 6)) for s in spans]
    return found


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "lib"
    with LibraryStore.open(path, make_identity()) as store:
        for number in EVENTS:
            put(store, number)
        assert located(store) == TRUTH  # the planted events, nothing else
    return path


def block_at(library, number: int) -> tuple[int, int]:
    """(offset, nbytes) of file `number`'s block, from SQLite itself."""
    with sqlite3.connect(LibraryLayout(library).database) as db:
        return db.execute(
            "SELECT b.offset, b.nbytes FROM frame_blocks b JOIN media_files m ON m.id = b.media_file_id "
            "WHERE m.path = ?",
            (path_of(number),),
        ).fetchone()


def block_file(library):
    return next(LibraryLayout(library).frames_dir.glob(f"{SPACE}.*.blocks"))


def frame_position(library, number: int, frame: int) -> int:
    """Byte position of frame `frame`'s code in file `number`'s block (header read by hand:
    "PEFB" u16 u8 u8, then count, dim, code size, params as u32)."""
    offset, _ = block_at(library, number)
    with open(block_file(library), "rb") as handle:
        handle.seek(offset)
        header = handle.read(24)
    _count, _dim, code_size, params = struct.unpack("<IIII", header[8:24])
    return offset + 64 + 4 * params + frame * code_size


def overwrite(path, position: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(position)
        handle.write(data)


def statuses(store: LibraryStore) -> dict[str, str]:
    return {media.path: media.status for media in store.iter_media()}


def damaged_paths(store: LibraryStore) -> set[str]:
    return {d.path for d in store.status().damaged}


def status_cli(library) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", "--library", str(library)])
    return result.exit_code, result.output


def assert_repaired_by_next_writer(library, lost: set[int]) -> None:
    """The next writer names the lost files, marks exactly them pending; encoding them again
    (what the next index run does) brings every planted span back."""
    with LibraryStore.open(library, make_identity()) as store:
        said = " ".join(store.messages)
        for number in lost:
            assert path_of(number) in said, store.messages
        assert statuses(store) == {path_of(n): ("pending" if n in lost else "indexed") for n in EVENTS}, (
            store.messages
        )
        assert located(store) == {p: s for p, s in TRUTH.items() if int(p[3]) not in lost}
        for number in sorted(lost):
            put(store, number)
        assert located(store) == TRUTH
        assert not store.status().damaged
    with LibraryStore.open(library, readonly=True) as reader:
        assert located(reader) == TRUTH and not reader.status().damaged


def test_garbage_inside_a_block_is_caught_not_scored(library):
    # frames 150-153 of file 0 (outside its event) become all-255 codes: a spurious span if scored
    overwrite(block_file(library), frame_position(library, 0, 150), b"\xff" * 64)
    with LibraryStore.open(library, readonly=True) as reader:
        assert located(reader) == {p: s for p, s in TRUTH.items() if p != path_of(0)}
        assert damaged_paths(reader) == {path_of(0)}
        (damage,) = reader.status().damaged
        assert damage.space == SPACE and "checksum" in damage.reason
    code, output = status_cli(library)
    assert code == 0 and "damaged" in output and path_of(0) in output, output
    assert_repaired_by_next_writer(library, {0})


def test_damaged_block_header_leaves_the_other_files_searchable(library):
    offset, _ = block_at(library, 1)
    overwrite(block_file(library), offset, b"JUNK")
    with LibraryStore.open(library, readonly=True) as reader:
        assert located(reader) == {p: s for p, s in TRUTH.items() if p != path_of(1)}
        assert damaged_paths(reader) == {path_of(1)}
    assert_repaired_by_next_writer(library, {1})


def test_cut_block_file_loses_only_the_blocks_past_the_cut(library):
    offset, _ = block_at(library, 2)
    path = block_file(library)
    assert offset > max(block_at(library, n)[0] for n in (0, 1))  # file 2's block is the last
    with open(path, "r+b") as handle:
        handle.truncate(offset + 100)
    with LibraryStore.open(library, readonly=True) as reader:
        assert located(reader) == {p: s for p, s in TRUTH.items() if p != path_of(2)}
        assert damaged_paths(reader) == {path_of(2)}
    code, output = status_cli(library)
    assert code == 0 and path_of(2) in output, output
    assert_repaired_by_next_writer(library, {2})


def test_deleted_block_file_is_named_and_encoded_again(library):
    block_file(library).unlink()
    with LibraryStore.open(library, readonly=True) as reader:
        assert located(reader) == {}  # no FileNotFoundError: nothing to scan, and said so
        assert damaged_paths(reader) == set(TRUTH)
        assert all("missing" in d.reason for d in reader.status().damaged)
    assert_repaired_by_next_writer(library, set(EVENTS))


def test_deleted_frame_files_row_is_noticed_and_its_files_encoded_again(library):
    with sqlite3.connect(LibraryLayout(library).database) as db:
        db.execute("DELETE FROM frame_files")
    with LibraryStore.open(library, readonly=True) as reader:
        assert damaged_paths(reader) == set(TRUTH)
    assert_repaired_by_next_writer(library, set(EVENTS))


def test_rebuild_with_the_same_model_encodes_everything_again(library):
    with LibraryStore.open(library, make_identity(), rebuild=True) as store:
        assert set(statuses(store).values()) == {"pending"}, store.messages
        assert located(store) == {} and store.frame_counts().get(SPACE, 0) == 0
        assert any("rebuild" in m for m in store.messages), store.messages
        for number in EVENTS:
            put(store, number)
        assert located(store) == TRUTH


# -- through the indexer and the front doors, with the toy models and generated media -------------


def test_index_encodes_again_exactly_the_file_whose_frames_were_lost(tmp_path):
    from pe_search.api import Library
    from pe_search.toy import synth
    from pe_search.toy.media_writer import write_audio

    folder = tmp_path / "media"
    folder.mkdir()
    clips = {
        "beep.wav": synth.event_clip("high_beep", 6.0, 2.0, 4.0, seed=1),
        "tone.wav": synth.event_clip("low_tone", 6.0, 1.0, 3.0, seed=2),
    }
    for name, clip in clips.items():
        write_audio(folder / name, clip.samples, synth.SAMPLE_RATE)
    beep = str((folder / "beep.wav").resolve())
    library_dir = tmp_path / "lib"
    with Library.open(library_dir, model="toy") as library:
        assert library.index([folder], workers=0, progress=False).files_indexed == 2

    def beep_spans() -> list[tuple[float, float, float]]:
        with Library.open(library_dir) as library:
            return [(s.start, s.end, s.probability) for s in library.locate("a high beep", path=beep)]

    truth = clips["beep.wav"]
    ((start, end, probability),) = beep_spans()
    assert abs(start - truth.start) <= 0.04 and abs(end - truth.end) <= 0.04 and probability > 0.99

    # garbage over the beep's own frames, inside its block
    with sqlite3.connect(LibraryLayout(library_dir).database) as db:
        offset, nbytes = db.execute(
            "SELECT b.offset, b.nbytes FROM frame_blocks b JOIN media_files m ON m.id = b.media_file_id "
            "WHERE m.path = ?",
            (beep,),
        ).fetchone()
    overwrite(block_file(library_dir), offset + nbytes // 2, bytes(range(256)) * 8)
    result = CliRunner().invoke(cli, ["locate", "a high beep", "--library", str(library_dir)])
    assert result.exit_code == 0, result.output
    assert "beep.wav" in result.stderr and "damaged" in result.stderr, result.output
    assert "beep.wav" not in result.stdout  # left out, not scored on garbage
    code, output = status_cli(library_dir)
    assert code == 0 and "damaged" in output and "beep.wav" in output, output

    with Library.open(library_dir) as library:  # the library's own model: no --model needed
        summary = library.index([folder], workers=0, progress=False)
    assert summary.files_indexed == 1 and summary.skipped == 1, summary  # the beep alone
    ((start, end, probability),) = beep_spans()
    assert abs(start - truth.start) <= 0.04 and abs(end - truth.end) <= 0.04 and probability > 0.99

    # a deleted block file: the server goes on answering (200, not 500) and names both files
    from fastapi.testclient import TestClient

    from pe_search.server import ServerConfig, create_app

    block_file(library_dir).unlink()
    with TestClient(create_app(ServerConfig(library=library_dir)), base_url="http://127.0.0.1") as client:
        damaged = client.get("/api/status").json()["damaged"]
        assert sorted(d["path"].rsplit("/", 1)[-1] for d in damaged) == ["beep.wav", "tone.wav"], damaged
        for body in ({"q": "a high beep", "target": "audio"}, {"q": "a high beep"}):  # hits read moments
            answer = client.post("/api/search", json=body)
            assert answer.status_code == 200, answer.text
        answer = client.post("/api/locate", json={"q": "a high beep"})
        assert answer.status_code == 200 and answer.json()["spans"] == [], answer.text
        file_id = client.get("/api/files").json()["files"][0]["id"]
        answer = client.get(f"/api/files/{file_id}/curve", params={"q": "a high beep"})
        assert answer.status_code == 200, answer.text
    with Library.open(library_dir) as library:
        assert library.index([folder], workers=0, progress=False).files_indexed == 2
    ((start, end, probability),) = beep_spans()
    assert abs(start - truth.start) <= 0.04 and abs(end - truth.end) <= 0.04 and probability > 0.99

    with Library.open(library_dir) as library:  # same model, same settings: encodes all the same
        assert library.index([folder], workers=0, progress=False, rebuild=True).files_indexed == 2


def test_compaction_does_not_copy_a_block_damaged_while_the_library_is_open(library):
    with LibraryStore.open(library, make_identity()) as store:
        put(store, 1)  # file 1 again: its old block is dead, so there is something to reclaim
        overwrite(block_file(library), frame_position(library, 0, 150), b"\xff" * 64)
        said = store.compact()
        assert any(path_of(0) in m or "lost" in m for m in said), said
        assert statuses(store)[path_of(0)] == "pending"
        assert located(store) == {p: s for p, s in TRUTH.items() if p != path_of(0)}
        put(store, 0)
        assert located(store) == TRUTH


def test_a_read_that_loses_the_race_with_a_compaction_marks_nothing_for_good(library):
    with LibraryStore.open(library, readonly=True) as reader:
        stale = block_readers(reader, SPACE, None)  # a snapshot of generation 0's rows
        with LibraryStore.open(library, make_identity()) as writer:
            put(writer, 1)  # dead bytes, then a compaction to generation 1; generation 0's file goes
            assert writer.compact()
        assert not LibraryLayout(library).block_file(SPACE, 0).exists()
        reader.frames.close()  # as a reader that had not mapped generation 0's file yet
        for read in stale.values():  # read after the file went: nothing to read (no traceback)
            assert read() is None
        assert located(reader) == TRUTH  # a fresh snapshot reads generation 1, every file
        assert not reader.status().damaged


def test_a_library_from_before_checksums_gets_them_on_its_next_writer_open(library):
    with LibraryStore.open(library, make_identity()) as store:
        add_clip_vectors(store)
    with sqlite3.connect(LibraryLayout(library).database) as db:  # as migration 0006 leaves an older library
        db.execute("UPDATE frame_blocks SET crcs = NULL")
        db.execute("DELETE FROM vector_chunks")
    LibraryStore.open(library, make_identity()).close()
    blocks = block_file(library).read_bytes()
    vectors = LibraryLayout(library).vector_file("audio").read_bytes()
    with sqlite3.connect(LibraryLayout(library).database) as db:
        for offset, nbytes, crcs in db.execute("SELECT offset, nbytes, crcs FROM frame_blocks"):
            assert nbytes < 1 << 20 and crcs == struct.pack(
                "<I", zlib.crc32(blocks[offset : offset + nbytes])
            )
        assert dict(db.execute("SELECT chunk, crc32 FROM vector_chunks")) == {
            0: zlib.crc32(vectors[: 3 * 4 * DIM])
        }
    overwrite(block_file(library), frame_position(library, 0, 150), b"\xff" * 64)
    with LibraryStore.open(library, readonly=True) as reader:  # and they are checked from then on
        assert damaged_paths(reader) == {path_of(0)}


def add_clip_vectors(store: LibraryStore) -> None:
    """Three clip vectors beside the frames, so the library has a vector file too."""
    from pe_search.store import SegmentRecord

    with store.write() as tx:
        media_id = tx.media_id(path_of(0))
        segments = tx.add_segments(
            media_id, [SegmentRecord(0.0, 2.0), SegmentRecord(2.0, 4.0), SegmentRecord(4.0, 6.0)]
        )
        tx.add_vectors(
            "audio", segments, np.random.default_rng(3).standard_normal((3, DIM)).astype(np.float32)
        )
