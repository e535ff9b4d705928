"""Duplicates on libraries the corpus tests do not make: files that share lookup keys but never
enough of them at one offset (issue 27, defect 7), and a damaged fingerprint row (issue 27, 20).
The fingerprints are built here, so the right answer is known: which pair shares which codes."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from pe_search.cli.main import cli
from pe_search.duplicates.matching import MatchSettings, candidate_pairs, find_matches, keys_of
from testkit.media import tone, write_audio

SETTINGS = MatchSettings()


def _codes(rng: np.random.Generator, count: int, key: bool) -> np.ndarray:
    """`count` distinct non-quiet codes that are (key=True) or are not lookup keys."""
    out: list[int] = []
    seen: set[int] = set()
    while len(out) < count:
        batch = rng.integers(1, 2**32, size=4 * count, dtype=np.uint64).astype(np.uint32)
        is_key = np.zeros(batch.size, dtype=bool)
        is_key[keys_of(batch, SETTINGS.key_share_bits)] = True
        for code in batch[is_key == key].tolist():
            if code not in seen:
                seen.add(code)
                out.append(code)
    return np.array(out[:count], dtype=np.uint32)


def _one_shared_key(seed: int, files: int = 2, length: int = 200) -> list[np.ndarray]:
    """Prints of unrelated codes (no key in any) where every file holds the same one key code, at
    a different position in each: every pair shares a key, each at one offset, one vote."""
    rng = np.random.default_rng(seed)
    shared = int(_codes(rng, 1, key=True)[0])
    filler = _codes(rng, files * length, key=False).reshape(files, length)
    prints = []
    for index in range(files):
        codes = filler[index].copy()
        codes[10 + 7 * index] = shared
        prints.append(codes)
    return prints


def test_shared_keys_below_the_vote_count_make_no_candidates():
    prints = _one_shared_key(seed=1, files=3)
    # the premise: one key in each print, the same one, so keys are shared but one vote per pair
    assert [keys_of(p, SETTINGS.key_share_bits).size for p in prints] == [1, 1, 1]
    assert SETTINGS.min_votes == 2
    pairs = candidate_pairs(prints, SETTINGS)
    assert pairs.shape == (0, 3)
    assert find_matches(prints, SETTINGS) == []
    # the same prints with the vote count at one: every pair is a candidate at its key's offset
    loose = candidate_pairs(prints, MatchSettings(min_votes=1))
    assert sorted(map(tuple, loose.tolist())) == [(0, 1, 7), (0, 2, 14), (1, 2, 7)]


# ------------------------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, checkpoint_dirs):
    """A library of four unrelated tones (real files, indexed), and its database path."""
    from pe_search import Library

    root = tmp_path_factory.mktemp("dup-edge")
    folder = root / "media"
    folder.mkdir()
    for number, hz in enumerate((330.0, 440.0, 550.0, 660.0)):
        write_audio(folder / f"tone-{number}.flac", tone(hz, 2.0, 16_000), 16_000)
    with Library.open(root / "lib", model=checkpoint_dirs["audio_video"]) as library:
        library.index([folder], workers=0, progress=False, window=4.0, hop=4.0)
    return root / "lib", root / "lib" / "library.db"


def _set_prints(db, blobs: dict[str, bytes]) -> dict[str, int]:
    """Replace the fingerprints of the files named (by file name); returns {name: media id}."""
    with sqlite3.connect(db) as connection:
        ids = {
            path.rsplit("/", 1)[-1]: media_id
            for media_id, path in connection.execute("SELECT id, path FROM media_files")
        }
        for name, blob in blobs.items():
            changed = connection.execute(
                "UPDATE audio_fingerprints SET codes = ? WHERE media_file_id = ?", (blob, ids[name])
            )
            assert changed.rowcount == 1, name
    connection.close()
    return ids


def _blob(codes: np.ndarray) -> bytes:
    return np.ascontiguousarray(codes, dtype="<u4").tobytes()


def _duplicates_json(library) -> dict:
    result = CliRunner().invoke(cli, ["duplicates", "--library", str(library), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_json_with_shared_keys_but_no_candidate(small_library):
    library, db = small_library
    prints = _one_shared_key(seed=2, files=4)
    _set_prints(db, {f"tone-{i}.flac": _blob(codes) for i, codes in enumerate(prints)})
    report = _duplicates_json(library)
    assert report["groups"] == []
    text = CliRunner().invoke(cli, ["duplicates", "--library", str(library)])
    assert text.exit_code == 0 and "no duplicates" in text.output


def test_cli_skips_and_names_a_damaged_fingerprint(small_library, checkpoint_dirs):
    library, db = small_library
    rng = np.random.default_rng(3)
    copy = _codes(rng, 400, key=False)
    copy[::8] = _codes(rng, 50, key=True)  # 50 keys, the same in both files: one pair, bit error 0
    unrelated = _codes(rng, 400, key=False)
    damaged = _blob(copy)[:-3]  # a cut row: 1,597 bytes, not whole 32-bit codes
    blobs = {"tone-0.flac": _blob(copy), "tone-1.flac": _blob(copy), "tone-2.flac": damaged}
    blobs["tone-3.flac"] = _blob(unrelated)
    _set_prints(db, blobs)
    report = _duplicates_json(library)
    (group,) = report["groups"]  # the rest is still grouped
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in group["files"]) == ["tone-0.flac", "tone-1.flac"]
    assert group["files"][1]["how"] == "same recording" and group["files"][1]["bit_error"] == 0
    (named,) = report["damaged_fingerprints"]
    assert named.endswith("tone-2.flac") and "tone-2.flac" in report["note"]
    text = CliRunner().invoke(cli, ["duplicates", "--library", str(library)])
    assert text.exit_code == 0 and "group 1" in text.output
    assert "tone-2.flac" in text.stderr and "pe-search index" in text.stderr

    from pe_search import Library

    # the library API names it too
    passed: list[str] = []
    with Library.open(library) as opened:
        (api_group,) = opened.duplicates(damaged=passed.append)
    assert len(api_group.files) == 2
    assert [p.rsplit("/", 1)[-1] for p in passed] == ["tone-2.flac"]

    # what the note prescribes works: the next index recomputes the damaged row

    with Library.open(library, model=checkpoint_dirs["audio_video"]) as opened:
        opened.index([str(library.parent / "media")], workers=0, progress=False, window=4.0, hop=4.0)
    with sqlite3.connect(db) as connection:
        lengths = [n for (n,) in connection.execute("SELECT length(codes) FROM audio_fingerprints")]
    connection.close()
    assert len(lengths) == 4 and all(n % 4 == 0 for n in lengths)
    assert _duplicates_json(library)["damaged_fingerprints"] == []


def test_cli_json_on_the_demo_library(demo):
    """A new user's first try: the demo library's files share lookup keys but make no candidate
    (this crashed with the IndexError above, exit 1 and empty stdout)."""
    report = _duplicates_json(demo.library)
    assert isinstance(report["groups"], list) and report["damaged_fingerprints"] == []
