"""What the MCP tools answer: the HTTP API's hit, span and file fields (server/schemas.py), with the
media URLs absolute on the pe-search server named by `--media-url`, or None without one (an MCP
client has no page to resolve `/media/7` against)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from pe_search.query.results import Hit, LocatedSpan
from pe_search.server.routes.files import file_out
from pe_search.server.routes.search import hit_out
from pe_search.server.schemas import FileOut, HitOut, SpanOut
from pe_search.server.urls import media_url, poster_url
from pe_search.store import MediaInfo

MEDIA_URL_HELP = "The file on the pe-search server given by --media-url (null without one)."


class McpHit(HitOut):
    media_url: str | None = Field(None, description=MEDIA_URL_HELP)
    poster_url: str | None = Field(
        None, description="A still of the hit's moment (video files, with --media-url)."
    )


class McpSpan(SpanOut):
    media_url: str | None = Field(None, description=MEDIA_URL_HELP)


class McpFile(FileOut):
    media_url: str | None = Field(None, description=MEDIA_URL_HELP)
    poster_url: str | None = Field(None, description="A still of the file (video files, with --media-url).")


class SearchResult(BaseModel):
    query: dict[str, Any] = Field(..., description="The arguments as understood.")
    hits: list[McpHit]


class LocateResult(BaseModel):
    spans: list[McpSpan]


class MediaUrls:
    """Absolute URLs on a running `pe-search serve` (`base`: its address), or none."""

    def __init__(self, base: str | None) -> None:
        self.base = base.rstrip("/") if base else None

    def _on_server(self, path: str | None) -> str | None:
        return f"{self.base}{path}" if self.base and path else None

    def media(self, file_id: int | None) -> str | None:
        return self._on_server(media_url(file_id)) if file_id is not None else None

    def poster(self, file_id: int, kind: str, at: float = 0.0) -> str | None:
        return self._on_server(poster_url(file_id, kind, at))


def hit_result(hit: Hit, urls: MediaUrls) -> McpHit:
    """The HTTP API's hit (`routes/search.hit_out`) with its URLs on the server, if one is named."""
    at = hit.moment.start if hit.moment else hit.start
    fields = hit_out(hit).model_dump()
    fields.update(media_url=urls.media(hit.media_id), poster_url=urls.poster(hit.media_id, hit.kind, at))
    return McpHit(**fields)


def span_result(span: LocatedSpan, file_id: int | None, urls: MediaUrls) -> McpSpan:
    return McpSpan(**span.to_dict(), file_id=file_id, media_url=urls.media(file_id))


def file_result(media: MediaInfo, urls: MediaUrls) -> McpFile:
    """The HTTP API's file (`routes/files.file_out`) with its URLs on the server, if one is named."""
    fields = file_out(media).model_dump()
    fields.update(media_url=urls.media(media.id), poster_url=urls.poster(media.id, media.kind))
    return McpFile(**fields)
