"""Locate: where a described sound happens, across the library or inside one indexed file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from pe_search.server.schemas import ERRORS, LocateRequest, LocateResponse, SpanOut
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["search"])


@router.post("/api/locate", response_model=LocateResponse, responses=ERRORS)
def locate(request: LocateRequest, library: Annotated[ServedLibrary, Depends(served)]) -> LocateResponse:
    """40 ms resolution spans from the frame model (PE-A-Frame)."""
    path = library.file(request.file_id).path if request.file_id is not None else None
    with library.querying() as opened:
        spans = opened.locate(
            request.q,
            path=path,
            threshold=request.threshold,
            min_duration=request.min_duration,
            k=request.k,
            tag=request.tag,
        )
    ids: dict[str, int | None] = {}
    out = []
    for span in spans:
        if span.path not in ids:
            ids[span.path] = library.file_id_of(span.path)
        out.append(SpanOut(**span.to_dict(), file_id=ids[span.path]))
    return LocateResponse(spans=out)
