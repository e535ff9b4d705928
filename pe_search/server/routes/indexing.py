"""Indexing from the server (issue 25): start a run of the folders the server may index
(POST /api/index), see where it stands (GET /api/index), follow it live as server-sent events
(GET /api/index/events; ids only grow, so a reconnect with Last-Event-ID resumes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from pe_search.server.errors import http_spelling
from pe_search.server.indexing import IndexingOff, IndexRefused, IndexRunner
from pe_search.server.schemas import ERRORS, ErrorOut
from pe_search.server.served import ServedLibrary, served

router = APIRouter(tags=["indexing"])
REFUSALS = {**ERRORS, 403: {"model": ErrorOut}, 409: {"model": ErrorOut}}


class IndexStart(BaseModel):
    folders: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="Which of the server's index folders to index (as GET /api/index lists them); none: all.",
    )
    transcribe: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        None,
        description="Transcribe speech with this Whisper-family checkpoint (a Hugging Face id or a directory "
        "on the server's machine), recorded with the library (none: the library's recorded model, if any).",
    )
    language: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        None, description="The speech's language code (none: detected per file)."
    )
    rebuild_transcripts: bool = Field(
        False,
        description="Transcribe every file again (and accept another model than the recorded one); "
        "no vector is encoded again.",
    )

    def speech(self) -> dict[str, Any]:
        """The transcription options, as `Library.index` takes them."""
        return {
            "transcribe": self.transcribe,
            "language": self.language,
            "rebuild_transcripts": self.rebuild_transcripts,
        }


class IndexProgressOut(BaseModel):
    run: int
    folders: list[str]
    started: float = Field(..., description="When the run started (seconds since the epoch).")
    status: str = Field(..., description="running, done, stopped or failed.")
    planned: int | None = Field(None, description="Files to decode and encode (null: still walking).")
    unchanged: int
    moved: int
    removed: int
    done: int = Field(..., description="Files indexed so far.")
    failed: int = Field(..., description="Files that could not be indexed so far.")
    media_seconds: float
    rate: float | None = Field(None, description="Media seconds encoded per second.")
    eta: float | None = Field(None, description="Seconds left, from the pace so far (null: not known yet).")
    error: str | None = None
    summary: dict[str, Any] | None = Field(None, description="The run's summary, as `index --json` gives it.")


class IndexStatus(BaseModel):
    enabled: bool = Field(..., description="Whether this server may index (started with folders to index).")
    folders: list[str]
    watching: bool = Field(..., description="Whether the server watches them (runs start by themselves).")
    running: bool
    transcribe: str | None = Field(
        None,
        description="The speech model this server's runs transcribe with unless a request names one "
        "(pe-search serve --transcribe; null: the library's recorded model, if any).",
    )
    state: IndexProgressOut | None = Field(None, description="The latest run (null: none yet).")
    last_event_id: int


def _runner(library: ServedLibrary) -> IndexRunner:
    return library.indexing


def _status(runner: IndexRunner) -> IndexStatus:
    state = runner.state()
    return IndexStatus(
        enabled=runner.enabled,
        folders=[str(folder) for folder in runner.folders],
        watching=runner.watcher is not None,
        running=state is not None and state["status"] == "running",
        transcribe=runner.speech_defaults().get("transcribe"),
        state=state,
        last_event_id=runner.log.last_id,
    )


def _refused(error: IndexRefused) -> HTTPException:
    return HTTPException(error.status, error.worded(http_spelling))


@router.get("/api/index", response_model=IndexStatus, responses=ERRORS)
def index_status(library: Annotated[ServedLibrary, Depends(served)]) -> IndexStatus:
    """Whether this server may index, which folders, and where the latest run stands."""
    return _status(_runner(library))


@router.post("/api/index", status_code=202, response_model=IndexStatus, responses=REFUSALS)
def start_index(
    library: Annotated[ServedLibrary, Depends(served)], request: IndexStart | None = None
) -> IndexStatus:
    """Start indexing the server's folders (or the named ones among them) in the background:
    403 when indexing is off or a folder is not one of them, 409 while a run is going or when
    the server watches its folders (it indexes their changes itself), 400 for transcription
    options `pe-search index` would refuse (checked before the run starts)."""
    runner = _runner(library)
    try:
        if request is None:
            runner.start()
        else:
            runner.start(request.folders, request.speech())
    except IndexRefused as error:
        raise _refused(error) from None
    return _status(runner)


@router.get(
    "/api/index/events",
    responses={**REFUSALS, 200: {"content": {"text/event-stream": {}}, "description": "The event stream."}},
)
async def index_events(
    library: Annotated[ServedLibrary, Depends(served)],
    last_event_id: Annotated[int | None, Header(ge=0, description="Resume after this event.")] = None,
) -> EventSourceResponse:
    """Server-sent events of the runs: `started`, `planned`, `media`, `file` (with `path` and
    `reason` when it failed), `message`, and a final `done` or `failed`; a watching server adds
    `watching` (listening for changes) and a `reason` on `started` (start, changes, rescan). Each carries the run's
    whole progress (as GET /api/index's `state`). Without Last-Event-ID, from the latest run's start."""
    runner = _runner(library)
    if not runner.enabled:
        raise _refused(IndexingOff())
    after = last_event_id if last_event_id is not None else max(runner.first_event_id() - 1, 0)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for event in runner.log.follow(after):
            yield ServerSentEvent(data=json.dumps(event.data), event=event.kind, id=str(event.id))

    return EventSourceResponse(events())  # Cache-Control: no-store, X-Accel-Buffering: no (for proxies)
