"""The page's sign-in: a browser cannot put a header on <audio>/<video> requests, so a request
carrying the right token gets it back as an HttpOnly, same-site cookie that media requests send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from pe_search.server.auth import COOKIE, bearer_token, token_matches
from pe_search.server.schemas import ERRORS
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["library"])


@router.post("/api/session", status_code=204, responses=ERRORS)
def start_session(request: Request, library: Annotated[ServedLibrary, Depends(served)]) -> Response:
    """Check `Authorization: Bearer <token>` and set the cookie (204); no token needed: 204."""
    expected = library.config.token
    if expected is None:
        return Response(status_code=204)
    if not token_matches(bearer_token(request.scope), expected):
        raise HTTPException(401, "wrong token: send the one the server was started with (--token)")
    answer = Response(status_code=204)
    answer.set_cookie(COOKIE, expected, httponly=True, samesite="strict", path="/")
    return answer
