"""Search: by text, by a stored segment (POST /api/search), or by an uploaded sound or clip
(POST /api/search/upload, multipart)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile

from pe_search.api import Hit
from pe_search.models.catalogue import CATALOGUE
from pe_search.query import parameters as p
from pe_search.server.schemas import (
    ERRORS,
    MAX_K,
    MAX_OFFSET,
    Filters,
    HitOut,
    Kind,
    SearchRequest,
    SearchResponse,
    Target,
)
from pe_search.server.served import ServedLibrary, served
from pe_search.server.uploads import UploadedClip, saved_upload
from pe_search.server.urls import media_url, poster_url

router = APIRouter(tags=["search"])


def hit_out(hit: Hit) -> HitOut:
    at = hit.moment.start if hit.moment else hit.start
    return HitOut(
        **hit.to_dict(),
        file_id=hit.media_id,
        name=Path(hit.path).name,
        media_url=media_url(hit.media_id),
        poster_url=poster_url(hit.media_id, hit.kind, at),
    )


@router.post("/api/search", response_model=SearchResponse, responses=ERRORS)
def search(request: SearchRequest, library: Annotated[ServedLibrary, Depends(served)]) -> SearchResponse:
    """Search by text (`q`) or by a range of a file (`like`), with the CLI's filters."""
    like = None
    if request.like is not None:
        media = library.file(request.like.file_id)
        like = (media.path, request.like.start, request.like.end)
    with library.querying() as opened:
        hits = opened.search(
            request.q if like is None else (request.q or None),
            like=like,
            target=request.target,
            k=request.k,
            offset=request.offset,
            min_prob=request.min_prob,
            all_segments=request.all_segments,
            mode=request.mode,
            tag=request.tag,
            **request.library_filters(),
        )
        counts = opened.facets(hits)
    return SearchResponse(
        query=request.model_dump(mode="json"),
        hits=[hit_out(h) for h in hits],
        facets={"tags": [{"label": c.label, "count": c.count} for c in counts]},
    )


def _stream_for(clip: UploadedClip, use: str | None, target: str | None) -> str:
    """Which of the clip's streams queries: the asked one, else the one that crosses to `target`."""
    if use == "audio" and not clip.has_audio:
        raise_unprocessable("use: the upload has no sound")
    if use == "video" and not clip.has_video:
        raise_unprocessable("use: the upload has no picture")
    if use:
        return use
    has = {"audio": clip.has_audio, "video": clip.has_video}
    crossing = [s for s in CATALOGUE.like_sources(target) if s in has] if target else []
    return next(s for s in (*crossing, "video", "audio") if has[s])


def raise_unprocessable(message: str) -> None:
    from fastapi import HTTPException

    raise HTTPException(422, message)


@router.post("/api/search/upload", response_model=SearchResponse, responses=ERRORS)
def search_upload(
    library: Annotated[ServedLibrary, Depends(served)],
    file: Annotated[UploadFile, File(description="A sound or a clip to search with.")],
    q: Annotated[str | None, Form(max_length=1000, description="Words to add to the sound or clip.")] = None,
    use: Annotated[
        Literal["audio", "video"] | None, Form(description="Query with the clip's sound or picture.")
    ] = None,
    target: Annotated[Target | None, Form()] = None,
    k: Annotated[int, Form(ge=p.K.least, le=MAX_K)] = p.K.default,
    offset: Annotated[int, Form(ge=p.OFFSET.least, le=MAX_OFFSET)] = p.OFFSET.default,
    min_prob: Annotated[float | None, Form(ge=p.MIN_PROB.least, le=p.MIN_PROB.most)] = p.MIN_PROB.default,
    kind: Annotated[list[Kind] | None, Form()] = None,
    folder: Annotated[str | None, Form()] = None,
    min_duration: Annotated[float | None, Form(ge=0)] = None,
    max_duration: Annotated[float | None, Form(ge=0)] = None,
) -> SearchResponse:
    """Search with an uploaded sound or clip (capped in bytes and duration; removed afterwards)."""
    filters = Filters(kind=kind, folder=folder, min_duration=min_duration, max_duration=max_duration)
    config = library.config
    with saved_upload(file, config.max_upload_bytes, config.max_upload_seconds) as clip:
        stream = _stream_for(clip, use, target)
        with library.querying() as opened:
            hits = opened.search(
                q or None,
                **{stream: str(clip.path)},
                target=target,
                k=k,
                offset=offset,
                min_prob=min_prob,
                **filters.library_filters(),
            )
    echo = {"upload": file.filename, "use": stream, "q": q, "target": target, "k": k, "offset": offset}
    return SearchResponse(query=echo, hits=[hit_out(h) for h in hits])
