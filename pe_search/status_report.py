"""The status report of a library, built once for both front doors that show it.

`pe-search status` (pe_search/cli/status.py) and `GET /api/status` (pe_search/server/routes/
status.py) render the same fields from `status_report`, so neither can drop one (the server
used to omit the partial files).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pe_search.store import LibraryStore

PAGE = 1000  # files read per query while listing the failed and partial ones


@dataclass(frozen=True)
class FileProblem:
    """A file that did not index fully, and why."""

    path: str
    reason: str | None


@dataclass(frozen=True)
class DamagedFile:
    """A file whose stored frames are damaged: left out of searches until `index` encodes it again."""

    path: str
    space: str
    reason: str


@dataclass(frozen=True)
class StatusReport:
    """What a library holds, how its indexes are built, and which files failed or are partial."""

    library: str
    models: list[str]
    dim: int | None
    index_settings: dict[str, Any] | None
    media: dict[str, int]
    segments: int
    spaces: dict[str, dict[str, Any]]
    frames: dict[str, dict[str, Any]]
    failed: list[FileProblem]
    partial: list[FileProblem]
    damaged: list[DamagedFile]
    messages: list[str]
    # Transcription (issue 26): the library's model, how many files have a transcript (how many of
    # them complete), and the files whose transcript is partial or failed
    transcription_model: str | None = None
    transcribed_files: int = 0
    transcripts_complete: int = 0
    transcripts_incomplete: list[FileProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the `status --json` document)."""
        return asdict(self)


def _files_with(store: LibraryStore, status: str) -> list[FileProblem]:
    """Every file with this status (page by page, so a large library is not read whole)."""
    total, page = store.list_media(statuses=(status,), limit=PAGE)
    files = list(page)
    while len(files) < total:
        _, page = store.list_media(statuses=(status,), offset=len(files), limit=PAGE)
        if not page:
            break
        files.extend(page)
    return [FileProblem(m.path, m.error) for m in files]


def status_report(store: LibraryStore, library_dir: str | Path) -> StatusReport:
    """The report of an open library store."""
    status = store.status()
    identity = status.identity
    transcribed, complete = store.transcript_counts()
    return StatusReport(
        library=str(library_dir),
        models=list(identity.model_ids) if identity else [],
        dim=identity.dim if identity else None,
        index_settings=store.index_settings(),
        media=dict(status.media_by_status),
        segments=status.segments,
        spaces={
            name: {
                "vectors": s.count,
                "index": s.index_type,
                "params": s.index_params,
                "bytes": s.index_bytes,
            }
            for name, s in status.spaces.items()
        },
        frames={
            name: {
                "frames": f.frames,
                "blocks": f.blocks,
                "codes": f.codes,
                "live_bytes": f.live_bytes,
                "reclaimable_bytes": f.dead_bytes,
            }
            for name, f in status.frames.items()
        },
        failed=_files_with(store, "failed"),
        partial=_files_with(store, "partial"),
        damaged=[DamagedFile(d.path, d.space, d.reason) for d in status.damaged],
        messages=list(status.messages),
        transcription_model=(store.transcription_model() or (None,))[0],
        transcribed_files=transcribed,
        transcripts_complete=complete,
        transcripts_incomplete=[FileProblem(path, reason) for path, reason in store.incomplete_transcripts()],
    )
