"""A file's event timeline: what the frame model hears when, for every label of the vocabulary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from pe_search.query.events import split_labels
from pe_search.query.parameters import THRESHOLD
from pe_search.query.routes import QueryError
from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["files"])
DECIMALS = 4  # times and probabilities: finer than the 40 ms grid


class EventOut(BaseModel):
    label: str
    start: float
    end: float
    probability: float = Field(..., description="The best frame's calibrated probability in the span.")


class EventsResponse(BaseModel):
    """The file's events in time order (then by label)."""

    file_id: int
    duration: float | None
    events: list[EventOut]
    note: str | None = Field(None, description="Set when compact codes decided frames at the threshold.")


@router.get("/api/files/{file_id}/events", response_model=EventsResponse, responses=ERRORS)
def events(
    file_id: int,
    library: Annotated[ServedLibrary, Depends(served)],
    labels: Annotated[
        str | None,
        Query(
            max_length=10_000,
            description="Only these labels, comma-separated (default: every tag of the library's vocabulary).",
        ),
    ] = None,
    threshold: Annotated[
        float, Query(gt=THRESHOLD.above, lt=THRESHOLD.below, description=THRESHOLD.help)
    ] = THRESHOLD.default,
) -> EventsResponse:
    media = library.file(file_id)
    vocabulary = library.library.vocabulary()  # the one the library records
    names = split_labels(labels, vocabulary) if labels is not None else None
    with library.querying() as opened:
        try:
            found = opened.events(file_id, labels=names, vocabulary=vocabulary, threshold=threshold)
        except QueryError:
            if opened.file(file_id) is None:  # removed by another process since: unknown, as elsewhere
                raise HTTPException(404, f"no file with id {file_id} in the library") from None
            raise
    return EventsResponse(
        file_id=file_id,
        duration=media.duration,
        events=[
            EventOut(
                label=e.label,
                start=round(e.start, DECIMALS),
                end=round(e.end, DECIMALS),
                probability=round(e.probability, DECIMALS),
            )
            for e in found.events
        ],
        note=found.note,
    )
