"""The library's files, with the search filters and paging."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from pe_search.server.schemas import ERRORS, FileOut, FilesResponse, Filters
from pe_search.server.served import ServedLibrary, served
from pe_search.server.urls import media_url, poster_url
from pe_search.store import MediaInfo

router = APIRouter(tags=["files"])
MAX_PAGE = 1000


def file_out(media: MediaInfo) -> FileOut:
    return FileOut(
        id=media.id,
        path=media.path,
        name=Path(media.path).name,
        kind=media.kind,
        status=media.status,
        duration=media.duration,
        size=media.size,
        mtime=media.mtime,
        has_audio=media.has_audio,
        has_video=media.has_video,
        error=media.error,
        media_url=media_url(media.id),
        poster_url=poster_url(media.id, media.kind),
    )


@router.get("/api/files", response_model=FilesResponse, responses=ERRORS)
def list_files(
    library: Annotated[ServedLibrary, Depends(served)],
    filters: Annotated[Filters, Query()],
    status: Annotated[list[Literal["pending", "indexed", "failed"]] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> FilesResponse:
    total, page = library.library.files(
        **filters.library_filters(), statuses=tuple(status) if status else None, offset=offset, limit=limit
    )
    return FilesResponse(total=total, offset=offset, limit=limit, files=[file_out(m) for m in page])


@router.get("/api/files/{file_id}", response_model=FileOut, responses=ERRORS)
def one_file(file_id: int, library: Annotated[ServedLibrary, Depends(served)]) -> FileOut:
    return file_out(library.file(file_id))
