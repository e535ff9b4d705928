"""Helpers for indexing tests: a small generated media folder, a library snapshot to compare runs."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select

from pe_search.store import LibraryStore
from pe_search.store.schema import MediaFile, Segment, Vector
from testkit import media

# Short windows keep the tiny models fast while every file still has several overlapping windows.
FAST = ["--window", "1", "--hop", "0.5", "--frames-per-window", "4"]


def make_folder(root: Path) -> Path:
    """Two audio files, a video with sound, a silent video and a broken file."""
    (root / "sub").mkdir(parents=True, exist_ok=True)
    media.write_audio(root / "tone440.wav", media.tone(440, 2.0, 48_000), 48_000)
    media.write_audio(root / "sub" / "tone880.flac", media.tone(880, 1.6, 44_100), 44_100)
    frames = [(media.moving_square_frame(5 * i), i / 10) for i in range(18)]
    media.write_video(root / "square.mp4", frames, audio=media.tone(330, 1.8, 48_000))
    media.write_video(root / "sub" / "colours.webm", [(media.solid_frame(i // 4), i / 10) for i in range(15)])
    (root / "broken.mp4").write_text("this is not a video")
    return root


def snapshot(library_dir: Path) -> dict[str, list[tuple]]:
    """{path: sorted [(level, start, end, space, vector, tolerance)]}, independent of ids and order.

    Frames come from their blocks, decoded; their tolerance is one 8-bit step of their block (two
    runs whose float vectors differ in the last bits may round a code the other way)."""
    with LibraryStore.open(library_dir, readonly=True) as store:
        engine = create_engine(f"sqlite:///{store.layout.database}")  # straight from the file
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    MediaFile.path,
                    Segment.level,
                    Segment.start_s,
                    Segment.end_s,
                    Vector.space,
                    Vector.vector_id,
                )
                .join(Segment, Segment.media_file_id == MediaFile.id)
                .join(Vector, Vector.segment_id == Segment.id)
            ).all()
        engine.dispose()
        by_space = defaultdict(list)
        for row in rows:
            by_space[row.space].append(row.vector_id)
        vectors = {
            space: dict(zip(ids, store.vectors(space, np.asarray(ids, dtype=np.int64)), strict=True))
            for space, ids in by_space.items()
        }
        counts = store.counts()
        paths = {media.id: media.path for media in store.iter_media()}
        result: dict[str, list[tuple]] = defaultdict(list)
        for space in store.frame_counts():
            for info, read in store.frame_blocks(space):
                frames = read()
                decoded = frames.vectors()
                step = float((decoded.max(0) - decoded.min(0)).max()) / 255 * 1.01 if len(decoded) else 0.0
                for start, end, vector in zip(frames.starts, frames.ends, decoded, strict=True):
                    result[paths[info.media_id]].append(
                        ("frame", round(float(start), 4), round(float(end), 4), space, vector, step)
                    )
    for row in rows:
        vector = vectors[row.space][row.vector_id]
        result[row.path].append(
            (row.level, round(row.start_s, 4), round(row.end_s, 4), row.space, vector, 0.0)
        )
    for path in result:
        result[path].sort(key=lambda item: item[:4])
    assert sum(counts.values()) == len(rows), "index counts disagree with the vector rows"
    return dict(result)


def index_contents(library_dir: Path, queries: int = 8, seed: int = 0) -> dict[str, list]:
    """What each space's FAISS index *file* answers, independent of vector ids: for a few random
    queries, every result as (path, level, start, end, score), best first. The file is read as it
    lies on disk (opening a store would bring a stale index up to date in memory and hide it), and
    its header must be at the generation SQLite is at."""
    from pe_search.store.index_file import load_index
    from pe_search.store.layout import LibraryLayout
    from pe_search.store.schema import IndexState
    from pe_search.store.vector_file import VectorFile

    layout = LibraryLayout(library_dir)
    contents: dict[str, list] = {}
    with LibraryStore.open(library_dir, readonly=True) as store, store.read_connection() as connection:
        states = connection.execute(select(IndexState.space, IndexState.dim, IndexState.generation)).all()
        keys = {
            (row.space, row.vector_id): (row.path, row.level, round(row.start_s, 4), round(row.end_s, 4))
            for row in connection.execute(
                select(
                    Vector.space,
                    Vector.vector_id,
                    MediaFile.path,
                    Segment.level,
                    Segment.start_s,
                    Segment.end_s,
                )
                .join(Segment, Segment.id == Vector.segment_id)
                .join(MediaFile, MediaFile.id == Segment.media_file_id)
            )
        }
    rng = np.random.default_rng(seed)
    # by name: the same queries per space whatever order the library created its spaces in
    for state in sorted(states, key=lambda state: state.space):
        file = VectorFile(layout.vector_file(state.space), state.dim, writable=False)
        header, index = load_index(layout.index_file(state.space), file)
        assert header.generation == state.generation, f"{state.space}: index file is stale"
        found = []
        if index.count():
            scores, ids = index.search(
                rng.standard_normal((queries, state.dim)).astype(np.float32), index.count()
            )
            for row_scores, row_ids in zip(scores, ids, strict=True):
                found.append(
                    [
                        (*keys[(state.space, int(i))], round(float(s), 3))
                        for s, i in zip(row_scores, row_ids, strict=True)
                        if i >= 0
                    ]
                )
        contents[state.space] = found
        file.close()
    return contents


def assert_same_index_contents(first: dict, second: dict) -> None:
    assert sorted(first) == sorted(second)
    for space in first:
        assert len(first[space]) == len(second[space]), space
        for a, b in zip(first[space], second[space], strict=True):
            assert sorted(x[:4] for x in a) == sorted(x[:4] for x in b), space  # the same segments
            np.testing.assert_allclose([x[4] for x in a], [x[4] for x in b], atol=1e-2, err_msg=space)


def assert_same_library(first: dict, second: dict, atol: float = 1e-4) -> None:
    assert sorted(first) == sorted(second)
    for path in first:
        a, b = first[path], second[path]
        assert [x[:4] for x in a] == [x[:4] for x in b], path
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x[4], y[4], atol=max(atol, x[5], y[5]), err_msg=f"{path} {x[:4]}")


@contextmanager
def local_ray_cluster() -> Iterator[str]:
    """A two-CPU Ray cluster started by this process; its address for other drivers."""
    import ray

    saved = dict(os.environ)
    os.environ["RAY_AUTH_MODE"] = "disabled"  # local and short-lived: no token written to ~/.ray
    os.environ["PE_SEARCH_COMPILE"] = "0"  # eager encoders: no inductor start-up in every actor
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)
