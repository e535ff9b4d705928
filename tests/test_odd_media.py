"""The odd-media corpus (tests/odd_media.py) indexed in one run with the toy model: every kind is
indexed, partial or failed with the reason it should have, non-media is ignored and counted, and
nothing odd stops the run or a later one."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import odd_media
import pytest
from click.testing import CliRunner

from pe_search.cli.main import cli
from pe_search.media.video import iter_video_frames
from pe_search.store import LibraryStore


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    table = odd_media.corpus_table(root / "corpus", root / "library")
    return root, table


def test_corpus_has_at_least_forty_kinds():
    assert len({kind.name for kind in odd_media.KINDS}) >= 40


@pytest.mark.parametrize("kind", odd_media.KINDS, ids=lambda k: k.name.replace("\n", "\\n"))
def test_each_kind_is_recorded_as_specified(corpus, kind):
    _, table = corpus
    (status, reason) = next((s, r) for k, s, r in table if k is kind)
    assert status == kind.status, reason
    assert kind.reason in reason


def test_indexed_and_partial_files_have_vectors_and_the_others_none(corpus):
    root, table = corpus
    expected = {str(root / "corpus" / k.name): k.status for k, _, _ in table}
    with LibraryStore.open(root / "library", readonly=True) as store:
        for media in store.iter_media():
            clips = store.segment_vectors(media.id, "audio", 0.0, 1e9)
            clips_video = store.segment_vectors(media.id, "video", 0.0, 1e9)
            has_vectors = len(clips) + len(clips_video) > 0
            assert has_vectors == (expected[media.path] in ("indexed", "partial")), media.path
        status = store.status()
    counts = {s: sum(1 for k in odd_media.KINDS if k.status == s) for s in ("indexed", "partial", "failed")}
    counts["ignored"] = sum(1 for k in odd_media.KINDS if k.status == "ignored")
    assert status.media_by_status == counts


def test_a_second_run_reencodes_nothing_and_still_reports_failures(corpus):
    root, _ = corpus
    result = CliRunner().invoke(
        cli,
        [
            "index",
            str(root / "corpus"),
            "--library",
            str(root / "library"),
            "--model",
            "toy",
            "--no-frames",
            "--json",
        ],
    )
    assert result.exit_code == 1  # files failed: the exit code keeps saying so
    summary = json.loads(result.stdout)
    assert summary["files_indexed"] == 0
    assert summary["ignored"] == sum(1 for k in odd_media.KINDS if k.status == "ignored")
    assert len(summary["failed"]) == sum(1 for k in odd_media.KINDS if k.status == "failed")


def test_status_counts_ignored_and_lists_partial(corpus):
    root, _ = corpus
    result = CliRunner().invoke(cli, ["status", "--library", str(root / "library"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["media"]["ignored"] == sum(1 for k in odd_media.KINDS if k.status == "ignored")
    partial = {p["path"].rsplit("/", 1)[-1] for p in report["partial"]}
    assert partial == {k.name for k in odd_media.KINDS if k.status == "partial"}


def test_a_newline_in_a_file_name_stays_on_its_row(corpus):
    root, _ = corpus
    args = ["search", "a tone", "--library", str(root / "library"), "--target", "audio", "-k", "100"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    # each hit's row, then (indented) why it matched and its file's tags: a name's newline must
    # start no line of its own
    details = ("why:", "tags:")
    rows = [row for row in text.stdout.splitlines()[1:] if not row.lstrip().startswith(details)]
    assert any(row.endswith("two\\nlines.wav") for row in rows)
    assert all(row.split()[0].isdigit() for row in rows)  # every line is a ranked row
    hits = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    assert str(root / "corpus" / "two\nlines.wav") in {hit["path"] for hit in hits}  # JSON keeps it as is


def test_a_nan_query_file_gives_a_reason(corpus):
    root, _ = corpus
    args = ["search", "--audio", str(root / "corpus" / "nan-samples.wav"), "--library", str(root / "library")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "NaN or infinite samples" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotated_video_frames_are_turned_as_players_show_them(tmp_path, degrees):
    """The reference is the ffmpeg command's own autorotation of the same file."""
    plain, turned = tmp_path / "plain.mp4", tmp_path / f"rotated-{degrees}.mp4"
    odd_media.ffmpeg(*odd_media.picture("32x24"), *odd_media.H264)(plain)
    odd_media.ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v", f"rotate={degrees}")(turned)
    shown = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(turned), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    height, width = (32, 24) if degrees in (90, 270) else (24, 32)
    expected = np.frombuffer(shown, np.uint8).reshape(height, width, 3).astype(int)
    frame = next(iter_video_frames(turned, [0.0]))
    assert frame.rgb.shape == expected.shape
    assert np.abs(frame.rgb.astype(int) - expected).mean() < 2.0
