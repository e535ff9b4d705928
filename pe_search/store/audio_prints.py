"""Audio fingerprints kept with the library: one row per media file, the codes as a blob.

The store does not interpret the codes (pe_search/duplicates does); it keeps them with the file
they were computed from: a moved file keeps its row, a changed one gets a new row in the same
transaction as its new vectors, a deleted one loses it (foreign key cascade).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.orm import Session

from pe_search.store.schema import AudioFingerprint, MediaFile

FETCH_ROWS = 2_000  # fingerprints read per round trip when listing them all
CODE_BYTES = 4
# A row whose blob is not whole codes (cut or overwritten) counts as no fingerprint, so the next
# index run recomputes it.
_WHOLE = func.length(AudioFingerprint.codes) % CODE_BYTES == 0


@dataclass(frozen=True)
class StoredFingerprint:
    media_id: int
    path: str
    kind: str
    duration: float | None
    content_hash: str | None
    version: int
    codes: np.ndarray | None  # uint32; None: the stored blob is damaged (not whole 32-bit codes)


def put(session: Session, media_id: int, codes: np.ndarray, content_hash: str | None, version: int) -> None:
    session.execute(delete(AudioFingerprint).where(AudioFingerprint.media_file_id == media_id))
    blob = np.ascontiguousarray(codes, dtype="<u4").tobytes()
    session.add(
        AudioFingerprint(media_file_id=media_id, content_hash=content_hash, version=version, codes=blob)
    )


def drop(session: Session, media_id: int) -> None:
    session.execute(delete(AudioFingerprint).where(AudioFingerprint.media_file_id == media_id))


def versions(connection: Connection) -> dict[int, int]:
    """The fingerprint version of every file that has one, by media id."""
    query = select(AudioFingerprint.media_file_id, AudioFingerprint.version).where(_WHOLE)
    return dict(connection.execute(query).all())


def has(connection: Connection, media_id: int, version: int) -> bool:
    found = connection.scalar(
        select(AudioFingerprint.version).where(AudioFingerprint.media_file_id == media_id, _WHOLE)
    )
    return found == version


def iterate(connection: Connection, kinds: tuple[str, ...] | None = None) -> Iterator[StoredFingerprint]:
    """Every indexed file's fingerprint (optionally of these kinds), by media id; a damaged blob
    comes with codes None, so one bad row does not stop the listing."""
    query = (
        select(
            MediaFile.id,
            MediaFile.path,
            MediaFile.kind,
            MediaFile.duration,
            AudioFingerprint.content_hash,
            AudioFingerprint.version,
            AudioFingerprint.codes,
        )
        .join(AudioFingerprint, AudioFingerprint.media_file_id == MediaFile.id)
        .where(MediaFile.status == "indexed")
        .order_by(MediaFile.id)
    )
    if kinds:
        query = query.where(MediaFile.kind.in_(list(kinds)))
    result = connection.execution_options(yield_per=FETCH_ROWS).execute(query)
    for row in result:
        yield StoredFingerprint(
            media_id=row[0],
            path=row[1],
            kind=row[2],
            duration=row[3],
            content_hash=row[4],
            version=row[5],
            codes=np.frombuffer(row[6], dtype="<u4") if len(row[6]) % CODE_BYTES == 0 else None,
        )


def missing(connection: Connection, version: int) -> int:
    """Indexed files with sound but no fingerprint of this version (indexed before there were any)."""
    have = select(AudioFingerprint.media_file_id).where(AudioFingerprint.version == version)
    return (
        connection.scalar(
            select(func.count())
            .select_from(MediaFile)
            .where(MediaFile.status == "indexed", MediaFile.has_audio, MediaFile.id.not_in(have))
        )
        or 0
    )
