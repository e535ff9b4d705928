"""Every user mistake through the CLI: one `error:` line on stderr that says what to do, exit code 1,
no traceback, and the JSON error object under --json, whether click's parser or a command caught it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pe_search.cli.main import cli
from testkit import media


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("mistakes")
    media.write_audio(root / "tone.wav", media.tone(440, 1.0, 48_000), 48_000)
    return root


# (name, arguments); "{folder}" and "{library}" are filled in by the test.
MISTAKES = [
    ("unknown --target", ["search", "a dog", "--target", "foo"]),
    ("bad --modified-after", ["search", "a dog", "--modified-after", "garbage"]),
    ("bad --modified-before", ["search", "a dog", "--modified-before", "2026-13-45"]),
    ("unknown --kind", ["search", "a dog", "--kind", "picture"]),
    ("-k not a number", ["search", "a dog", "-k", "many"]),
    ("missing folder", ["index", "{folder}/no-such-folder", "--library", "{library}"]),
    ("--window 0", ["index", "{folder}", "--library", "{library}", "--window", "0"]),
    ("--hop negative", ["index", "{folder}", "--library", "{library}", "--hop", "-1"]),
    ("--fps with --frames-per-window", ["index", "{folder}", "--library", "{library}", "--fps", "2", "--frames-per-window", "4"]),
    ("--frame-model with --no-frames", ["index", "{folder}", "--library", "{library}", "--no-frames", "--frame-model", "x"]),
    ("unknown option", ["index", "{folder}", "--library", "{library}", "--colour", "red"]),
    ("unknown command", ["serch", "a dog"]),
    ("no such library (status)", ["status", "--library", "{library}"]),
    ("no such library (search)", ["search", "a dog", "--library", "{library}"]),
    ("locate without text", ["locate"]),
    ("--device tpu (index)", ["index", "{folder}", "--library", "{library}", "--model", "toy", "--device", "tpu"]),
    ("--device tpu (model)", ["model", "toy", "--device", "tpu"]),
]  # fmt: skip


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize(("name", "arguments"), MISTAKES, ids=[name for name, _ in MISTAKES])
def test_mistake_is_one_line_and_exit_1(folder, tmp_path, name, arguments, as_json):
    library = tmp_path / "library"
    args = [a.format(folder=folder, library=library) for a in arguments] + (["--json"] if as_json else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    if as_json:
        assert json.loads(result.stdout)["error"] == lines[0].removeprefix("error: ")
    else:
        assert result.stdout == ""
    assert not (library / "library.db").exists()  # a mistake creates nothing


def test_help_and_version_are_not_mistakes():
    for args in (["--help"], ["index", "--help"], ["--version"], []):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "error:" not in result.output


def test_same_architecture_other_weights_is_refused(folder, tmp_path, checkpoint_dirs):
    """A checkpoint with the very same config but other weights must not be mixed into a library:
    the identity compares the weights, not only the architecture."""
    from pe_search.toy.tiny import write_tiny_checkpoint

    other = write_tiny_checkpoint(tmp_path / "other", "audio_video", seed=99)
    assert (other / "config.json").read_text() == (checkpoint_dirs["audio_video"] / "config.json").read_text()
    library = tmp_path / "library"
    first = [
        "index",
        str(folder),
        "--library",
        str(library),
        "--no-frames",
        "--window",
        "1",
        "--workers",
        "0",
    ]
    result = CliRunner().invoke(cli, [*first, "--model", str(checkpoint_dirs["audio_video"])])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*first, "--model", str(other)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "built with another model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
