"""Every failure leaves the server as JSON `{"error": ..., "status": ...}` with its status code,
never a traceback. Bad inputs are 422 with the field that is wrong."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pe_search.errors import MediaError, ModelLoadError, Option, PeSearchError, api_spelling
from pe_search.query.routes import QueryError
from pe_search.store import LibraryBusyError, LibraryDamagedError, LibraryNotFoundError, LibraryVersionError

log = logging.getLogger(__name__)

# The user's mistakes, by how HTTP names them (first match wins; the base class last).
STATUS_OF_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (QueryError, 400),
    (MediaError, 415),
    (LibraryNotFoundError, 503),
    (LibraryVersionError, 503),
    (LibraryDamagedError, 503),
    (LibraryBusyError, 503),
    (ModelLoadError, 503),
    (PeSearchError, 400),
)


# The HTTP API's names for the query's options where they differ from the library API's: the words
# are `q`, a sound or a clip is the upload's `file` (POST /api/search/upload).
HTTP_FIELDS = {"text": "q", "audio": "file", "video": "file", "like": "like"}


def http_spelling(option: Option) -> str:
    """An option as the HTTP API names it: its request field (`q`, `k`, `min_prob=2`)."""
    field = HTTP_FIELDS.get(option.name)
    return field if field is not None else api_spelling(option)


def error_response(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def _field(location: tuple) -> str:
    """("body", "k") -> "k"; ("query", "t") -> "t"."""
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in error.errors()
        ]
        first = problems[0] if problems else {"field": "request", "message": "invalid"}
        return error_response(
            422, f"{first['field']}: {first['message']}", field=first["field"], problems=problems
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        response = error_response(error.status_code, str(error.detail))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(PeSearchError)
    async def user_error(_request: Request, error: PeSearchError) -> JSONResponse:
        status = next(code for kind, code in STATUS_OF_ERROR if isinstance(error, kind))
        return error_response(status, error.worded(http_spelling))

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, f"internal error ({type(error).__name__}); the server log has details")
