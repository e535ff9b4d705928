"""The MCP server: the SDK's low-level `Server` with the tools of `tools.py`. Arguments are checked
here against each tool's model, so a mistake answers as one line naming the argument (`k: Input
should be less than or equal to 200`), and a `PeSearchError` is worded with the HTTP API's names
(`q`, `like`, `min_prob`), never with a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from pe_search.errors import PeSearchError
from pe_search.mcp.arguments import argument_message, argument_problems
from pe_search.mcp.tools import LibraryTools, ToolSpec
from pe_search.server.errors import http_spelling

log = logging.getLogger(__name__)
SERVER_NAME = "pe-search"
INSTRUCTIONS = (
    "Search the user's own audio and video by meaning. `search` finds files and segments from words, a "
    "file or a range of an indexed file; `locate` finds where a described sound happens; `file` gives "
    "one file's details by file_id; `status` says what the library holds. Times are seconds."
)


def _tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.arguments.model_json_schema(),
        output_schema=spec.result.model_json_schema() if spec.result is not None else None,
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )


def _error(message: str, **fields: Any) -> types.CallToolResult:
    """A tool error the model reads and can correct (not a protocol error): one line."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)],
        structured_content={"error": message, **fields},
        is_error=True,
    )


def _answer(found: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(found))], structured_content=found
    )


def build_server(tools: LibraryTools) -> Server:
    """The MCP server over `tools` (the transport is the caller's: stdio or streamable HTTP)."""
    specs = {spec.name: spec for spec in tools.specs()}
    listed = [_tool(spec) for spec in specs.values()]
    schemas = {tool.name: tool.input_schema for tool in listed}

    async def list_tools(_context, _params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(_context, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = specs.get(params.name)
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}: one of {', '.join(specs)}")
        try:
            arguments = spec.arguments.model_validate(params.arguments or {})
        except ValidationError as error:
            problems = argument_problems(error)
            return _error(argument_message(problems), field=problems[0]["field"], problems=problems)
        try:
            found = await anyio.to_thread.run_sync(spec.run, arguments)
        except PeSearchError as error:
            names = [http_spelling(option) for option in error.options]
            return _error(error.worded(http_spelling), field=names[0] if names else None)
        except Exception as error:  # a bug: the log has the traceback, the client one line
            log.exception("tool %s failed", spec.name)
            return _error(f"internal error ({type(error).__name__}); the server log has details")
        return _answer(found)

    return Server(
        SERVER_NAME,
        version=_version(),
        instructions=INSTRUCTIONS,
        get_tool_input_schema=schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pe-search")
    except PackageNotFoundError:
        return ""
