"""The app factory: one library, the access rules, the JSON error handlers, the routes, the page."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from pe_search.api import Library
from pe_search.server.auth import AccessMiddleware
from pe_search.server.config import ServerConfig
from pe_search.server.cross_site import CrossSiteMiddleware
from pe_search.server.errors import install_error_handlers
from pe_search.server.routes import (
    clip,
    curve,
    events,
    export,
    files,
    locate,
    media,
    peaks,
    search,
    session,
    status,
    tags,
    transcript,
)
from pe_search.server.routes.indexing import router as indexing_router
from pe_search.server.served import ServedLibrary
from pe_search.server.uploads import UploadSizeMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(config: ServerConfig, library: Library | None = None, warm_up: bool = False) -> FastAPI:
    """The ASGI app serving `config.library` (or the given open `library`). `warm_up`: load the
    models at startup instead of on the first query."""
    served = ServedLibrary(config, library)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if warm_up:
            served.warm_up()
        yield
        served.close()

    app = FastAPI(
        title="pe-search",
        summary="Search your own audio and video by meaning (PE-AV), and play every hit at its moment.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.served = served
    install_error_handlers(app)
    for module in (
        search,
        locate,
        curve,
        files,
        media,
        status,
        session,
        export,
        clip,
        tags,
        events,
        peaks,
        transcript,
    ):
        app.include_router(module.router)
    app.include_router(indexing_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
    def no_icon() -> Response:
        return Response(status_code=204)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    # The last added runs first: access (Host, token), then cross-site requests, then an upload's
    # size, all before any route runs.
    app.add_middleware(UploadSizeMiddleware, limit=config.max_upload_bytes)
    app.add_middleware(CrossSiteMiddleware)
    app.add_middleware(AccessMiddleware, config=config)
    return app
