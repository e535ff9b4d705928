"""The `--json` output of every command has the shape committed in tests/json_schemas/ (so a change
to it is deliberate). A shape is the JSON with every value replaced by its type: "str", "number",
"bool", "null", or alternatives like "number|null"; a list by the shape of its items; an object by
its keys (all required, no others); {"*": shape} is a map keyed by data (spaces, statuses), and
"__or_null__": true lets an object be null. A list with an item shape must have items (a search
that found nothing must not pass for one with the right shape); "__or_empty__" after the item shape
lets it be empty, and a schema list with no item shape takes any items. The files were written from
real output, then edited for optional fields.

    PE_SEARCH_WRITE_SCHEMAS=1 pytest tests/test_json_schemas.py   # rewrite them after a deliberate change
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pe_search.cli.main import cli
from testkit import media

SCHEMAS = Path(__file__).parent / "json_schemas"
OR_EMPTY = "__or_empty__"  # after a list's item shape: the list may be empty


def shape(value):
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "str"


def conforms(value, schema, where="$") -> list[str]:
    """Where `value` departs from `schema` (empty: it conforms)."""
    if isinstance(schema, str):
        got = shape(value) if not isinstance(value, (dict, list)) else type(value).__name__
        return [] if got in schema.split("|") else [f"{where}: {got}, wanted {schema}"]
    if isinstance(schema, dict):
        if value is None and schema.get("__or_null__"):
            return []
        schema = {key: item for key, item in schema.items() if key != "__or_null__"}
        if set(schema) == {"*"} and isinstance(value, dict):  # a map keyed by data (spaces, statuses)
            return [p for key, item in value.items() for p in conforms(item, schema["*"], f"{where}.{key}")]
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, wanted an object"]
        if set(value) != set(schema):
            return [f"{where}: keys {sorted(value)}, wanted {sorted(schema)}"]
        return [p for key in schema for p in conforms(value[key], schema[key], f"{where}.{key}")]
    if not isinstance(value, list):
        return [f"{where}: {type(value).__name__}, wanted a list"]
    if not schema:  # an empty list in the schema: any items (maps keyed by data, e.g. per space)
        return []
    if not value and OR_EMPTY not in schema[1:]:
        return [f"{where}: an empty list, wanted items"]
    return [p for i, item in enumerate(value) for p in conforms(item, schema[0], f"{where}[{i}]")]


def check(name: str, output: str) -> None:
    value = json.loads(output)
    path = SCHEMAS / f"{name}.json"
    if os.environ.get("PE_SEARCH_WRITE_SCHEMAS") and not path.exists():
        path.write_text(json.dumps(shape(value), indent=2, sort_keys=True) + "\n")
    schema = json.loads(path.read_text())
    assert not conforms(value, schema), conforms(value, schema)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, checkpoint_dirs):
    root = tmp_path_factory.mktemp("schemas")
    folder = root / "media"
    folder.mkdir()
    media.write_audio(folder / "tone.wav", media.tone(440, 2.0, 48_000), 48_000)
    (folder / "broken.mp4").write_text("not a video")
    (folder / "notes.txt").write_text("not media")
    return root, folder, checkpoint_dirs


def _run(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.stdout


def test_every_command_json_has_its_committed_shape(indexed):
    root, folder, checkpoints = indexed
    library = root / "library"
    check(
        "index",
        _run(
            "index", folder, "--library", library, "--model", checkpoints["audio_video"],
            "--frame-model", checkpoints["audio_frame"], "--window", "1", "--workers", "0", "--json", code=1,
        ),
    )  # fmt: skip
    check("status", _run("status", "--library", library, "--json"))
    check("search", _run("search", "a tone", "--target", "audio", "--library", library, "--json"))
    check("locate", _run("locate", "a tone", "--threshold", "0.01", "--library", library, "--json"))
    check("model", _run("model", checkpoints["audio_video"], "--json"))
    events = ("events", folder / "tone.wav", "--labels", "Dog,Speech", "--threshold", "0.01")
    check("events", _run(*events, "--library", library, "--json"))
    clip = ("clip", folder / "tone.wav", "0.5", "1", "-o", root / "clip.wav", "--library", library, "--json")
    check("clip", _run(*clip))
    check("error", _run("search", "a tone", "-k", "0", "--library", library, "--json", code=1))
    check(
        "search-facets",
        _run("search", "a tone", "--target", "audio", "--facets", "--library", library, "--json"),
    )
    check("tags-update", _run("tags", "--update", "--library", library, "--json"))
    check("tags", _run("tags", "--all", "--library", library, "--json"))
    check("tags-file", _run("tags", folder / "tone.wav", "--library", library, "--json"))


def test_demo_json_has_its_committed_shape(demo):
    check("demo", _run("demo", "--dir", demo.root, "--workers", "0", "--json"))


def test_a_changed_shape_is_caught():
    assert conforms({"a": 1}, {"a": "str"})
    assert conforms({"a": 1, "b": 2}, {"a": "number"})
    assert conforms([{"a": None}], [{"a": "number"}])
    assert not conforms([{"a": None}], [{"a": "number|null"}])
    assert conforms({"audio": "x"}, {"*": "number"})
    assert not conforms({"m": None}, {"m": {"__or_null__": True, "a": "str"}})


def test_an_empty_result_where_results_are_expected_is_caught():
    search = json.loads((SCHEMAS / "search.json").read_text())
    locate = json.loads((SCHEMAS / "locate.json").read_text())
    assert conforms([], search) == ["$: an empty list, wanted items"]
    assert conforms([], locate)
    assert conforms({"hits": []}, {"hits": [{"a": "number"}]})
    assert not conforms({"hits": []}, {"hits": [{"a": "number"}, OR_EMPTY]})
    assert not conforms({"hits": [{"a": 1}]}, {"hits": [{"a": "number"}, OR_EMPTY]})
    assert conforms({"hits": [{"a": "x"}]}, {"hits": [{"a": "number"}, OR_EMPTY]})
    assert not conforms({"any": []}, {"any": []})
