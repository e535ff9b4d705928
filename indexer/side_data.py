"""What the library keeps of a file besides its vectors: its text entries (full-text search) and
its audio fingerprint (duplicates). Written with the file's vectors in one transaction
(`write.write_file`), and refreshed for files a run does not re-encode (`refresh`): a sidecar that
appeared or changed, or a library made before these existed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from indexer.file_text import FileText, read_file_text, signature
from pe_search.duplicates import audio_fingerprint
from pe_search.duplicates.audio_fingerprint import fingerprint_file
from pe_search.store import LibraryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SideData:
    text: FileText
    fingerprint: np.ndarray | None  # None: no sound


def describe_file(path: str, has_audio: bool = True) -> SideData:
    return SideData(read_file_text(path), fingerprint_file(path) if has_audio else None)


def refresh(store: LibraryStore, paths: Iterable[str]) -> int:
    """Re-read the text of indexed files whose sidecars changed, and fingerprint indexed files that
    have none of the current version; returns how many files were updated."""
    updated = 0
    for path in paths:
        media = store.find_media(path)
        if media is None or media.status != "indexed":
            continue
        text = None
        if store.text_signature(media.id) != signature(path):
            text = read_file_text(path)
        codes = None
        needs_print = media.has_audio and not store.has_audio_fingerprint(media.id, audio_fingerprint.VERSION)
        if needs_print:
            codes = fingerprint_file(path)
        if text is None and codes is None:
            continue
        with store.write() as tx:
            if text is not None:
                tx.set_text(media.id, text.entries, text.signature)
            if codes is not None:
                tx.set_audio_fingerprint(media.id, codes, media.content_hash, audio_fingerprint.VERSION)
        updated += 1
    if updated:
        log.info("refreshed text or fingerprints of %d unchanged files", updated)
    return updated
