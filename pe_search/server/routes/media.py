"""Media of indexed files, by id only: streamed with byte ranges (206) so players seek, and
poster stills of videos. A client never names a path: the id picks the library's own record,
and the file is served only while that record's path still leads to a regular file, with no
symbolic link on the way."""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse

from pe_search.server.poster import poster_jpeg
from pe_search.server.ranges import RangeNotSatisfiable, byte_range
from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["media"])
CHUNK = 256 * 1024
FALLBACK_TYPES = {
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
}
MEDIA_RESPONSES = {
    **ERRORS,
    206: {"description": "The requested byte range."},
    416: {"description": "Bad range."},
}


def _content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return mimetypes.guess_type(path)[0] or FALLBACK_TYPES.get(suffix, "application/octet-stream")


def _open_recorded(path: str) -> tuple[BinaryIO, int]:
    """(open file, size) of the recorded file; 404 if it is gone, moved behind a link, or not a file."""
    if os.path.realpath(path) != os.path.normpath(path):
        raise HTTPException(404, "the file's recorded path now goes through a symbolic link: not served")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise HTTPException(404, "the file is no longer where the library recorded it") from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise HTTPException(404, "the recorded path is not a regular file")
    return os.fdopen(descriptor, "rb"), info.st_size


def _chunks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


@router.get("/media/{file_id}", responses=MEDIA_RESPONSES)
@router.head("/media/{file_id}", include_in_schema=False)
def media(file_id: int, request: Request, library: Annotated[ServedLibrary, Depends(served)]) -> Response:
    """The file's bytes (Range requests: 206 with Content-Range; a range outside the file: 416)."""
    recorded = library.file(file_id)
    handle, size = _open_recorded(recorded.path)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=60"}
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except RangeNotSatisfiable as error:
        handle.close()
        raise HTTPException(416, str(error), headers={"Content-Range": f"bytes */{size}"}) from None
    start, end = wanted if wanted is not None else (0, size - 1)
    length = max(end - start + 1, 0)
    headers["Content-Length"] = str(length)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        handle.close()
        return Response(status_code=status, headers=headers, media_type=_content_type(recorded.path))
    return StreamingResponse(
        _chunks(handle, start, length),
        status_code=status,
        headers=headers,
        media_type=_content_type(recorded.path),
    )


@router.get(
    "/api/files/{file_id}/poster",
    responses={**ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "A JPEG still."}},
    response_class=Response,
)
def poster(
    file_id: int,
    library: Annotated[ServedLibrary, Depends(served)],
    t: Annotated[float, Query(ge=0, description="The time of the still (s).")] = 0.0,
) -> Response:
    recorded = library.file(file_id)
    if not recorded.has_video:
        raise HTTPException(404, f"file {file_id} has no picture")
    handle, _ = _open_recorded(recorded.path)
    handle.close()
    return Response(
        poster_jpeg(recorded.path, t),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )
