"""The frame-level probability curve of one file for a text query: the page's timeline heat strip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from pe_search.query.parameters import THRESHOLD
from pe_search.query.routes import QueryError
from pe_search.server.schemas import ERRORS, CurveResponse, SpanOut
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["files"])
DECIMALS = 4  # probabilities and times in the JSON: enough for a 40 ms grid and a colour scale


@router.get("/api/files/{file_id}/curve", response_model=CurveResponse, responses=ERRORS)
def curve(
    file_id: int,
    library: Annotated[ServedLibrary, Depends(served)],
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for, in words.")],
    threshold: Annotated[
        float, Query(gt=THRESHOLD.above, lt=THRESHOLD.below, description=THRESHOLD.help)
    ] = THRESHOLD.default,
) -> CurveResponse:
    media = library.file(file_id)
    with library.querying() as opened:
        try:
            found = opened.curve(q, file_id)
        except QueryError:
            # Another process may have removed the file since `library.file` found it: then the id
            # is unknown, as every other route says it (404), not a bad query (400).
            if opened.file(file_id) is None:
                raise HTTPException(404, f"no file with id {file_id} in the library") from None
            raise
    spans = [
        SpanOut(path=media.path, start=s.start, end=s.end, probability=s.probability, file_id=file_id)
        for s in found.spans(threshold)
    ]
    return CurveResponse(
        file_id=file_id,
        space=found.space,
        duration=media.duration,
        starts=[round(float(v), DECIMALS) for v in found.starts],
        ends=[round(float(v), DECIMALS) for v in found.ends],
        probabilities=[round(float(v), DECIMALS) for v in found.probabilities],
        spans=spans,
    )
