"""Indexing from the server (issue 25, item 2): POST /api/index runs `Library.index` in the server
process over the folders it was started with, GET /api/index/events streams the run as server-sent
events (parsed here from the raw stream with httpx), searches answer while it runs, and every way
of asking for something else is refused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from served_indexing import (
    BROKEN,
    FIRST,
    LATER,
    WAIT,
    build_library,
    no_compile_step,
    read_events,
    serving,
    write_sounds,
)

from indexer.events import FileDone
from pe_search.api import Library
from pe_search.cli.main import cli
from pe_search.errors import PeSearchError
from pe_search.server import ServerConfig, create_app
from pe_search.toy import synth
from testkit.server_live import free_port, live_server


@pytest.fixture(scope="module", autouse=True)
def _no_compile_step():
    with no_compile_step():
        yield


@pytest.fixture(scope="module")
def base_library(tmp_path_factory) -> Path:
    """A toy library holding FIRST only, built once; each test works on its own copy."""
    return build_library(tmp_path_factory.mktemp("base"))


@pytest.fixture
def library(base_library, tmp_path) -> Path:
    return Path(shutil.copytree(base_library, tmp_path / "library"))


@pytest.fixture
def incoming(tmp_path) -> Path:
    """The folder the server may index: LATER's files and one that is not media at all."""
    folder = write_sounds(LATER, tmp_path / "incoming")
    (folder / BROKEN).write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot a sound at all")
    return folder


def indexed(client: httpx.Client) -> int:
    return client.get("/api/files", params={"status": "indexed"}).json()["total"]


def stream(client: httpx.Client, last_id: int | None = None):
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    return client.stream("GET", "/api/index/events", headers=headers)


def test_the_stream_delivers_a_run_in_order(library, incoming):
    expected = sorted(str(incoming / name) for name in (*LATER, BROKEN))
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        assert client.get("/api/files").json()["total"] == len(FIRST)
        before = client.get("/api/index").json()
        assert before == {
            "enabled": True, "folders": [str(incoming)], "watching": False, "running": False, "transcribe": None,
            "state": None, "last_event_id": 0,
        }  # fmt: skip
        started = client.post("/api/index")
        assert started.status_code == 202 and started.json()["state"]["folders"] == [str(incoming)]
        with stream(client) as response:  # joined after the start: the run is replayed from its first event
            assert response.headers["content-type"].startswith("text/event-stream")
            events = read_events(response)

        ids = [event["id"] for event in events]
        assert ids == list(range(1, len(events) + 1))  # in order, none missing, none twice
        kinds = [event["event"] for event in events]
        assert kinds[0] == "started" and kinds[1] == "planned" and kinds[-1] == "done"
        assert events[1]["data"]["planned"] == len(expected)  # the generated folder's files
        files = [event["data"] for event in events if event["event"] == "file"]
        assert sorted(file["path"] for file in files) == expected
        assert [file["path"] for file in files if file["reason"]] == [str(incoming / BROKEN)]
        assert [file["done"] + file["failed"] for file in files] == list(range(1, len(expected) + 1))
        last = events[-1]["data"]
        assert (last["status"], last["done"], last["failed"], last["eta"]) == ("done", len(LATER), 1, 0.0)
        assert last["summary"]["files_indexed"] == len(LATER)
        assert [failure["path"] for failure in last["summary"]["failed"]] == [str(incoming / BROKEN)]
        # the media seconds the run reports are the new files' lengths, as they were written
        assert last["media_seconds"] == pytest.approx(sum(seconds for _, seconds in LATER.values()), abs=0.01)
        seconds = [event["data"]["media_seconds"] for event in events]
        assert seconds == sorted(seconds) and last["rate"] > 0

        assert indexed(client) == len(FIRST) + len(LATER)
        hits = client.post("/api/search", json={"q": synth.caption("chirp_up"), "target": "audio", "k": 1})
        assert Path(hits.json()["hits"][0]["path"]).name == "chirp-up.wav"
        after = client.get("/api/index").json()
        assert after["running"] is False and after["state"] == {k: v for k, v in last.items() if k != "kind"}
        assert after["last_event_id"] == ids[-1] and after["state"]["status"] == "done"

        # a reconnect that says where it was resumes there: exactly the rest, in order
        with stream(client, last_id=3) as response:
            resumed = read_events(response)
        assert resumed == events[3:]


def test_a_second_run_streams_on_from_the_first(library, incoming):
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        client.post("/api/index")
        with stream(client) as response:
            first = read_events(response)
        assert client.post("/api/index", json={"folders": [f"{incoming}/"]}).status_code == 202
        with stream(client, last_id=first[-1]["id"]) as response:
            second = read_events(response)
    assert [event["id"] for event in second] == list(range(first[-1]["id"] + 1, second[-1]["id"] + 1))
    assert second[0]["data"]["run"] == 2 and second[-1]["data"]["status"] == "done"
    planned = second[1]["data"]
    # nothing changed: nothing to encode (a bad file stays failed until it changes)
    assert (planned["planned"], planned["unchanged"]) == (0, len(LATER) + 1)
    assert [event["event"] for event in second if event["event"] in ("started", "planned", "file", "done")] == [
        "started", "planned", "done"
    ]  # fmt: skip


@pytest.fixture
def held(monkeypatch):
    """Holds a run inside the pipeline just after its first file left the encoder (the run's own
    progress callback blocks there) until the test lets it go: what is checked meanwhile meets a
    run certainly under way."""
    reached, release = threading.Event(), threading.Event()
    index = Library.index

    def holding_index(self, paths, **options):
        forward = options["progress"]

        def progress(event):
            forward(event)
            if isinstance(event, FileDone) and not reached.is_set():
                reached.set()
                release.wait(WAIT)

        return index(self, paths, **{**options, "progress": progress})

    monkeypatch.setattr(Library, "index", holding_index)
    yield reached, release
    release.set()


def test_searches_answer_while_a_run_is_held(library, incoming, held):
    reached, release = held
    chirp = synth.caption("chirp_up")
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        assert client.post("/api/index").status_code == 202
        assert reached.wait(WAIT)
        state = client.get("/api/index").json()
        assert state["running"] is True and state["state"]["done"] + state["state"]["failed"] == 1
        searched = client.post("/api/search", json={"q": chirp, "target": "audio", "k": 3})
        assert searched.status_code == 200, searched.text
        assert client.get("/api/files").status_code == 200
        again = client.post("/api/index")  # one run at a time
        assert again.status_code == 409 and "already going" in again.json()["error"]
        assert "\n" not in again.json()["error"]
        release.set()
        with stream(client) as response:
            events = read_events(response)
        assert events[-1]["event"] == "done"
        assert indexed(client) == len(FIRST) + len(LATER)


def test_indexing_is_refused_when_not_configured(library):
    with serving(library) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        assert client.get("/api/index").json()["enabled"] is False
        for answer in (client.post("/api/index"), client.get("/api/index/events")):
            assert answer.status_code == 403
            assert answer.json()["error"].startswith("indexing from this server is off")
        assert client.get("/api/files").json()["total"] == len(FIRST)  # nothing happened


def test_only_the_configured_folders_may_be_named(library, incoming, tmp_path):
    first = library.parent / "first"
    first.mkdir()
    with serving(library, (incoming,)) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        for name in (str(first), f"{incoming}/../first", "/", str(incoming / "sounds"), "incoming"):
            answer = client.post("/api/index", json={"folders": [name]})
            assert answer.status_code == 403, name
            assert answer.json()["error"].startswith(f"{name} is not a folder this server may index")
        mixed = client.post("/api/index", json={"folders": [str(incoming), "/etc"]})
        assert mixed.status_code == 403  # one bad name refuses the request: nothing starts
        for wrong in ([], [""], "x", [1]):
            assert client.post("/api/index", json={"folders": wrong}).status_code == 422, wrong
        assert client.get("/api/index").json()["state"] is None  # no run was started by any of them


def test_cross_site_and_token_rules_hold(library, incoming):
    with (
        serving(library, (incoming,), token="s3cret") as site,
        httpx.Client(base_url=site, timeout=WAIT) as client,
    ):
        assert client.post("/api/index").status_code == 401
        assert client.get("/api/index").status_code == 401
        assert client.get("/api/index/events").status_code == 401
        signed = {"Authorization": "Bearer s3cret"}
        foreign = client.post("/api/index", headers={**signed, "Origin": "http://evil.example"})
        assert foreign.status_code == 403 and "cross-site" in foreign.json()["error"]
        other_site = client.post("/api/index", headers={**signed, "Sec-Fetch-Site": "cross-site"})
        assert other_site.status_code == 403
        assert client.get("/api/index", headers=signed).json()["state"] is None
        assert client.post("/api/index", headers=signed).status_code == 202
        with client.stream("GET", "/api/index/events", headers=signed) as response:
            assert read_events(response)[-1]["event"] == "done"


def test_a_watching_server_streams_each_run_of_its_watcher(library, incoming):
    config = ServerConfig(library=library, index_folders=(incoming,), index_workers=0, watch=True)
    with (
        live_server(create_app(config, warm_up=True)) as site,
        httpx.Client(base_url=site, timeout=WAIT) as client,
    ):
        with stream(client, last_id=0) as response:  # the catch-up run, from the first event
            first = read_events(response, until=("watching",))
        assert first[0]["event"] == "started" and first[0]["data"]["reason"] == "start"
        done = next(event for event in first if event["event"] == "done")["data"]
        assert (done["planned"], done["done"], done["failed"]) == (len(LATER) + 1, len(LATER), 1)
        status = client.get("/api/index").json()
        assert status["watching"] is True and status["folders"] == [str(incoming)]
        refused = client.post("/api/index")  # the watcher holds the writer and runs by itself
        assert refused.status_code == 409 and "watches its folders" in refused.json()["error"]

        write_sounds({"late/chirp-down.wav": ("chirp_down", 3.0)}, incoming)
        with stream(client, last_id=first[-1]["id"]) as response:
            changes = read_events(response)
        assert changes[0]["data"]["reason"] == "changes" and changes[0]["data"]["run"] == 2
        files = [event["data"]["path"] for event in changes if event["event"] == "file"]
        assert files == [str(incoming / "late" / "chirp-down.wav")]
        assert changes[-1]["event"] == "done" and [e["id"] for e in changes] == sorted(
            {e["id"] for e in changes}
        )
        assert indexed(client) == len(FIRST) + len(LATER) + 1


@pytest.mark.parametrize(
    "options, message",
    [
        (["--allow-index", "/no/such/folder"], "Directory '/no/such/folder' does not exist"),
        (["--watch", "/no/such/folder"], "Directory '/no/such/folder' does not exist"),
        (["--allow-index", "{incoming}", "--watch", "{incoming}"], "give --watch or --allow-index, not both"),
    ],
)
def test_serve_refuses_index_folders_it_cannot_use_in_one_line(library, incoming, options, message):
    options = [option.format(incoming=incoming) for option in options]
    result = CliRunner().invoke(cli, ["serve", "--library", str(library), *options, "--json"])
    assert result.exit_code == 1
    assert message in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.output


def test_serve_allow_index_from_the_command_line(library, incoming):
    port = free_port()
    command = [sys.executable, "-m", "pe_search", "serve", "--library", str(library), "--port", str(port),
               "--allow-index", str(incoming), "--json"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as client:
            started = json.loads(
                server.stdout.readline() + b"".join(iter(server.stdout.readline, b"}\n")) + b"}"
            )
            assert started["index_folders"] == [str(incoming)] and started["watching"] is False
            for _ in range(WAIT * 10):  # until it listens (a hang guard)
                try:
                    assert client.post("/api/index").status_code == 202
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read().decode()
                    time.sleep(0.1)
            with stream(client) as response:
                assert read_events(response)[-1]["data"]["done"] == len(LATER)
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=WAIT)
    assert server.returncode == 0


def test_a_watch_that_ends_on_its_own_says_why(library, incoming, monkeypatch):
    """A watcher ends by itself on a full disk (w-watch's tests fill a real one); the server only
    has to say so: a stand-in watcher ends that way here."""

    class EndsOnItsOwn:
        def wait(self, timeout=None):
            raise PeSearchError("no space left on the library's disk", "free some and start again")

        def close(self):
            pass

    monkeypatch.setattr(Library, "watch", lambda self, paths, **options: EndsOnItsOwn())
    config = ServerConfig(library=library, index_folders=(incoming,), index_workers=0, watch=True)
    with (
        live_server(create_app(config)) as site,
        httpx.Client(base_url=site, timeout=WAIT) as client,
        stream(client, last_id=0) as response,
    ):
        events = read_events(response)
    assert [event["event"] for event in events] == ["failed"]
    assert events[0]["data"]["error"] == "no space left on the library's disk: free some and start again"
    assert events[0]["data"]["status"] == "failed"


def test_the_folders_an_app_is_given_are_resolved_once(library, incoming, monkeypatch):
    monkeypatch.chdir(incoming.parent)  # an embedding program may give them relative, or twice
    given = (Path("incoming"), incoming / ".." / "incoming")
    with serving(library, given) as site, httpx.Client(base_url=site, timeout=WAIT) as client:
        assert client.get("/api/index").json()["folders"] == [str(incoming.resolve())]
        assert (
            client.post("/api/index", json={"folders": ["incoming"]}).status_code == 403
        )  # as text, not on disk
        assert client.post("/api/index", json={"folders": [str(incoming.resolve())]}).status_code == 202
        with stream(client) as response:
            assert read_events(response)[-1]["data"]["done"] == len(LATER)
