"""A file's transcript for the page (issue 26): its phrases with every word's start and end, so
the page shows what is said under the player and a click on a word seeks to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["files"])
DECIMALS = 4  # seconds: well under a video frame


class WordOut(BaseModel):
    text: str
    start: float
    end: float


class PhraseOut(BaseModel):
    text: str = Field(..., description="The phrase's words joined by spaces (as text search sees it).")
    start: float
    end: float
    words: list[WordOut]


class TranscriptOut(BaseModel):
    model: str = Field(..., description="The transcription model (hub id or directory).")
    language: str | None
    complete: bool = Field(..., description="False: a partial transcript (see reason).")
    reason: str | None = Field(None, description="Why the transcript is partial.")
    phrases: list[PhraseOut]


class TranscriptResponse(BaseModel):
    file_id: int
    duration: float | None
    transcript: TranscriptOut | None = Field(..., description="None: the file was not transcribed.")


def _seconds(value: float) -> float:
    return round(value, DECIMALS)


@router.get("/api/files/{file_id}/transcript", response_model=TranscriptResponse, responses=ERRORS)
def transcript(file_id: int, library: Annotated[ServedLibrary, Depends(served)]) -> TranscriptResponse:
    media = library.file(file_id)
    found = library.library.transcript(file_id).to_dict()["transcript"]
    if found is not None:
        for phrase in found["phrases"]:
            phrase["start"], phrase["end"] = _seconds(phrase["start"]), _seconds(phrase["end"])
            for word in phrase["words"]:
                word["start"], word["end"] = _seconds(word["start"]), _seconds(word["end"])
    return TranscriptResponse(
        file_id=file_id,
        duration=media.duration,
        transcript=TranscriptOut.model_validate(found) if found is not None else None,
    )
