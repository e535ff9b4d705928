"""End to end (issue 26): a file indexed with `transcribe=` (a tiny random-weight Whisper, as the
indexer's own tests use until the trained toy lands) is found by its spoken words, and the hit
lands on the times its transcript holds. The random model's words are garbage, so the query is a
word of its own transcript said only once; the expected times are the stored transcript's (the
indexer's tests check those against transformers' pipeline run directly on the same audio)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from speech_fixtures import tiny_whisper

from pe_search import Library
from pe_search.toy.speech import write_spoken

OPTIONS = {"window": 2.0, "hop": 1.0, "frames_per_window": 4, "batch_size": 4, "workers": 0}


@pytest.fixture(scope="module")
def indexed(checkpoint_dirs, tmp_path_factory):
    """(library directory, the spoken file, its stored phrases' words) of a library indexed with
    transcripts."""
    root = tmp_path_factory.mktemp("spoken-index")
    whisper = tiny_whisper(root / "whisper", seed=0)
    folder = root / "media"
    folder.mkdir()
    write_spoken(folder / "talk.wav", [(0.5, "a red circle"), (4.0, "the blue square")], seconds=7.0)
    models = {
        "model": str(checkpoint_dirs["audio_video"]),
        "frame_model": str(checkpoint_dirs["audio_frame"]),
    }
    with Library.open(root / "library", **models) as library:
        library.index([folder], transcribe=str(whisper), **OPTIONS)
        media = library.store.find_media(str(folder / "talk.wav"))
        record = library.store.transcript(media.id)
    return root / "library", str(folder / "talk.wav"), [p.words for p in record.phrases]


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _when(words) -> list[tuple[float, float]]:
    return [(w.start, w.end) for w in words]


def test_a_word_of_the_stored_transcript_is_found_and_landed_on(indexed):
    """The model's rarest word (letters only), searched as a phrase, each spoken phrase its own
    hit: each lands from the first word holding it to the last, with exactly those words."""
    directory, path, phrases = indexed
    counts = Counter(t for words in phrases for w in words for t in _tokens(w.text))
    assert counts, phrases  # the seeded model said a word of letters (besides symbols and controls)
    rare = min(counts, key=lambda t: (counts[t], t))
    expected = [
        tuple(w for w in words if rare in _tokens(w.text))
        for words in phrases
        if any(rare in _tokens(w.text) for w in words)
    ]
    expected.sort(key=_when)
    with Library.open(directory) as library:
        hits = [
            h for h in library.search(f'"{rare}"', mode="text", k=50, all_segments=True) if h.path == path
        ]
    assert sorted((h.words for h in hits), key=_when) == expected
    for hit in hits:
        assert (hit.start, hit.end, hit.why.text_field) == (
            hit.words[0].start,
            hit.words[-1].end,
            "transcript",
        )
