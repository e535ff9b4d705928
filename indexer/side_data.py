"""What the library keeps of a file besides its vectors: its text entries (full-text search) and
its audio fingerprint (duplicates).

`side_data` runs in the decode stage (`reader.read_file`, in a decode worker or a Ray actor),
so the side data travels with the file's payloads to the writer, which only writes it
(`write.write_file`, one transaction with the vectors). `refresh` updates files a run does not
re-encode: a sidecar that appeared or changed, or a library made before these existed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from indexer.file_text import FileText, read_file_text, signature
from pe_search.duplicates import audio_fingerprint
from pe_search.duplicates.audio_fingerprint import fingerprint_file
from pe_search.media.timecode import SourceTimecode, read_timecode
from pe_search.store import LibraryStore, path_entries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SideData:
    text: FileText
    fingerprint: np.ndarray | None  # None: no sound; empty: sound that gave no codes (too short, undecodable)
    timecode: SourceTimecode | None = None  # None: not read (the next run's `refresh` reads it)


def name_only(path: str) -> SideData:
    """For a file encoded without side data: the entries its name gives, no signature and no
    fingerprint, so that the next run's `refresh` reads the rest (nothing here opens the file)."""
    return SideData(FileText(path_entries(path), None), None)


NO_CODES = np.zeros(0, dtype=np.uint32)  # stored, so a file that gives none is not tried on every run


def side_data(
    path: str,
    tags: list[tuple[str, str]],
    codes: np.ndarray | None,
    has_audio: bool,
    duration: float | None = None,
    timecode: SourceTimecode | None = None,
) -> SideData:
    """The file's text and audio fingerprint, from what the decode stage read in its one open of the
    file (`tags`; `codes`: the fingerprint of its sound, None when that gave none; `duration`: the
    file's, which keeps its subtitle cues inside it)."""
    codes = codes if has_audio else None
    if has_audio and codes is None:
        codes = NO_CODES
    return SideData(read_file_text(path, tags, duration), codes, timecode)


def refresh(store: LibraryStore, paths: Iterable[str]) -> int:
    """Re-read the text of indexed files whose sidecars changed, fingerprint indexed files that
    have none of the current version, and read the source timecode of files that have none (a
    library made before timecodes were kept); returns how many files were updated. One read of the
    library's state and one listing per folder, so an unchanged 100k-file library costs a stat
    per sidecar, not a query per file."""
    wanted = set(paths)
    if not wanted:
        return 0
    text_signatures, print_versions = store.side_data_state()
    timecodes_read = store.timecode_read_ids()
    listing: dict = {}
    updated = 0
    for media in store.iter_media():
        if media.path not in wanted or media.status != "indexed":
            continue
        text = None
        if text_signatures.get(media.id) != signature(media.path, listing):
            text = read_file_text(media.path, duration=media.duration)
        codes = None
        if media.has_audio and print_versions.get(media.id) != audio_fingerprint.VERSION:
            codes = fingerprint_file(media.path)
            codes = NO_CODES if codes is None else codes
        timecode = read_timecode(media.path) if media.id not in timecodes_read else None
        if text is None and codes is None and timecode is None:
            continue
        with store.write() as tx:
            if timecode is not None:
                tx.set_timecode(media.id, timecode)
            if text is not None:
                tx.set_text(media.id, text.entries, text.signature)
            if codes is not None:
                tx.set_audio_fingerprint(media.id, codes, media.content_hash, audio_fingerprint.VERSION)
        updated += 1
    if updated:
        log.info("refreshed text, fingerprints or timecodes of %d files that were not re-encoded", updated)
    return updated
