"""What the tests of indexing from the server share: toy sounds of known lengths, a library of the
first ones, a live server that may index a folder, and a parser of the raw event stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pe_search.api import Library
from pe_search.server import ServerConfig, create_app
from pe_search.toy import synth
from pe_search.toy.media_writer import write_audio
from testkit.server_live import live_server

# The toy world's sound classes, written as WAV and FLAC of lengths chosen here: the media seconds a
# run must report are their sum.
FIRST = {"low-tone.wav": ("low_tone", 3.0), "mid-tone.flac": ("mid_tone", 3.0)}
LATER = {
    "chirp-up.wav": ("chirp_up", 4.0),
    "white-noise.flac": ("white_noise", 2.5),
    "beeps/high-beep.wav": ("high_beep", 3.5),
}
BROKEN = "broken.wav"  # not a sound: the run reports it failed and goes on
WAIT = 120  # seconds: a hang guard, never what decides a test


def write_sounds(files: dict[str, tuple[str, float]], folder: Path) -> Path:
    for seed, (name, (sound, seconds)) in enumerate(files.items()):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_audio(target, synth.sound(sound, seconds, seed).samples, synth.SAMPLE_RATE)
    return folder


@contextmanager
def no_compile_step() -> Iterator[None]:
    """The toy models' speed paths compile kernels first: minutes on a loaded machine, for nothing here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PE_SEARCH_FAST", "0")
        yield


def build_library(root: Path) -> Path:
    """A toy library of FIRST's sounds (written under `root/first`), at `root/library`."""
    library = root / "library"
    with Library.open(library, model="toy") as opened:
        opened.index([str(write_sounds(FIRST, root / "first"))], workers=0, progress=False)
    return library


def serving(library: Path, folders: tuple[Path, ...] = (), token: str | None = None, **settings):
    """A live server of `library`; `settings`: more of its `ServerConfig` (transcribe, ...)."""
    config = ServerConfig(library=library, index_folders=folders, index_workers=0, token=token, **settings)
    return live_server(create_app(config, warm_up=True))


def read_events(response: httpx.Response, until: tuple[str, ...] = ("done", "failed")) -> list[dict]:
    """Parse a text/event-stream (the WHATWG rules: `field: value` lines, a blank line ends an
    event, `:` lines are comments) until an event of a kind in `until`."""
    events, fields = [], {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                event = {"id": int(fields["id"]), "event": fields.get("event", "message")}
                event["data"] = json.loads(fields["data"])
                events.append(event)
                if event["event"] in until:
                    return events
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value
    raise AssertionError(f"the stream ended before {until}: {events}")
