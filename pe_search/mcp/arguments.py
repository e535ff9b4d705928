"""What each MCP tool takes: the HTTP API's request models (server/schemas.py, built from
query/parameters.py), so a tool's argument names, bounds and defaults are the HTTP API's and are
declared once. Unknown arguments are refused by name rather than ignored, so an assistant that
guesses a name (`query` for `q`) hears about it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pe_search.server.schemas import LocateRequest, SearchRequest


class SearchArguments(SearchRequest):
    """`search`: words (`q`), a media file on this machine (`file`), or a range of an indexed file
    (`like`), with the HTTP API's filters, paging, target, min_prob and mode."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = Field(
        None,
        max_length=4096,
        description="A sound or clip on the machine pe-search runs on, to search with (stdio only).",
    )
    use: Literal["audio", "video"] | None = Field(
        None, description="Query with the file's sound or its picture (default: what crosses to target)."
    )


class LocateArguments(LocateRequest):
    """`locate`: where a described sound happens, across the library or inside one file."""

    model_config = ConfigDict(extra="forbid")


class FileArguments(BaseModel):
    """`file`: one indexed file's details, by the id a hit or span carries."""

    model_config = ConfigDict(extra="forbid")

    file_id: int = Field(..., ge=1, description="The file's id (a hit's or span's file_id).")


class StatusArguments(BaseModel):
    """`status`: takes nothing."""

    model_config = ConfigDict(extra="forbid")


def argument_problems(error: ValidationError) -> list[dict[str, str]]:
    """Each wrong argument as `{"field": "like.file_id", "message": ...}`, worded for one line."""
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem.get("loc", ())) or "arguments"
        message = problem.get("msg", "invalid")
        if problem.get("type") == "extra_forbidden":
            message = "not an argument of this tool"
        problems.append({"field": field, "message": message})
    return problems


def argument_message(problems: list[dict[str, str]]) -> str:
    """`k: Input should be less than or equal to 200; target: Input should be ...`."""
    return "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "arguments: invalid"
