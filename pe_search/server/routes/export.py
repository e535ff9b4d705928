"""Export: the results of a search or a locate as a file for an editor (POST /api/export), the
same formats as `pe-search ... --export FILE`; the web page's Export menu calls it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, model_validator
from starlette.background import BackgroundTask

from pe_search.server.schemas import ERRORS, LocateRequest, SearchRequest
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["export"])

ExportFormatName = Literal["otio", "fcpxml", "xml", "edl", "csv", "json", "vtt", "srt"]
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "vtt": "text/vtt", "otio": "application/json"}


class ExportRequest(BaseModel):
    """Which results (a search or a locate, as their own endpoints take them) and how to write them."""

    search: SearchRequest | None = Field(None, description="Export the hits of this search.")
    locate: LocateRequest | None = Field(None, description="Export the spans of this locate.")
    format: ExportFormatName = Field("otio", description="The file format.")
    handles: float = Field(0.0, ge=0, le=3600, description="Seconds of extra media on each side of a clip.")
    markers_only: bool = Field(False, description="One clip per file with a marker at each result.")

    @model_validator(mode="after")
    def one_query(self) -> ExportRequest:
        if (self.search is None) == (self.locate is None):
            raise ValueError("give either search or locate")
        return self


@router.post(
    "/api/export",
    responses={**ERRORS, 200: {"description": "The export file, as an attachment."}},
    response_class=FileResponse,
)
def export(request: ExportRequest, library: Annotated[ServedLibrary, Depends(served)]) -> FileResponse:
    """Run the search or locate and return its results as an .otio, .fcpxml, .xml, .edl, .csv, .json,
    .vtt or .srt file (the files' source timecode, as `pe-search --export`)."""
    folder = Path(tempfile.mkdtemp(prefix="pe-search-export-"))
    name = f"pe-search.{request.format}"
    try:
        with library.querying() as opened:
            if request.search is not None:
                query = request.search
                like = None
                if query.like is not None:
                    media = library.file(query.like.file_id)
                    like = (media.path, query.like.start, query.like.end)
                results = opened.search(
                    query.q if like is None else (query.q or None), like=like, target=query.target, k=query.k,
                    offset=query.offset, min_prob=query.min_prob, all_segments=query.all_segments, mode=query.mode,
                    **query.library_filters(),
                )  # fmt: skip
                words = query.q
            else:
                query = request.locate
                path = library.file(query.file_id).path if query.file_id is not None else None
                results = opened.locate(
                    query.q, path=path, threshold=query.threshold, min_duration=query.min_duration, k=query.k
                )
                words = query.q
            opened.export(
                results, folder / name, request.format, handles=request.handles,
                markers_only=request.markers_only, query=words,
            )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        folder / name,
        media_type=MEDIA_TYPES.get(request.format, "application/octet-stream"),
        filename=name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
