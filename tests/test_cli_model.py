"""The CLI's front door: one line for a user's mistake, --json everywhere."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pe_search.cli.main import cli


def test_model_command_lists_spaces_as_json(checkpoint_dirs):
    result = CliRunner().invoke(cli, ["model", str(checkpoint_dirs["audio_video"]), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["kind"] == "audio_video" and info["dim"] == 32
    assert info["spaces"]["audio_video"] == {
        "query": "audio",
        "target": "video",
        "logit_scale": 10.0,
        "logit_bias": -5.0,
    }
    assert info["frame_seconds"] == 0.04


def test_model_command_text_output(checkpoint_dirs):
    result = CliRunner().invoke(cli, ["model", str(checkpoint_dirs["audio_frame"])])
    assert result.exit_code == 0
    assert "audio_frame checkpoint" in result.output and "text_audio_frame" in result.output


def test_offline_hub_id_is_one_line_without_traceback():
    result = CliRunner().invoke(cli, ["model", "facebook/pe-av-small"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: facebook/pe-av-small is not in the local")
    assert "Traceback" not in result.output


def test_error_with_json_prints_an_error_object(tmp_path):
    result = CliRunner().invoke(cli, ["model", str(tmp_path / "missing"), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].startswith("no PE checkpoint")


def test_index_help_names_the_real_frame_codes_default():
    """The help is derived from the indexer's default, so it cannot go stale again (it said f32)."""
    from indexer.settings import IndexSettings

    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["index", "--help"])
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    assert f"(default: the library's, else {IndexSettings().frame_codes})" in help_text
