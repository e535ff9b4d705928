"""Duplicates: every kind of copy groups with its original, look-alike recordings stay apart, the
CLI lists groups with what to keep. Labels come from the corpus generator (duplicate_corpus.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.state import content_hash
from pe_search.cli.main import cli
from pe_search.duplicates import audio_fingerprint
from pe_search.duplicates.audio_fingerprint import fingerprint_file
from pe_search.duplicates.groups import Member, choose_keep, group_members
from pe_search.duplicates.matching import MatchSettings, aligned_error, candidate_pairs
from pe_search.media.file_info import file_info
from testkit.duplicate_corpus import TRANSFORMS, VIDEO_TRANSFORMS, evaluate, recording, write_corpus

PRECISION_GOAL, RECALL_GOAL = 0.99, 0.95


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("duplicates")
    files = write_corpus(folder, kinds=("beeps", "hum", "babble"), scenes=1)
    members = [
        Member(i, str(f.path), f.kind, content_hash(f.path), fingerprint_file(f.path))
        for i, f in enumerate(files)
    ]
    return files, members


def _groups(files, members, settings=None):
    found = []
    for kind in ("audio", "video"):
        positions = [i for i, m in enumerate(members) if m.kind == kind]
        groups, _ = group_members([members[i] for i in positions], settings)
        found += [[files[positions[i]].path for i in g] for g in groups]
    return found


def test_fingerprint_ignores_gain_and_channels_but_not_the_recording():
    signal = recording("beeps", 0)
    mono = signal.mean(axis=0)
    rate = audio_fingerprint.SAMPLE_RATE
    # the same recording straight at the fingerprint rate (every 48 kHz sample 4.35 apart is fine for a test)
    base = np.interp(np.arange(int(len(mono) * rate / 48_000)) * 48_000 / rate, np.arange(len(mono)), mono)
    codes = audio_fingerprint.fingerprint(base)
    assert codes.size > 300
    assert aligned_error(codes, audio_fingerprint.fingerprint(base * 0.1), 0)[0] < 0.01
    other = recording("beeps", 1).mean(axis=0)
    other = np.interp(np.arange(base.size) * 48_000 / rate, np.arange(len(other)), other)
    errors = [aligned_error(codes, audio_fingerprint.fingerprint(other), d)[0] for d in range(-40, 41)]
    assert min(errors) > 0.35  # another take of the same beeps: about half the bits differ


def test_candidates_come_from_shared_codes_not_pairs(corpus):
    files, members = corpus
    prints = [m.codes for m in members]
    pairs = candidate_pairs(prints, MatchSettings())
    all_pairs = len(prints) * (len(prints) - 1) // 2
    assert 0 < len(pairs) < all_pairs / 4  # a lookup, not every pair


def test_every_transformation_groups_with_its_original(corpus):
    files, members = corpus
    results = evaluate(files, _groups(files, members))
    for transform in [*TRANSFORMS, *VIDEO_TRANSFORMS]:
        assert results[transform].recall >= RECALL_GOAL, (transform, results[transform])
        assert results[transform].precision >= PRECISION_GOAL, (transform, results[transform])
    assert results["all"].recall >= RECALL_GOAL and results["all"].precision >= PRECISION_GOAL


def test_lookalikes_are_not_grouped(corpus):
    files, members = corpus
    results = evaluate(files, _groups(files, members))
    assert results["lookalike"].true_pairs == 0 and sum(f.transform == "lookalike" for f in files) == 4
    assert results["lookalike"].found_pairs == 0, results["lookalike"]


def test_keep_prefers_untrimmed_then_lossless(corpus):
    files, _ = corpus
    beeps = {f.transform: str(f.path) for f in files if f.recording == "beeps"}
    paths = [beeps["trim_start"], beeps["reencode_mp3"], beeps["original"]]
    keep, reason = choose_keep([file_info(p) for p in paths], paths)
    assert paths[keep] == beeps["original"] and "lossless" in reason and "trimmed" in reason


def test_cli_lists_groups_with_what_to_keep(tmp_path, checkpoint_dirs):
    from pe_search import Library

    folder = tmp_path / "media"
    files = write_corpus(
        folder, kinds=("chirps",), transforms=("exact", "reencode_mp3", "trim_start"), scenes=0
    )
    with Library.open(tmp_path / "lib", model=checkpoint_dirs["audio_video"]) as library:
        library.index([folder], workers=0, progress=False, window=4.0, hop=4.0)
    result = CliRunner().invoke(cli, ["duplicates", "--library", str(tmp_path / "lib"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (group,) = report["groups"]
    expected = {str(f.path) for f in files if f.recording == "chirps"}
    assert {f["path"] for f in group["files"]} == expected  # the other take is not in it
    kept = group["files"][0]
    how = {f["path"].rsplit("/", 1)[-1]: f for f in group["files"]}
    # the original and its byte copy tie (lossless, untrimmed): the first by path is kept
    assert kept["keep"] and kept["path"].endswith("chirps-copy-exact.flac")
    assert how["chirps-original.flac"]["how"] == "exact copy" and group["reason"].startswith("longest")
    trimmed = how["chirps-copy-trim_start.flac"]
    assert trimmed["how"] == "same recording" and trimmed["offset_seconds"] == pytest.approx(1.335, abs=0.03)
    assert (
        how["chirps-copy-reencode_mp3.mp3"]["codec"] == "mp3"
        and how["chirps-copy-reencode_mp3.mp3"]["bit_rate"]
    )
    assert report["files_without_fingerprint"] == 0
    text = CliRunner().invoke(cli, ["duplicates", "--library", str(tmp_path / "lib"), "--kind", "video"])
    assert text.exit_code == 0 and "no duplicates" in text.output
