"""Query-by-example uploads: capped in bytes (before the body is read, and again while it is
copied) and in duration (probed with the media layer), kept in a temp file for the length
of the query and removed afterwards, whatever happens."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from pe_search.errors import MediaError
from pe_search.media.probe import probe
from pe_search.query.inputs import check_frame_size
from pe_search.server.errors import error_response

UPLOAD_PATH = "/api/search/upload"
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small form fields beside the file
COPY_CHUNK = 1 << 20
SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
UPLOAD_PREFIX = "pe-search-upload-"
TEMP_NAME = re.compile(rf"[^\s'\"]*{UPLOAD_PREFIX}[^\s'\"]*")  # the temp file, however a reason quotes it


@dataclass(frozen=True)
class UploadedClip:
    path: Path
    has_audio: bool
    has_video: bool
    duration: float | None


class UploadSizeMiddleware:
    """413 for an upload whose declared length passes the cap, 411 for one without a length,
    before a byte of its body is parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == UPLOAD_PATH and scope.get("method") == "POST":
            length = dict(scope.get("headers", ())).get(b"content-length")
            if length is None or not length.isdigit():
                await error_response(411, "an upload needs a Content-Length header")(scope, receive, send)
                return
            if int(length) > self.limit + FORM_OVERHEAD:
                message = f"the upload is larger than the server's limit of {_megabytes(self.limit)}"
                await error_response(413, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _megabytes(count: int) -> str:
    return f"{count / 1024 / 1024:.0f} MB"


@contextmanager
def saved_upload(upload: UploadFile, max_bytes: int, max_seconds: float) -> Iterator[UploadedClip]:
    """The upload as a temp file that is a readable sound or clip within the caps; removed on exit."""
    suffix = Path(upload.filename or "").suffix
    handle, name = tempfile.mkstemp(prefix=UPLOAD_PREFIX, suffix=suffix if SUFFIX.match(suffix) else "")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            copied = 0
            while chunk := upload.file.read(COPY_CHUNK):
                copied += len(chunk)
                if copied > max_bytes:
                    raise HTTPException(
                        413, f"the upload is larger than the server's limit of {_megabytes(max_bytes)}"
                    )
                out.write(chunk)
        if copied == 0:
            raise HTTPException(422, "file: the upload is empty")
        shown = upload.filename or "upload"
        try:
            yield _probe(path, shown, max_seconds)
        except MediaError as error:  # the query decoding the upload: say it as the upload's
            raise _as_upload(error, path, shown) from None
    finally:
        path.unlink(missing_ok=True)


def _as_upload(error: MediaError, path: Path, shown: str) -> MediaError:
    """The media layer's error about the temp file, named as the client named its upload: the
    server's temp path is no business of the client's, in the error's file or in its reason."""
    if error.path != str(path) and not TEMP_NAME.search(str(error)):
        return error
    return MediaError(shown, TEMP_NAME.sub(shown, error.reason.replace(str(path), shown)))


def _probe(path: Path, shown: str, max_seconds: float) -> UploadedClip:
    try:
        info = probe(path)
    except MediaError as error:
        reason = _as_upload(error, path, shown).reason
        raise MediaError(shown, f"not a sound or clip this server can read ({reason})") from None
    if not (info.has_audio or info.has_video):
        raise MediaError(shown, "has no sound or picture to search with")
    if info.duration is None:
        raise HTTPException(
            422,
            f"{shown}: cannot tell its duration, so it cannot be checked against the server's limit of "
            f"{max_seconds:.0f} s: send a file whose container states its length (wav, flac, mp3, m4a, mp4)",
        )
    try:
        check_frame_size(info.width, info.height, shown)
    except MediaError as error:
        raise HTTPException(413, str(error)) from None
    if info.duration > max_seconds:
        raise HTTPException(
            413, f"{shown}: {info.duration:.0f} s is longer than the server's limit of {max_seconds:.0f} s"
        )
    return UploadedClip(path, info.has_audio, info.has_video, info.duration)


def leftover_uploads() -> list[Path]:
    """Upload temp files still on disk (none once every query has finished)."""
    return sorted(Path(tempfile.gettempdir()).glob(f"{UPLOAD_PREFIX}*"))
