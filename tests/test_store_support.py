"""Helpers shared by the store tests (no tests here; each module declares its own fixtures)."""

from __future__ import annotations

import numpy as np

from pe_search.models.identity import ModelIdentity
from pe_search.store import IndexPolicy, LibraryStore, MediaRecord, SegmentRecord

DIM = 16

# Thresholds low enough that every index type appears with a few hundred vectors.
SMALL_POLICY = IndexPolicy(
    flat_max=60,
    hnsw_max=150,
    train_size=2_000,
    rerank=1_000,
    exact_subset_max=8,
    save_every=50,
    mask_rebuild_share=0.5,
)


def make_identity(weights: str = "w1", dim: int = DIM) -> ModelIdentity:
    return ModelIdentity(
        model_ids=("facebook/pe-av-small",),
        config_hash="c" * 64,
        weights_hash=weights * 32,
        dim=dim,
        calibration={"text_audio": (10.0, -5.0), "text_video": (9.0, -4.0)},
    )


def file_vectors(file_number: int, count: int, dim: int = DIM, space: str = "audio") -> np.ndarray:
    """Deterministic vectors of one file, so a test can check what was stored byte for byte."""
    seed = [file_number, count, sum(space.encode())]
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


def add_file(
    store: LibraryStore,
    number: int,
    *,
    segments: int = 4,
    spaces: tuple[str, ...] = ("audio",),
    has_video: bool = False,
    duration: float | None = None,
    mtime: float | None = None,
    path: str | None = None,
) -> int:
    """One media file with its segments and one vector per segment in each space, in one unit."""
    with store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(
                path=path
                or f"/media/{'video' if has_video else 'audio'}/{number:04d}.{'mp4' if has_video else 'wav'}",
                size=1000 + number,
                mtime=mtime if mtime is not None else 1_700_000_000.0 + number,
                content_hash=f"{number:064x}",
                duration=duration if duration is not None else float(segments * 2),
                has_audio=True,
                has_video=has_video,
                status="indexed",
            )
        )
        segment_ids = tx.add_segments(
            media_id, [SegmentRecord(2.0 * i, 2.0 * i + 2.0) for i in range(segments)]
        )
        for space in spaces:
            tx.add_vectors(space, segment_ids, file_vectors(number, segments, space=space))
    return media_id


def exact_top(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vectors @ query
    return [int(ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def write_timecoded_library(path, identity: ModelIdentity) -> None:
    """Three files of four 2 s audio segments (random vectors), each with the timecode the
    indexer records: a library written through the store, for front-door tests."""
    from pe_search.media.timecode import zero_timecode

    vectors = np.random.default_rng(0).standard_normal((3, 4, identity.dim)).astype(np.float32)
    with LibraryStore.open(path, identity) as store:
        for number, rows in enumerate(vectors):
            with store.write() as tx:
                media_id = tx.upsert_media(
                    MediaRecord(path=f"/m/{number}.wav", size=1, mtime=0.0, duration=8.0, status="indexed")
                )
                segments = tx.add_segments(
                    media_id, [SegmentRecord(2.0 * i, 2.0 * i + 2.0) for i in range(4)]
                )
                tx.add_vectors("audio", segments, rows)
                tx.set_timecode(media_id, zero_timecode(None))
