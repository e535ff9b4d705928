"""Refuses cross-site requests to whatever changes state or costs work (issue 27, item 17).

A loopback server without a token trusts every caller on this machine, and a browser is one: any
page the user visits can POST a form or a multipart upload to it (a CORS "simple" request needs no
preflight), or point an <img> at a route that runs the model. Browsers label such requests: they
send `Sec-Fetch-Site` (anything but `same-origin` or `none` is another page's doing; `same-site`
includes another port on localhost) and an `Origin` on every POST. So a request that changes state
(any method but GET, HEAD, OPTIONS) or runs a decoder or the model (the curve, the poster, a
trimmed clip, a file's events or waveform peaks) is refused with 403 when either header says it
came from elsewhere. The page's own
requests (its links and drags included) are same-origin; curl and scripts send neither header and pass. Routes added later that start work
take a non-GET method, so they fall under the rule without a change here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from pe_search.server.errors import error_response

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
EXPENSIVE_GETS = re.compile(r"^/api/files/[^/]+/(curve|poster|clip|events|peaks)$")
OWN_SITES = ("same-origin", "none")  # `none`: typed in the address bar, a bookmark
DEFAULT_PORTS = {"http": "80", "https": "443"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _authority(host: str, scheme: str) -> str:
    """`Host:8765` -> `host:8765`; the scheme's default port dropped, so `host:80` is `host`."""
    host = host.strip().lower()
    default = DEFAULT_PORTS.get(scheme)
    return host[: -len(default) - 1] if default and host.endswith(f":{default}") else host


def is_own_origin(origin: str, scope: Scope) -> bool:
    """Does `origin` name this server, as the request's Host header does?"""
    parts = urlsplit(origin.strip())
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.netloc:
        return False  # `null` (sandboxed pages, file://) and anything unparseable
    own = _header(scope, b"host") or ""
    return _authority(parts.netloc, parts.scheme.lower()) == _authority(own, parts.scheme.lower())


def is_cross_site(scope: Scope) -> bool:
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site.strip().lower() not in OWN_SITES:
        return True
    origin = _header(scope, b"origin")
    return origin is not None and not is_own_origin(origin, scope)


def is_guarded(scope: Scope) -> bool:
    """Does the request change state or cost work (so another site may not send it)?"""
    return scope.get("method", "GET") not in SAFE_METHODS or bool(EXPENSIVE_GETS.match(scope.get("path", "")))


class CrossSiteMiddleware:
    """403 for a guarded request that a browser says another page sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_guarded(scope) and is_cross_site(scope):
            message = "cross-site request refused: use this server's own page, or a client without a browser's Origin"
            await error_response(403, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)
