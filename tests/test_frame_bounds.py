"""Per-piece bounds in sq8 blocks (issue 24, item 4): a scan that skips the pieces the bounds rule
out returns exactly what a full scan returns, so `locate` keeps the float32 spans; and blocks of
the format before the bounds (version 1) still read and scan.

The frames are generated here: a slow random walk (smooth, as a steady sound's frames are) with an
event planted along the query's direction on known frames, ramped over a few frames so the
scores near its edges take many close values. The right spans come from the float32 frames and
numpy (no code under test): the runs of frames whose probability passes the threshold.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import struct

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.models.spaces import Calibration
from pe_search.query.frames import block_readers, file_spans
from pe_search.store import LibraryLayout, LibraryStore, MediaRecord, frame_codes, frame_slice
from pe_search.store.frame_blocks import BlockFile

SPACE = "audio_frame"
STEP = 0.04
COUNT = 2_003  # not a whole number of 16-frame pieces: the last piece is short
EVENTS = [(400, 520), (1_300, 1_333), (1_990, COUNT)]  # frames [first, stop) along the query
RAMP = 8
QUERY = np.eye(DIM, dtype=np.float32)[0]
CALIBRATION = Calibration(10.0, -20.0)  # probability 0.5 at a score of 2


def smooth_frames(seed: int = 24) -> np.ndarray:
    """float32 [COUNT, DIM]: a random walk, smoothed, with the events planted on dimension 0."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((COUNT, DIM)) * 0.01, axis=0)
    vectors = walk - walk.mean(axis=0)
    for first, stop in EVENTS:
        rise = np.minimum(1.0, (np.arange(first, stop) - first + 1) / RAMP)
        fall = np.minimum(1.0, (stop - np.arange(first, stop)) / RAMP)
        vectors[first:stop, 0] += 4.0 * np.minimum(rise, fall)
    return vectors.astype(np.float32)


FRAMES = smooth_frames()


def float32_spans(threshold: float) -> list[tuple[float, float]]:
    """Runs of frames whose float32 probability passes `threshold`, as times."""
    above = CALIBRATION.probability(FRAMES.astype(np.float64) @ QUERY.astype(np.float64)) > threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    return [(round(a * STEP, 6), round(b * STEP, 6)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def hardest_thresholds(count: int) -> list[float]:
    """Probabilities halfway (in score) between the closest pairs of float32 frame scores."""
    scores = np.unique(FRAMES.astype(np.float64) @ QUERY.astype(np.float64))
    middles, gaps = (scores[1:] + scores[:-1]) / 2, np.diff(scores)
    usable = np.flatnonzero((np.abs(CALIBRATION.logit(middles)) < 30) & (gaps > 1e-9))
    chosen = usable[np.argsort(gaps[usable])[:count]]
    return [float(CALIBRATION.probability(middles[i])) for i in chosen]


def exact_frames(frames, positions: np.ndarray) -> np.ndarray:
    """What re-encoding the file gives: its float32 frames."""
    return FRAMES[frames.first + positions]


@pytest.fixture(autouse=True)
def bounds_on_small_slices(monkeypatch):
    """The bounds' pass runs on slices of every size here (by default only from 4,096 frames, where
    it pays), so these 2,003 frames exercise it."""
    monkeypatch.setattr(frame_slice, "BOUNDS_MIN_FRAMES", 0)


def unbounded(read):
    """The same block read with its bounds left out: the scan then reads every code."""

    def reader(start=None, end=None):
        found = read(start, end)
        return None if found is None else dataclasses.replace(found, bounds=None)

    return reader


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = tmp_path_factory.mktemp("bounds") / "lib"
    starts = np.arange(COUNT) * STEP
    with LibraryStore.open(path, make_identity()) as store, store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(path="/m/walk.wav", size=1, mtime=1.0, content_hash="walk", status="indexed")
        )
        tx.put_frames(media_id, SPACE, starts, starts + STEP, FRAMES)
    return path


def reader_of(path):
    store = LibraryStore.open(path, readonly=True)
    (read,) = block_readers(store, SPACE, None).values()
    return store, read


def spans(found) -> list[tuple[float, float]]:
    return [(round(s.start, 6), round(s.end, 6)) for s in found]


def test_pruned_spans_equal_unpruned_and_float32_at_the_hardest_cuts(library):
    store, read = reader_of(library)
    with store:
        for threshold in hardest_thresholds(12):
            expected = float32_spans(threshold)
            pruned, decided = file_spans(read, QUERY, CALIBRATION, threshold, exact=exact_frames)
            whole, _ = file_spans(unbounded(read), QUERY, CALIBRATION, threshold, exact=exact_frames)
            assert decided and spans(pruned) == spans(whole) == expected, threshold
            # the code alone (no re-encoding): pruning changes nothing either
            alone, _ = file_spans(read, QUERY, CALIBRATION, threshold)
            alone_whole, _ = file_spans(unbounded(read), QUERY, CALIBRATION, threshold)
            assert spans(alone) == spans(alone_whole), threshold


def test_pruned_scans_return_the_full_scans_frames_and_skip_most_pieces(library):
    store, read = reader_of(library)
    rng = np.random.default_rng(5)
    with store:
        skipped = 0
        for start, end in [(None, None), (15.0, 22.37), (0.03, 0.61), (79.5, None), (52.1, 53.3)]:
            frames = read(start, end)
            assert frames.bounds is not None
            plain = dataclasses.replace(frames, bounds=None)
            for cutoff in (-1.0, 0.5, 1.9, 2.0, 3.99, 10.0):
                query = (QUERY + rng.standard_normal(DIM).astype(np.float32) * 0.05).astype(np.float32)
                got, want = frames.scan(query, cutoff), plain.scan(query, cutoff)
                assert np.array_equal(got.positions, want.positions), (start, end, cutoff)
                assert np.array_equal(got.scores, want.scores) and np.array_equal(got.unsure, want.unsure)
                assert want.scanned == len(frames) and got.scanned <= len(frames)
                skipped += len(frames) - got.scanned
        whole = read()
        assert whole.scan(QUERY, 2.0).scanned < len(whole) / 4  # the events are a tenth of the file
        assert skipped > 0


def test_a_slice_the_integer_pass_scans_skips_the_bounds(library, monkeypatch):
    """Where the integer pass applies (sq8 slices from COARSE_MIN_FRAMES frames) every code goes
    through it and the bounds are not read: the same frames and scores as the pruned scan."""
    store, read = reader_of(library)
    with store:
        whole = read()
        pruned = whole.scan(QUERY, 2.0)
        assert pruned.scanned < len(whole) / 4
        monkeypatch.setattr(frame_codes, "COARSE_MIN_FRAMES", 0)
        everything = whole.scan(QUERY, 2.0)
        assert everything.scanned == len(whole)
        assert np.array_equal(everything.positions, pruned.positions)
        assert np.array_equal(everything.scores, pruned.scores)
        assert np.array_equal(everything.unsure, pruned.unsure)


def test_every_frame_lies_within_its_pieces_radius(library):
    """The stored bound, checked by hand: decode each frame and centroid as sq8 defines it
    (the middle of the code's step) and measure the distance."""
    store, read = reader_of(library)
    with store:
        frames = read()
        bounds = frames.bounds
        vmin, vdiff = frames.params[:DIM].astype(np.float64), frames.params[DIM:].astype(np.float64)

        def decoded(codes):
            return vmin + (codes.astype(np.float64) + 0.5) / 255.0 * vdiff

        assert bounds.piece == 16 and len(bounds) == -(-COUNT // 16)
        members = decoded(frames.codes)
        centres = decoded(bounds.centroids)
        for piece in range(len(bounds)):
            part = members[piece * 16 : (piece + 1) * 16]
            distances = np.linalg.norm(part - centres[piece], axis=1)
            assert distances.max() <= bounds.radii[piece]
            assert bounds.radii[piece] <= distances.max() * 1.01 + 1e-6  # and not much looser
            assert np.abs(centres[piece] - part.mean(axis=0)).max() <= vdiff.max() / 255  # the mean, coded


def version_1_block(frames) -> bytes:
    """A block as version 1 wrote it (the layout of docs/store.md, packed by hand): the header,
    the sq8 ranges, the codes; no bounds."""
    header = struct.pack(
        "<4sHBBIIIIddd", b"PEFB", 1, 1, 0, len(frames), DIM, DIM, 2 * DIM, 0.0, STEP, len(frames) * STEP
    )
    data = header.ljust(64, b"\0") + frames.params.astype("<f4").tobytes() + frames.codes.tobytes()
    return data + b"\0" * (-len(data) % 64)


def test_a_version_1_block_reads_and_scans_as_before(library, tmp_path):
    store, read = reader_of(library)
    with store:
        frames = read()
        old = version_1_block(frames)
    path = tmp_path / "old.blocks"
    path.write_bytes(old)
    handle = BlockFile(path, writable=False)
    try:
        found = handle.read_slice(0, len(old), 1, SPACE)
        assert found.bounds is None and np.array_equal(found.codes, frames.codes)
        assert np.allclose(found.ends[-1], COUNT * STEP)
        for cutoff in (0.5, 2.0, 3.0):
            assert np.array_equal(found.scan(QUERY, cutoff).positions, frames.scan(QUERY, cutoff).positions)
    finally:
        handle.close()


def test_a_library_with_a_version_1_block_still_locates(library, tmp_path):
    """A library written before the bounds: its block row points at version 1 bytes (no
    checksums recorded, as blocks written before them), and locate finds the float32 spans."""
    library = shutil.copytree(library, tmp_path / "lib")  # the module's library stays as written
    store, read = reader_of(library)
    with store:
        old = version_1_block(read())
    layout = LibraryLayout(library)
    block_path = next(layout.frames_dir.glob(f"{SPACE}.*.blocks"))
    with sqlite3.connect(layout.database) as db:
        (offset,) = db.execute("SELECT offset FROM frame_blocks").fetchone()
        with open(block_path, "r+b") as handle:
            handle.seek(offset)
            handle.write(old)
        db.execute("UPDATE frame_blocks SET nbytes = ?, crcs = NULL", (len(old),))
    threshold = hardest_thresholds(1)[0]
    store, read = reader_of(library)
    with store:
        assert read().bounds is None
        found, decided = file_spans(read, QUERY, CALIBRATION, threshold, exact=exact_frames)
        assert decided and spans(found) == float32_spans(threshold)
