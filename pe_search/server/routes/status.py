"""Status: what the library holds (the CLI's `status --json`), and the server's own limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from pe_search.server.schemas import ERRORS, FramesOut, SpaceOut, StatusResponse, UploadLimits
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["library"])


@router.get("/api/status", response_model=StatusResponse, responses=ERRORS)
def status(library: Annotated[ServedLibrary, Depends(served)]) -> StatusResponse:
    store = library.library.store
    state = store.status()
    identity = state.identity
    _, failed = store.list_media(statuses=("failed",), limit=1000)
    return StatusResponse(
        library=str(library.library.path),
        models=list(identity.model_ids) if identity else [],
        dim=identity.dim if identity else None,
        index_settings=store.index_settings(),
        media=state.media_by_status,
        segments=state.segments,
        spaces={
            name: SpaceOut(vectors=s.count, index=s.index_type, params=s.index_params, bytes=s.index_bytes)
            for name, s in state.spaces.items()
        },
        frames={
            name: FramesOut(
                frames=f.frames,
                blocks=f.blocks,
                codes=f.codes,
                live_bytes=f.live_bytes,
                reclaimable_bytes=f.dead_bytes,
            )
            for name, f in state.frames.items()
        },
        failed=[{"path": m.path, "reason": m.error} for m in failed],
        messages=list(state.messages),
        uploads=UploadLimits(
            max_bytes=library.config.max_upload_bytes, max_seconds=library.config.max_upload_seconds
        ),
        token_required=library.config.token is not None,
    )
