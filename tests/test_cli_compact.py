"""`pe-search compact` through the CLI (issue 27, item 4): it reclaims the bytes of freed frame
blocks (measured here as the block files' sizes on disk), keeps the live blocks' codes byte for
byte, says so in words and in `--json`, finds nothing to do a second time, and a missing library
is one line (and a JSON error) with nothing created."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from test_store_frames import put
from test_store_support import make_identity

from pe_search.cli.main import cli
from pe_search.store import LibraryStore


def _block_bytes(library) -> int:
    return sum(path.stat().st_size for path in (library / "frames").iterdir())


def _codes(library) -> dict[str, np.ndarray]:
    with LibraryStore.open(library, readonly=True) as store:
        return {m.path: store.frame_slice(m.id, "audio_frame").codes.copy() for m in store.iter_media()}


def test_compact_reclaims_freed_blocks_and_keeps_the_rest(tmp_path):
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity()) as store:
        for number in range(4):
            put(store, f"/m/{number}.wav", number, 200 + number)
        store.delete_media("/m/1.wav")
        store.delete_media("/m/2.wav")
    kept, size_before = _codes(library), _block_bytes(library)
    assert sorted(kept) == ["/m/0.wav", "/m/3.wav"]

    status = CliRunner().invoke(cli, ["status", "--library", str(library)])
    assert "(pe-search compact)" in status.stdout  # status points at the command

    result = CliRunner().invoke(cli, ["compact", "--library", str(library), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    reclaimed = size_before - _block_bytes(library)
    assert reclaimed > 2 * 200 * 16  # at least the two freed blocks' codes
    assert report["reclaimed_bytes"] == reclaimed
    assert report["library"] == str(library) and len(report["messages"]) == 1
    assert set(_codes(library)) == set(kept)
    for path, codes in _codes(library).items():
        np.testing.assert_array_equal(codes, kept[path])

    again = CliRunner().invoke(cli, ["compact", "--library", str(library)])
    assert again.exit_code == 0 and again.stdout.strip() == "nothing to reclaim"
    again_json = json.loads(CliRunner().invoke(cli, ["compact", "--library", str(library), "--json"]).stdout)
    assert again_json["reclaimed_bytes"] == 0 and again_json["messages"] == []


def test_compact_in_words(tmp_path):
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity()) as store:
        put(store, "/m/a.wav", 1, 300)
        put(store, "/m/a.wav", 2, 100)  # changed: the first block is freed
    result = CliRunner().invoke(cli, ["compact", "--library", str(library)])
    assert result.exit_code == 0 and "compacted" in result.stdout
    with LibraryStore.open(library, readonly=True) as store:
        frames = store.status().frames["audio_frame"]
        assert frames.dead_bytes == 0 and frames.frames == 100


def test_compact_of_a_missing_library_is_one_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(cli, ["compact", "--library", str(missing)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and str(missing) in result.output
    as_json = CliRunner().invoke(cli, ["compact", "--library", str(missing), "--json"])
    assert as_json.exit_code != 0 and "error" in json.loads(as_json.stdout)
    assert not missing.exists()
