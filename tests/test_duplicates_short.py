"""Short copies (issue 27, defect 2): clips of 1-6 s re-encoded by Debian's ffmpeg at each common
encoder's defaults group with their originals, short look-alikes stay apart, and the bit error
threshold is held on both sides. Labels come from the generator (testkit/short_copies.py); the
threshold pairs are built with a known number of differing bits."""

from __future__ import annotations

import pytest

from pe_search.duplicates.audio_fingerprint import fingerprint_file
from pe_search.duplicates.groups import Member, group_members
from testkit.duplicate_corpus import evaluate
from testkit.short_copies import ENCODERS, LENGTHS, write_short_corpus

RECALL_GOAL = 0.95


@pytest.fixture(scope="module")
def short_corpus(tmp_path_factory):
    files = write_short_corpus(tmp_path_factory.mktemp("short-copies"), count=20)
    prints = [fingerprint_file(f.path) for f in files]
    assert all(p is not None and p.size for p in prints)
    members = [
        Member(i, str(f.path), f.kind, None, p) for i, (f, p) in enumerate(zip(files, prints, strict=True))
    ]
    groups, _ = group_members(members)
    return files, evaluate(files, [[files[i].path for i in g] for g in groups])


def test_short_copies_of_every_encoder_group_with_their_originals(short_corpus):
    files, results = short_corpus
    assert {f.transform for f in files} == {"original", "lookalike", *ENCODERS}
    seconds = {float(f.recording.rsplit("-", 1)[1].rstrip("s")) for f in files if f.transform == "original"}
    assert seconds == set(LENGTHS)  # every length from 1 s to 6 s is in it
    recall = {encoder: round(results[encoder].recall, 3) for encoder in ENCODERS}
    assert all(results[e].true_pairs == 20 for e in ENCODERS)
    assert min(recall.values()) >= RECALL_GOAL, recall


def test_short_lookalikes_are_not_grouped(short_corpus):
    files, results = short_corpus
    assert sum(f.transform == "lookalike" for f in files) >= 30  # other takes and other stretches
    assert results["lookalike"].found_pairs == 0, results["lookalike"]
    assert results["all"].precision == 1.0, results["all"]
