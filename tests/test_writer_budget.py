"""The writer's memory budget is shared by all of a library's clip spaces (issue 24, item 6).

Expected kinds and byte counts come from arithmetic by hand: a flat index holds n float32 rows
of `DIM` values and an 8-byte id each (n * (4 * DIM + 8) bytes); exact results from numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.models.identity import ModelIdentity
from pe_search.store import IndexPolicy, LibraryStore, MediaRecord, SegmentRecord

DIM = 16
FLAT_ROW = 4 * DIM + 8  # bytes a flat index holds per vector
SPACES = ("audio", "video", "audio_video")
PER_FILE = 40


def test_one_space_gets_the_whole_budget_three_spaces_a_third_each():
    budget = 300 * FLAT_ROW  # 300 flat rows
    policy = IndexPolicy(flat_max=10_000, hnsw_max=0, memory_budget=budget)
    assert policy.choose(300, DIM).kind == "flat"
    assert policy.choose(301, DIM).kind == "ivfpq"
    assert policy.choose(300, DIM, spaces=1).kind == "flat"
    # three spaces: 100 rows each
    assert policy.choose(100, DIM, spaces=3).kind == "flat"
    assert policy.choose(101, DIM, spaces=3).kind == "ivfpq"
    assert policy.share(3) == budget // 3


def test_hnsw_only_while_its_graph_fits_the_share():
    m = 4  # HNSW bytes per vector: the row, 2M int32 links, level, offset, id map: 4*DIM + 8*M + 24
    graph_row = 4 * DIM + 2 * m * 4 + 4 + 4 + 8 + 8
    budget = 2 * 200 * graph_row
    policy = IndexPolicy(flat_max=50, hnsw_max=10_000, hnsw_m=m, memory_budget=budget)
    # a graph is built only if it would still fit at twice the size (400 graph rows, one space)
    assert policy.choose(200, DIM, spaces=1).kind == "hnsw"
    assert policy.choose(201, DIM, spaces=1).kind == "ivfpq"
    assert policy.choose(100, DIM, spaces=2).kind == "hnsw"
    assert policy.choose(101, DIM, spaces=2).kind == "ivfpq"
    # and serves while it fits itself
    graph = policy.choose(200, DIM, spaces=1)
    assert policy.choose(400, DIM, graph, spaces=1) == graph
    assert policy.choose(401, DIM, graph, spaces=1).kind == "ivfpq"
    assert policy.choose(200, DIM, graph, spaces=2) == graph
    assert policy.choose(201, DIM, graph, spaces=2).kind == "ivfpq"


def test_a_second_space_makes_the_first_step_up_at_its_next_commit():
    budget = 300 * FLAT_ROW
    policy = IndexPolicy(flat_max=10_000, hnsw_max=0, memory_budget=budget)
    flat = policy.choose(151, DIM, spaces=1)
    assert flat.kind == "flat"
    assert policy.choose(150, DIM, flat, spaces=2) == flat  # 150 rows: half the budget, still fits
    assert policy.choose(151, DIM, flat, spaces=2).kind == "ivfpq"


def _identity() -> ModelIdentity:
    return ModelIdentity(("budget-test",), "config", "weights", DIM, {"text_audio": (10.0, -5.0)})


def _exact_policy(budget: int) -> IndexPolicy:
    """Flat while it fits, then IVF-PQ with one list whose search re-ranks every vector exactly
    (rerank_min larger than any space here, one list): so its results must equal exact search."""
    return IndexPolicy(
        flat_max=10_000,
        hnsw_max=0,
        memory_budget=budget,
        ivf_lists_per_sqrt_n=1e-6,  # nlist = 1
        ivf_min_list_size=1,
        rerank_min=5_000,
        recall_target=1.0,
        tune_max_probe_share=1.0,
        tune_probes=5,
        train_size=2_000,
    )


def _write_file(store: LibraryStore, index: int, vectors: dict[str, np.ndarray]) -> None:
    with store.write() as tx:
        media = MediaRecord(
            path=f"/m/{index}.mov", size=1, mtime=1.0, content_hash=f"{index:08x}", duration=600.0,
            has_audio=True, has_video=True, status="indexed",
        )  # fmt: skip
        media_id = tx.upsert_media(media)
        ids = tx.add_segments(
            media_id, [SegmentRecord(i * 15.0, i * 15.0 + 30.0, "clip") for i in range(PER_FILE)]
        )
        for space, rows in vectors.items():
            tx.add_vectors(space, ids, rows)


def _float32_rows_held(store: LibraryStore) -> int:
    """Full-precision rows the writer's indexes hold (flat and HNSW keep one per vector)."""
    return sum(
        space.index.count() for space in store._spaces.values() if space.index.kind in ("flat", "hnsw")
    )


@pytest.mark.parametrize("spaces", [1, 3])
def test_growth_through_the_writer_keeps_the_budget_and_exact_results(tmp_path, spaces):
    budget = 300 * FLAT_ROW  # 300 float32 rows in all
    names = SPACES[:spaces]
    rng = np.random.default_rng(spaces)
    queries = rng.standard_normal((6, DIM)).astype(np.float32)
    written = {name: [] for name in names}
    kinds_seen = {name: [] for name in names}
    with LibraryStore.open(tmp_path / "lib", _identity(), policy=_exact_policy(budget)) as store:
        for index in range(12):  # 480 vectors a space: past 300 (one space) and 100 (three)
            rows = {name: rng.standard_normal((PER_FILE, DIM)).astype(np.float32) for name in names}
            _write_file(store, index, rows)
            for name in names:
                written[name].append(rows[name])
                kinds_seen[name].append(store._spaces[name].index.kind)
            held = _float32_rows_held(store)
            assert held * FLAT_ROW <= budget, f"file {index}: {held} float32 rows held"
            for name in names:  # every commit, before and after the switch: exact results
                every = np.concatenate(written[name])
                expected = np.argsort(-(queries @ every.T), axis=1, kind="stable")[:, :10]
                scores, ids = store._spaces[name].search(queries, 10)
                np.testing.assert_array_equal(ids, expected, err_msg=f"{name} after file {index}")
                np.testing.assert_allclose(
                    scores, np.take_along_axis(queries @ every.T, expected, 1), rtol=1e-5, atol=1e-5
                )
    share_rows = 300 // spaces
    for name in names:
        # flat while the space's rows fit its share of the budget, IVF-PQ from the first commit past it
        sizes = [(i + 1) * PER_FILE for i in range(12)]
        assert kinds_seen[name] == ["flat" if n <= share_rows else "ivfpq" for n in sizes]
