"""A found moment as a file: GET so that a link or a drag out of the page downloads it.

The clip is cut into a temporary folder (never beside the source), sent, and deleted after the
response. Cutting decodes (and may re-encode) media, so another site may not ask for it: the
path is one of the cross-site middleware's expensive GETs; the page's own link and drag pass."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from pe_search.api import clip_name
from pe_search.query.parameters import HANDLES
from pe_search.server.routes.media import _content_type, _open_recorded
from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["media"])


@router.get(
    "/api/files/{file_id}/clip",
    responses={**ERRORS, 200: {"description": "The span as a file of its own, in the source's format."}},
    response_class=FileResponse,
)
def clip(
    file_id: int,
    library: Annotated[ServedLibrary, Depends(served)],
    start: Annotated[float, Query(ge=0, description="Start of the span (s).")],
    end: Annotated[float, Query(gt=0, description="End of the span (s); past the file's end: clamped.")],
    handles: Annotated[float, Query(ge=0, description=HANDLES.help)] = HANDLES.default,
) -> FileResponse:
    recorded = library.file(file_id)
    _open_recorded(recorded.path)[0].close()  # 404 if gone or now behind a symbolic link, as /media says
    folder = Path(tempfile.mkdtemp(prefix="pe-search-clip-"))
    try:
        name = clip_name(recorded.path, start, end)
        written = library.library.clip(recorded.path, start, end, folder / name, handles=handles)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    headers = {"X-Clip-Method": written.method, "Cache-Control": "private, max-age=60"}
    if written.note:
        headers["X-Clip-Note"] = written.note
    return FileResponse(
        written.out,
        media_type=_content_type(written.out),
        filename=name,
        headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
