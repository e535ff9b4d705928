"""The library's tags (issue 23): the vocabulary's labels with file counts, and one file's tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["tags"])


class LabelOut(BaseModel):
    id: int
    name: str
    parents: list[str]  # the names of the labels it sits under
    taggable: bool  # False: a node of the hierarchy only, never a tag itself
    count: int  # files tagged with it or any label below it


class TagsResponse(BaseModel):
    vocabulary: str
    labels: list[LabelOut]


class TagOut(BaseModel):
    label: str
    probability: float


class FileTagsResponse(BaseModel):
    tags: list[TagOut]  # best first


@router.get("/api/tags", response_model=TagsResponse, responses=ERRORS)
def library_tags(library: Annotated[ServedLibrary, Depends(served)]) -> TagsResponse:
    listing = library.library.tags()
    labels = [
        LabelOut(
            id=label.id,
            name=label.name,
            parents=list(label.parents),
            taggable=label.taggable,
            count=label.count,
        )
        for label in listing.labels
    ]
    return TagsResponse(vocabulary=listing.vocabulary, labels=labels)


@router.get("/api/files/{file_id}/tags", response_model=FileTagsResponse, responses=ERRORS)
def file_tags(file_id: int, library: Annotated[ServedLibrary, Depends(served)]) -> FileTagsResponse:
    media = library.file(file_id)  # 404 for an id the library does not have
    tags = library.library.file_tags(media.id)
    return FileTagsResponse(tags=[TagOut(label=tag.label, probability=tag.probability) for tag in tags])
