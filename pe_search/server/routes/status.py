"""Status: what the library holds (the same report as the CLI's `status --json`), and the server's
own limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from pe_search.server.schemas import ERRORS, StatusResponse, UploadLimits
from pe_search.server.served import ServedLibrary, served
from pe_search.status_report import status_report

router = APIRouter(tags=["library"])


@router.get("/api/status", response_model=StatusResponse, responses=ERRORS)
def status(library: Annotated[ServedLibrary, Depends(served)]) -> StatusResponse:
    report = status_report(library.library.store, library.library.path).as_dict()
    return StatusResponse(
        **report,
        uploads=UploadLimits(
            max_bytes=library.config.max_upload_bytes, max_seconds=library.config.max_upload_seconds
        ),
        token_required=library.config.token is not None,
    )
