"""Who may call the server. Bound to loopback without a token, anyone on this machine may (and only
requests addressed to a loopback name are answered, against DNS rebinding); with a token, every
API and media request carries `Authorization: Bearer <token>` (or the cookie the page sets from it).

The page shell and its static files hold no data and stay open, so a browser can ask for the token.
"""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from pe_search.server.config import ServerConfig, is_loopback
from pe_search.server.errors import error_response

COOKIE = "pe_search_token"
OPEN_PATHS = ("/", "/favicon.ico", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/api/session")
OPEN_PREFIXES = ("/static/",)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def bearer_token(scope: Scope) -> str | None:
    """The token a request carries: the Authorization header, else the page's cookie."""
    header = _header(scope, b"authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    for part in (_header(scope, b"cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _host_name(scope: Scope) -> str:
    host = _header(scope, b"host") or ""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AccessMiddleware:
    """Refuses a request before it reaches a route: 421 for a foreign Host on a loopback-only
    server, 401 for a missing or wrong token."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.config.token is None and self.config.loopback_only and not is_loopback(_host_name(scope)):
            response = error_response(421, "this server answers requests to localhost only")
            await response(scope, receive, send)
            return
        path = scope.get("path", "/")
        is_open = path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
        if self.config.token is not None and not is_open:
            given = bearer_token(scope)
            if not token_matches(given, self.config.token):
                message = "this server needs a token: send Authorization: Bearer <token>"
                if given is not None:
                    message = "wrong token: send the one the server was started with (--token)"
                response = error_response(401, message)
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
