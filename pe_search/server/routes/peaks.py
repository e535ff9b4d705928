"""A file's waveform for the page: (min, max) of its decoded audio in `bins` equal slices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from pe_search.media.peaks import MAX_BINS
from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["files"])
DECIMALS = 4  # sample values in [-1, 1]: a pixel's worth at any canvas height


class PeaksResponse(BaseModel):
    duration: float = Field(..., description="Seconds the bins cover (the file's indexed length).")
    peaks: list[list[float]] = Field(..., description="[min, max] per bin, in time order.")


@router.get("/api/files/{file_id}/peaks", response_model=PeaksResponse, responses=ERRORS)
def peaks(
    file_id: int,
    library: Annotated[ServedLibrary, Depends(served)],
    bins: Annotated[int, Query(ge=1, le=MAX_BINS, description="How many slices.")] = 1000,
) -> PeaksResponse:
    media = library.file(file_id)
    if not media.has_audio:  # a silent video: a flat line, nothing decoded
        return PeaksResponse(duration=media.duration or 0.0, peaks=[[0.0, 0.0]] * bins)
    found = library.library.peaks(file_id, bins)
    return PeaksResponse(
        duration=found.duration,
        peaks=[[round(low, DECIMALS), round(high, DECIMALS)] for low, high in found.peaks],
    )
