"""Front-door validation on a real library (issue 14 defects 4, 5, 12-15): every mistake through
the CLI is one `error:` line with exit 1 (JSON under --json); through the library API a typed
PeSearchError naming the parameter, never a raw Python error; deleted files are marked missing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from pe_search import Library
from pe_search.api import LibraryClosedError
from pe_search.cli.main import cli
from pe_search.errors import PeSearchError, api_spelling
from testkit import media


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, checkpoint_dirs):
    root = tmp_path_factory.mktemp("doors")
    folder = root / "media"
    folder.mkdir()
    for number, freq in enumerate((330, 550, 770)):
        media.write_audio(folder / f"tone{number}.wav", media.tone(freq, 2.0, 48_000), 48_000)
    with Library.open(
        root / "library", model=checkpoint_dirs["audio_video"], frame_model=checkpoint_dirs["audio_frame"]
    ) as library:
        library.index([folder], workers=0, window=1.0, hop=0.5, progress=False)
    return root, folder, root / "library"


def _cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_line_error(result, as_json=False):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    if as_json:
        assert json.loads(result.stdout)["error"] == lines[0].removeprefix("error: ")
    return lines[0]


SEARCH_MISTAKES = [
    ("--min-prob 2", ["--min-prob", "2"], "--min-prob"),
    ("--min-prob -1", ["--min-prob", "-1"], "--min-prob"),
    ("--min-prob nan", ["--min-prob", "nan"], "--min-prob"),
    ("-k 0", ["-k", "0"], "-k"),
    ("--offset -1", ["--offset", "-1"], "--offset"),
    ("--min-duration -5", ["--min-duration", "-5"], "--min-duration"),
    ("--max-duration -5", ["--max-duration", "-5"], "--max-duration"),
]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize(("name", "extra", "named"), SEARCH_MISTAKES, ids=[m[0] for m in SEARCH_MISTAKES])
def test_search_mistakes(indexed, name, extra, named, as_json):
    _, _, library = indexed
    result = _cli("search", "a tone", "--library", library, *extra, *(["--json"] if as_json else []))
    assert named in _one_line_error(result, as_json)


def test_reversed_like_and_locate_k_0_and_device(indexed):
    _, folder, library = indexed
    assert "--like" in _one_line_error(
        _cli("search", "--like", f"{folder}/tone1.wav@1.5-0.5", "--library", library)
    )
    assert "-k" in _one_line_error(_cli("locate", "a tone", "-k", "0", "--library", library))
    assert "--threshold" in _one_line_error(
        _cli("locate", "a tone", "--threshold", "1", "--library", library)
    )
    assert "--device tpu" in _one_line_error(
        _cli("search", "a tone", "--device", "tpu", "--library", library)
    )


def test_min_prob_0_keeps_everything_and_1_nothing(indexed):
    _, _, library = indexed
    plain = json.loads(_cli("search", "a tone", "--target", "audio", "--library", library, "--json").stdout)
    zero = _cli("search", "a tone", "--target", "audio", "--min-prob", "0", "--library", library, "--json")
    one = _cli("search", "a tone", "--target", "audio", "--min-prob", "1", "--library", library, "--json")
    assert zero.exit_code == 0 and one.exit_code == 0, zero.output + one.output
    assert [h["path"] for h in json.loads(zero.stdout)] == [h["path"] for h in plain] and plain
    assert json.loads(one.stdout) == []  # a sigmoid never reaches 1


@pytest.mark.parametrize(
    "extra",
    [["--batch-size", "0"], ["--batch-size", "-3"], ["--workers", "-1"]],
    ids=["batch-0", "batch-neg", "workers-neg"],
)
def test_index_mistakes_create_nothing(indexed, tmp_path, extra):
    _, folder, _ = indexed
    _one_line_error(_cli("index", folder, "--library", tmp_path / "new", "--model", "toy", *extra))
    assert not (tmp_path / "new").exists()


def test_demo_show_negative_is_refused(tmp_path):
    _one_line_error(_cli("demo", "--dir", tmp_path / "demo", "--show", "-1"))
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda lib: lib.search(123), "text"),
        (lambda lib: lib.search("a", k="a"), "k"),
        (lambda lib: lib.search("a", k=2.5), "k"),
        (lambda lib: lib.search("a", k=True), "k"),
        (lambda lib: lib.search(audio=(np.zeros(100, np.float32), 0)), "audio"),
        (lambda lib: lib.search(audio=np.zeros(100, np.float32)), "audio"),
        (lambda lib: lib.search("a", min_prob="x"), "min_prob"),
        (lambda lib: lib.search("a", min_prob=float("nan")), "min_prob"),
        (lambda lib: lib.search("a", target="picture"), "target"),
        (lambda lib: lib.search(like=("x.wav", 5.0, 1.0)), "like"),
        (lambda lib: lib.locate("a", threshold="high"), "threshold"),
        (lambda lib: lib.locate("a", k=0), "k"),
        (lambda lib: lib.index(["."], batch_size=0), "batch_size"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_library_api_wrong_types_are_typed_errors_naming_the_parameter(indexed, call, parameter):
    _, _, library_dir = indexed
    with Library.open(library_dir) as library, pytest.raises(PeSearchError) as caught:
        call(library)
    worded = caught.value.worded(api_spelling)
    assert parameter in worded, worded
    assert "--" not in worded, worded  # the API names parameters, not flags


def test_closed_library_refuses_use_clearly(indexed):
    _, _, library_dir = indexed
    library = Library.open(library_dir)
    assert library.status().media_by_status["indexed"] == 3
    library.close()
    with pytest.raises(LibraryClosedError, match="open it again with Library.open"):
        library.status()
    with pytest.raises(LibraryClosedError):
        library.search("a tone")


def test_relative_path_prefix_is_resolved(indexed, monkeypatch):
    root, _, library = indexed
    monkeypatch.chdir(root)
    relative = _cli(
        "search", "a tone", "--target", "audio", "--path-prefix", "media/", "--library", library, "--json"
    )
    assert relative.exit_code == 0, relative.output
    assert len(json.loads(relative.stdout)) == 3


def test_deleted_files_are_marked_missing(indexed, tmp_path, checkpoint_dirs):
    root, folder, library = indexed
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    gone = folder / "tone2.wav"
    kept = gone.with_suffix(".bak")
    gone.rename(kept)
    try:
        hits = json.loads(_cli("search", "a tone", "--target", "audio", "--library", copy, "--json").stdout)
        assert {h["path"]: h["missing"] for h in hits} == {
            str(folder / "tone0.wav"): False,
            str(folder / "tone1.wav"): False,
            str(gone): True,
        }
        text = _cli("search", "a tone", "--target", "audio", "--library", copy).stdout
        row = next(line for line in text.splitlines() if "tone2.wav" in line)
        assert "missing" in row
        like = json.loads(
            _cli("search", "--like", f"{folder}/tone0.wav@0-1", "--library", copy, "--json").stdout
        )
        assert any(h["missing"] for h in like if h["path"] == str(gone))
        spans = json.loads(
            _cli("locate", "a tone", "--threshold", "0.01", "--library", copy, "--json").stdout
        )
        assert all(s["missing"] == (s["path"] == str(gone)) for s in spans)
    finally:
        kept.rename(gone)
