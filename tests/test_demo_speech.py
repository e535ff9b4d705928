"""The demo's spoken part (issue 26): phrases of the toy's vocabulary spoken at known times, each
searched by its words, the hit's time set against the generator's.

The measuring path is checked here on its own: the spoken files are indexed with the toy PE-AV
and given the generator's own word times as their transcripts (`tx.set_transcript`, as the
indexer writes one), so every phrase must be found where it was spoken. With the shipped toy
speech checkpoint, `pe-search demo` transcribes them with it instead, and its report says how
far each hit landed from the words (test_the_demo_reports_its_spoken_phrases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pe_search.api import Library
from pe_search.store import LibraryStore, SpokenWord, TranscriptPhrase, TranscriptRecord
from pe_search.toy import demo as toy_demo
from pe_search.toy import speech


@pytest.fixture(scope="module")
def spoken_root(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo-speech")
    return root, toy_demo.write_spoken_media(root)


def test_the_spoken_files_hold_each_phrase_where_the_generator_says(spoken_root):
    root, truth = spoken_root
    assert sorted(Path(path).name for path in truth) == sorted(name for name, _ in toy_demo.SPOKEN)
    for name, phrases in toy_demo.SPOKEN:
        placed = truth[str(root / toy_demo.SPEECH_FOLDER / name)]
        assert [text for text, _, _ in placed] == [text for _, text in phrases]
        for (start, _), (_, first, last) in zip(phrases, placed, strict=True):
            assert first == pytest.approx(start, abs=1 / speech.SAMPLE_RATE)  # spoken where asked
            assert last > first
        assert all(text in speech.phrases() for _, text in phrases)  # the toy's own vocabulary


def test_each_spoken_phrase_is_found_at_its_words(spoken_root):
    root, truth = spoken_root
    library = root / "library"
    with Library.open(library, model="toy", frames=False) as opened:
        opened.index([root / toy_demo.SPEECH_FOLDER], workers=0, progress=False)
    with LibraryStore.open(library, create=False) as store, store.write() as tx:
        for name, phrases in toy_demo.SPOKEN:
            path = root / toy_demo.SPEECH_FOLDER / name
            words = speech.spoken(list(phrases)).words
            grouped, at = [], 0
            for _, text in phrases:
                count = len(text.split())
                grouped.append(
                    TranscriptPhrase(
                        tuple(SpokenWord(w.text, w.start, w.end) for w in words[at : at + count])
                    )
                )
                at += count
            record = TranscriptRecord("generator", "0" * 64, "en", True, None, tuple(grouped))
            tx.set_transcript(store.find_media(str(path)).id, record)
    with Library.open(library) as opened:
        outcomes = toy_demo.run_spoken(opened, truth)
    assert len(outcomes) == sum(len(phrases) for _, phrases in toy_demo.SPOKEN)
    assert all(outcome.right for outcome in outcomes), outcomes
    assert max(outcome.error for outcome in outcomes) < 1e-3


def test_the_demo_reports_its_spoken_phrases(demo):
    """With the toy speech checkpoint shipped, every spoken phrase lands within 100 ms of its words;
    without it, the demo says in one line that the spoken part was left out."""
    if toy_demo.speech_ready() is None:
        assert demo.spoken and all(outcome.right for outcome in demo.spoken), demo.spoken
    else:
        assert demo.spoken == [] and "spoken phrases left out" in demo.speech_note
