"""Libraries in the format before frame blocks (schema 0003): every frame a `segments` row, a
`vectors` row and a float32 row in SPACE.f32. The writing stage exactly as it was, kept to build
such libraries for the migration test and the benchmark's baseline."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from alembic import command

from indexer.write import EncodedFile, Written
from pe_search.store import LibraryStore, MediaRecord, SegmentRecord
from pe_search.store.database import alembic_config, open_engine

LEGACY_REVISION = "0003"


def write_file_legacy(store: LibraryStore, encoded: EncodedFile, frame_seconds: float, *_codes) -> Written:
    """indexer.write.write_file before frame blocks (commit 09c8663)."""
    job = encoded.job
    record = MediaRecord(
        path=job.path,
        size=job.size,
        mtime=job.mtime,
        content_hash=job.content_hash,
        duration=encoded.duration,
        has_audio=encoded.has_audio,
        has_video=encoded.has_video,
        status="indexed",
    )
    segments: list[SegmentRecord] = []
    owners: dict[str, list[int]] = defaultdict(list)
    vectors: dict[str, list[np.ndarray]] = defaultdict(list)

    def add(segment: SegmentRecord, space_vectors: dict[str, np.ndarray]) -> None:
        for space, vector in space_vectors.items():
            owners[space].append(len(segments))
            vectors[space].append(vector)
        segments.append(segment)

    for window in sorted(encoded.windows, key=lambda w: w.index):
        if window.vectors:
            add(SegmentRecord(window.start, window.end, "clip"), window.vectors)
    frame_times: dict[float, np.ndarray] = {}
    for window in encoded.windows:
        if window.frame_vectors is not None:
            for time, vector in zip(window.frame_times, window.frame_vectors, strict=True):
                frame_times.setdefault(round(time, 6), vector)
    ordered = sorted(frame_times)
    for i, time in enumerate(ordered):
        end = ordered[i + 1] if i + 1 < len(ordered) else max(encoded.duration, time)
        add(SegmentRecord(time, end, "frame"), {"video_frame": frame_times[time]})
    for chunk in sorted(encoded.chunks, key=lambda c: c.start):
        for i, vector in enumerate(chunk.vectors):
            start = chunk.start + i * frame_seconds
            if start >= encoded.duration:
                break
            add(
                SegmentRecord(start, min(start + frame_seconds, encoded.duration), "frame"),
                {"audio_frame": vector},
            )
    with store.write() as tx:
        media_id = tx.upsert_media(record)
        tx.delete_segments(media_id)
        ids = tx.add_segments(media_id, segments)
        counts = {}
        for space, positions in owners.items():
            tx.add_vectors(space, [ids[p] for p in positions], np.stack(vectors[space]))
            counts[space] = len(positions)
    return Written(len(segments), counts)


def downgrade_to_legacy(library_dir) -> None:
    """Take the schema back to what the code before frame blocks wrote (drops the empty block tables)."""
    engine = open_engine(library_dir / "library.db", writer=True)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, LEGACY_REVISION)
    engine.dispose()
