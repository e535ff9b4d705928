"""What one server process is configured with: the library, who may call it, what uploads may be,
which folders it may index."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
TOKEN_ENV = "PE_SEARCH_TOKEN"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # a query clip: one window is 30 s, so 50 MB is generous
MAX_UPLOAD_SECONDS = 120.0
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServerConfig:
    library: Path
    token: str | None = None  # when set, /api and /media need `Authorization: Bearer <token>`
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_upload_seconds: float = MAX_UPLOAD_SECONDS
    loopback_only: bool = True  # bound to loopback without a token: only loopback Host headers
    index_folders: tuple[Path, ...] = ()  # folders POST /api/index may index (none: indexing is off)
    index_workers: int = 1  # decode processes of those runs (`Library.index(workers=...)`)
    watch: bool = False  # watch `index_folders` (`Library.watch`) rather than index them on request
    transcribe: str | None = None  # the speech model of the runs it starts (none: the library's, if any)
    language: str | None = None  # their speech's language (none: detected per file)

    def run_options(self) -> dict:
        """What every indexing run this server starts is given (`Library.index` / `watch`)."""
        speech = {"transcribe": self.transcribe, "language": self.language}
        return {"workers": self.index_workers, **{k: v for k, v in speech.items() if v is not None}}


def is_loopback(host: str) -> bool:
    """Is `host` (what the server binds to, or a request's Host name) this machine only? `localhost`
    in any case, the whole of 127.0.0.0/8 and ::1: the same test decides where the server may bind
    without a token and which Host names it then answers."""
    name = host.strip().lower().strip("[]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
