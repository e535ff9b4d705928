"""`pe-search mcp` driven by the MCP SDK's own client: over stdio (a `pe-search mcp` subprocess on
the demo library) its search and locate answer with the hits the `Library` API gives in this
process (paths, times, probabilities), its tools list their schemas, and bad arguments come back
as one-line tool errors naming the argument; over streamable HTTP the serve rules hold (a token
off loopback, loopback names only without one) and a client with the token gets answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from click.testing import CliRunner
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from pe_search.api import Library
from pe_search.cli.main import cli
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia

ROOT = Path(__file__).resolve().parents[1]
EDGE = 0.08  # s: the demo's localisation tolerance (tests/test_server_api.py)


@pytest.fixture(scope="module")
def media(demo) -> DemoMedia:
    return DemoMedia.load(Path(demo.root))


@pytest.fixture(scope="module")
def library(demo):
    with Library.open(demo.library) as opened:
        yield opened


def stdio_parameters(library_dir: str, *extra: str) -> StdioServerParameters:
    """`pe-search mcp` as an MCP client starts it: this tree's code, offline, no GPU."""
    env = {
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "PE_SEARCH_FAST_BF16": "0",
        "CUDA_VISIBLE_DEVICES": "",
    }
    arguments = ["-m", "pe_search", "mcp", "--library", library_dir, *extra]
    return StdioServerParameters(command=sys.executable, args=arguments, env=env, cwd=str(ROOT))


def over_stdio(library_dir: str, session_work, *extra: str) -> object:
    """Start the server, initialise a `ClientSession` and run `session_work(session)` with it."""

    async def main():
        with open(os.devnull, "w") as quiet:
            async with (
                stdio_client(stdio_parameters(library_dir, *extra), errlog=quiet) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await session_work(session)

    return anyio.run(main)


def same_hits(answered: list[dict], expected) -> None:
    """The MCP hits are the Library's, in order: path, start, end and probability."""
    assert [h["path"] for h in answered] == [e.path for e in expected]
    for hit, want in zip(answered, expected, strict=True):
        assert hit["start"] == pytest.approx(want.start, abs=1e-6)
        assert hit["end"] == pytest.approx(want.end, abs=1e-6)
        if want.probability is None:
            assert hit["probability"] is None
        else:
            assert hit["probability"] == pytest.approx(want.probability, abs=1e-5)


def test_stdio_tools_answer_as_the_library_does(demo, media, library):
    take = next(f for f in media.files if f.events)
    event = take.events[0]
    take_path = str((media.media_dir / take.path).resolve())
    take_id = library.store.find_media(take_path).id
    a_sound = synth.caption(event.sound)
    sound_file = str(next(iter(media.query_sounds.values())))

    async def work(session: ClientSession):
        listed = (await session.list_tools()).tools
        calls = {
            "text": await session.call_tool("search", {"q": a_sound, "target": "audio", "k": 5}),
            "filtered": await session.call_tool("search", {"q": a_sound, "kind": ["video"], "k": 5}),
            "like": await session.call_tool(
                "search", {"like": {"file_id": take_id, "start": event.start, "end": event.end}, "k": 3}
            ),
            "file_query": await session.call_tool("search", {"file": sound_file, "target": "video", "k": 3}),
            "locate_in": await session.call_tool("locate", {"q": a_sound, "file_id": take_id}),
            "locate_all": await session.call_tool("locate", {"q": a_sound, "k": 5}),
            "file": await session.call_tool("file", {"file_id": take_id}),
            "status": await session.call_tool("status", {}),
        }
        return listed, calls

    listed, calls = over_stdio(demo.library, work, "--media-url", "http://127.0.0.1:8765/")
    tools = {tool.name: tool for tool in listed}
    assert set(tools) == {"search", "locate", "file", "status"}
    search_schema = tools["search"].input_schema["properties"]
    # The HTTP API's names, bounds and choices (query/parameters.py, via server/schemas.py).
    assert {"q", "like", "file", "target", "k", "min_prob", "mode", "kind", "folder"} <= set(search_schema)
    assert search_schema["k"]["minimum"] == 1 and search_schema["k"]["default"] == 10
    target_enum = [c for c in search_schema["target"]["anyOf"] if "enum" in c][0]["enum"]
    assert set(target_enum) == {"audio", "video", "audio_video"}
    assert tools["locate"].input_schema["required"] == ["q"]
    assert all(tools[name].annotations.read_only_hint for name in tools)
    for call in calls.values():
        assert not call.is_error, call.content

    hits = calls["text"].structured_content["hits"]
    same_hits(hits, library.search(a_sound, target="audio", k=5))
    assert event.sound in media.by_path(hits[0]["path"]).sounds  # the generator's label, not the code's
    assert hits[0]["media_url"] == f"http://127.0.0.1:8765/media/{hits[0]['file_id']}"
    filtered = calls["filtered"].structured_content["hits"]
    same_hits(filtered, library.search(a_sound, kinds=("video",), k=5))
    assert filtered and all(h["kind"] == "video" for h in filtered)
    same_hits(
        calls["like"].structured_content["hits"],
        library.search(like=(take_path, event.start, event.end), k=3),
    )
    same_hits(
        calls["file_query"].structured_content["hits"], library.search(audio=sound_file, target="video", k=3)
    )

    spans = calls["locate_in"].structured_content["spans"]
    expected = library.locate(a_sound, path=take_path)
    same_hits(spans, expected)
    best = max(spans, key=lambda s: min(s["end"], event.end) - max(s["start"], event.start))
    assert abs(best["start"] - event.start) <= EDGE and abs(best["end"] - event.end) <= EDGE
    assert {s["file_id"] for s in spans} == {take_id}
    same_hits(calls["locate_all"].structured_content["spans"], library.locate(a_sound, k=5))

    details = calls["file"].structured_content
    assert details["path"] == take_path and details["id"] == take_id
    assert details["duration"] == pytest.approx(take.seconds, abs=0.05)
    status = calls["status"].structured_content
    assert status["media"].get("indexed") == len(media.files)  # the demo's manifest
    assert Path(status["library"]).resolve() == Path(demo.library).resolve()


BAD_CALLS = [
    # (tool, arguments, the argument the error must name)
    ("locate", {}, "q"),
    ("search", {}, "q"),  # nothing to search with: the query layer's error, in the HTTP API's words
    ("search", {"q": "a hiss", "k": 0}, "k"),
    ("search", {"q": "a hiss", "k": 100_000}, "k"),
    ("search", {"q": "a hiss", "target": "smell"}, "target"),
    ("search", {"q": "a hiss", "min_prob": 2}, "min_prob"),
    ("search", {"query": "a hiss"}, "query"),
    ("search", {"like": {"file_id": 999_999, "start": 0, "end": 1}}, "like.file_id"),
    ("search", {"like": {"file_id": 1, "start": 0}}, "like.end"),
    ("locate", {"q": "a hiss", "threshold": 1.5}, "threshold"),
    ("file", {"file_id": 999_999}, "file_id"),
    ("file", {"file_id": "seven"}, "file_id"),
]


def test_stdio_refuses_bad_arguments_naming_the_argument(demo):
    from mcp.shared.exceptions import MCPError

    async def work(session: ClientSession):
        results = [await session.call_tool(tool, arguments) for tool, arguments, _ in BAD_CALLS]
        with pytest.raises(MCPError, match="unknown tool 'find'"):
            await session.call_tool("find", {"q": "a hiss"})
        after = await session.call_tool("status", {})  # the session goes on after every refusal
        return results, after

    results, after = over_stdio(demo.library, work)
    for (tool, arguments, argument), result in zip(BAD_CALLS, results, strict=True):
        assert result.is_error, (tool, arguments)
        message = result.content[0].text
        assert "\n" not in message and "Traceback" not in message, message
        assert re.search(rf"(^|\s){re.escape(argument)}\b", message), (argument, message)
        assert result.structured_content["field"] == argument, message
    assert not after.is_error


def test_cli_mistakes_are_one_line_before_any_protocol(tmp_path, demo):
    missing = CliRunner().invoke(cli, ["mcp", "--library", str(tmp_path / "none"), "--json"])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert str(tmp_path / "none") in missing.output and '"error"' in missing.output
    bare_host = CliRunner().invoke(cli, ["mcp", "--library", demo.library, "--media-url", "127.0.0.1:8765"])
    assert bare_host.exit_code == 1 and "--media-url" in bare_host.output and "http://" in bare_host.output
    assert len(bare_host.output.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ HTTP
def test_http_off_loopback_without_a_token_is_refused_in_one_line(demo, monkeypatch):
    monkeypatch.delenv("PE_SEARCH_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["mcp", "--http", "--host", "0.0.0.0", "--library", demo.library])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--token" in lines[0] and "0.0.0.0" in lines[0]


@pytest.fixture(scope="module")
def http_server(demo):
    """`pe-search mcp --http` bound off loopback with a token, as a user starts it: yields its URL
    and what it printed under --json."""
    from testkit.server_live import free_port

    port = free_port()
    command = [sys.executable, "-m", "pe_search", "mcp", "--http", "--host", "0.0.0.0", "--port", str(port)]
    command += [
        "--token",
        "s3cret",
        "--media-url",
        "http://media.example:8765/",
        "--library",
        demo.library,
        "--json",
    ]
    env = {**os.environ, **stdio_parameters(demo.library).env}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        printed = json.loads(_json_object(server.stdout))
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 120
        while True:  # until it listens (the answer itself is asserted by the tests)
            assert server.poll() is None, "pe-search mcp --http exited"
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "pe-search mcp --http did not start"
                time.sleep(0.5)
        yield url, printed
    finally:
        server.terminate()
        server.wait(timeout=30)


def _json_object(stream) -> str:
    """The one JSON object the command prints (indented over several lines) before it serves."""
    lines = []
    for line in iter(stream.readline, b""):
        lines.append(line.decode())
        if line.rstrip() == b"}":
            return "".join(lines)
    raise AssertionError(f"no JSON object printed: {lines}")


def over_http(url: str, headers: dict[str, str], session_work):
    async def main():
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session_work(session)

    return anyio.run(main)


def test_http_needs_the_token_and_answers_with_it(http_server, library, media):
    url, printed = http_server
    assert printed["token_required"] is True and printed["url"].endswith("/mcp")
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.post(url, json=initialize, headers=headers)
        assert refused.status_code == 401 and "token" in refused.json()["error"]

    a_sound = synth.caption(media.events[0].sound)

    async def work(session: ClientSession):
        found = await session.call_tool("search", {"q": a_sound, "k": 3})
        by_path = await session.call_tool("search", {"file": str(media.media_dir / media.files[0].path)})
        return found, by_path

    found, by_path = over_http(url, {"Authorization": "Bearer s3cret"}, work)
    hits = found.structured_content["hits"]
    same_hits(hits, library.search(a_sound, k=3))
    assert hits[0]["media_url"] == f"http://media.example:8765/media/{hits[0]['file_id']}"
    # Over HTTP a client names files by id, never by a path on the server's machine.
    assert by_path.is_error and by_path.structured_content["field"] == "file"


def test_http_on_loopback_without_a_token_answers_loopback_names_only(library):
    from pe_search.mcp import LibraryTools, MediaUrls, build_server
    from pe_search.mcp.transports import http_app
    from pe_search.server.config import ServerConfig
    from testkit.server_live import live_server

    tools = LibraryTools(library, MediaUrls(None), allow_paths=False)
    config = ServerConfig(library=library.path, token=None, loopback_only=True)
    with live_server(http_app(build_server(tools), config, "127.0.0.1")) as base:
        url = base + "/mcp"
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        foreign = httpx.post(url, json=initialize, headers={"Host": "evil.example"})
        assert foreign.status_code == 421

        async def work(session: ClientSession):
            return await session.call_tool("status", {}), await session.call_tool(
                "search", {"q": "a hiss", "k": 1}
            )

        status, found = over_http(url, {}, work)
        assert not status.is_error and status.structured_content["media_url"] is None
        assert found.structured_content["hits"][0]["media_url"] is None  # no --media-url given
