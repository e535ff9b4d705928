"""Spoken phrases are found by text and hybrid search and land on the words (issue 26, item 2).

The transcripts are what a perfect transcriber would write for speech made by the toy speech
generator (`pe_search.toy.speech.spoken`: espeak-ng speaks each word and the generator places its
samples, so each word's start and end are known by construction, not by the code under test).
The vectors are made by hand, as in test_hybrid.py, so the vector side's ranking is known before
searching: the query is the unit vector e0 and each clip scores the e0 component it was given.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.query import hybrid
from pe_search.query.engine import QueryEngine, QueryVectors
from pe_search.query.fusion import RRF_K
from pe_search.store import (
    LibraryStore,
    MediaRecord,
    SegmentRecord,
    SpokenWord,
    TranscriptPhrase,
    TranscriptRecord,
    path_entries,
)
from pe_search.toy import speech

INTERVIEW = "/m/video/interview.mp4"  # says "the red bell is ringing" at 2 s, then more
REVERSED = "/m/audio/answer.wav"  # says "ringing is the bell red": the same words the other way round
FX = 6  # files the model likes for the query, with no words
SAID = [(2.0, "the red bell is ringing"), (9.0, "a green dog with a ball")]
SAID_BACKWARDS = [(1.0, "ringing is the bell red")]


def _unit(i: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    return v


def _record(phrases: list[tuple[float, str]]) -> tuple[TranscriptRecord, list[SpokenWord]]:
    """The generator's speech as a transcript (one phrase per spoken phrase) and its words."""
    said = speech.spoken(phrases).words
    words = [SpokenWord(w.text, w.start, w.end) for w in said]
    grouped, at = [], 0
    for _, text in phrases:
        count = len(text.split())
        grouped.append(TranscriptPhrase(tuple(words[at : at + count])))
        at += count
    return TranscriptRecord("toy", "digest", "en", True, None, tuple(grouped)), words


@pytest.fixture(scope="module")
def spoken():
    return _record(SAID), _record(SAID_BACKWARDS)


@pytest.fixture
def engine(tmp_path, spoken):
    (interview, _), (backwards, _) = spoken
    store = LibraryStore.open(tmp_path / "lib", make_identity())
    files = [(f"/m/sfx/fx_{i}.wav", [(0.0, 5.0, 0.9 - 0.05 * i)], None) for i in range(FX)]
    files += [
        (INTERVIEW, [(0.0, 10.0, 0.5), (10.0, 20.0, 0.2)], interview),  # the model's 7th
        (REVERSED, [(0.0, 10.0, -0.5)], backwards),
    ]
    for path, clips, transcript in files:
        with store.write() as tx:
            media_id = tx.upsert_media(
                MediaRecord(
                    path=path, size=1, mtime=1.0, duration=clips[-1][1], has_audio=True, status="indexed"
                )
            )
            ids = tx.add_segments(media_id, [SegmentRecord(s, e, "clip") for s, e, _ in clips])
            vectors = np.stack(
                [score * _unit(0) + 0.1 * _unit(3 + i) for i, (_, _, score) in enumerate(clips)]
            )
            tx.add_vectors("audio", ids, vectors)
            tx.set_text(media_id, path_entries(path), "sig")
            if transcript is not None:
                tx.set_transcript(media_id, transcript)
    yield QueryEngine(store)
    store.close()


def _search(engine, text, mode="hybrid", query=None, **options):
    query = _unit(0) if query is None else query
    vectors = QueryVectors(lambda embedding: query, frozenset({"text"}), frozenset({"text_audio"}))
    return hybrid.search(engine, "text", vectors, text, mode, ("audio",), **options)


def _word(words: list[SpokenWord], text: str, after: float = 0.0) -> SpokenWord:
    return next(w for w in words if w.text == text and w.start >= after)


def test_a_phrase_query_lands_on_the_spoken_words(engine, spoken):
    (_, said), _ = spoken
    red, bell = _word(said, "red"), _word(said, "bell")
    (hit,) = _search(engine, '"red bell"', mode="text", k=5)
    assert hit.path == INTERVIEW and hit.level == "transcript" and hit.segment_id is None
    assert (hit.start, hit.end) == (red.start, bell.end)  # the generator's own times
    assert hit.words == (red, bell)
    why = hit.why
    assert (why.text_field, why.matched_words, why.text_snippet) == (
        "transcript",
        ("red bell",),
        "the [red bell] is ringing",
    )
    # the model's view of that stretch: the clip holding the words (0-10 s, score 0.5)
    assert why.vector_score == pytest.approx(0.5, abs=1e-6)


def test_loose_words_land_from_the_first_matched_word_to_the_last(engine, spoken):
    (_, said), _ = spoken
    (hit,) = _search(engine, "ball green", mode="text", k=5)  # "a green dog with a ball"
    green, ball = _word(said, "green"), _word(said, "ball")
    assert hit.words == (green, ball) and (hit.start, hit.end) == (green.start, ball.end)
    assert hit.why.matched_words == ("green", "ball")  # as they appear in what was said


def test_a_quoted_phrase_matches_its_words_in_order_only(engine, spoken):
    """ "red bell" is said in the interview; the answer says "bell red" (same words, other order)."""
    assert [h.path for h in _search(engine, '"red bell"', mode="text", k=5)] == [INTERVIEW]
    assert [h.path for h in _search(engine, '"bell red"', mode="text", k=5)] == [REVERSED]
    assert sorted(h.path for h in _search(engine, "red bell", mode="text", k=5)) == sorted(
        [INTERVIEW, REVERSED]
    )
    # a phrase across two spoken phrases is not said as one
    assert _search(engine, '"ringing a green"', mode="text", k=5) == []


def test_hybrid_fuses_a_transcript_hit_with_the_vector_hits(engine, spoken):
    """The model ranks the interview 7th (after six fx files); its words rank it 1st on the text
    side, so it leads the fused ranking, landing on the words inside the clip the model found."""
    (_, said), _ = spoken
    vector = _search(engine, "red bell", mode="vector", k=10)
    assert [h.path for h in vector].index(INTERVIEW) == FX
    hits = _search(engine, '"red bell" ringing', k=4)
    assert hits[0].path == INTERVIEW
    red, bell, ringing = _word(said, "red"), _word(said, "bell"), _word(said, "ringing")
    assert (hits[0].start, hits[0].end, hits[0].level) == (red.start, ringing.end, "transcript")
    assert 0.0 <= hits[0].start < hits[0].end <= 10.0  # inside the clip the vector side found
    assert hits[0].words == (red, bell, ringing)
    why = hits[0].why
    assert (why.text_rank, why.vector_rank) == (1, FX + 1)
    assert why.fused_score == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + FX + 1))
    assert why.matched_words == ("red bell", "ringing")
    # the model's favourites follow, as vector mode orders them; the other speaker's file has "ringing"
    assert [h.path for h in hits[1:]] == [REVERSED, "/m/sfx/fx_0.wav", "/m/sfx/fx_1.wav"]
    assert hits[2].words == () and hits[2].why.text_field is None


def test_a_transcript_match_ranked_below_the_vectors_keeps_the_clip_and_carries_the_words(engine, spoken):
    """When the model ranks a file better than its words do, the hit stays on the model's clip
    (as for subtitle cues) and still says which words were matched, with their times. Here the
    query vector is -e0: the answer's clip scores 0.5 (1st), the interview's best -0.2 (2nd); both
    say "ringing" once in five words (equal BM25, the interview's entry first by id)."""
    (_, said), (_, backwards) = spoken
    hits = _search(engine, "ringing", k=2, query=-_unit(0))
    (interview,), (answer,) = ([h for h in hits if h.path == path] for path in (INTERVIEW, REVERSED))
    assert (interview.why.text_rank, interview.why.vector_rank) == (1, 2)
    ringing = _word(said, "ringing")
    assert (interview.start, interview.end, interview.level) == (ringing.start, ringing.end, "transcript")
    assert (answer.why.text_rank, answer.why.vector_rank) == (2, 1)
    assert (answer.start, answer.end, answer.level) == (0.0, 10.0, "clip")
    assert answer.words == (_word(backwards, "ringing"),)


def test_all_segments_gives_each_spoken_phrase_its_own_hit(engine, spoken):
    (_, said), _ = spoken
    hits = _search(engine, "red green", mode="text", k=10, all_segments=True)
    landed = sorted((h.path, h.start, h.end) for h in hits)
    red, green = _word(said, "red"), _word(said, "green")
    backwards_red = [h for h in hits if h.path == REVERSED][0].words[0]
    assert landed == sorted(
        [
            (INTERVIEW, red.start, red.end),
            (INTERVIEW, green.start, green.end),
            (REVERSED, backwards_red.start, backwards_red.end),
        ]
    )
    assert backwards_red.text == "red"


def test_the_store_gives_a_transcript_match_its_words_and_keeps_the_phrase_times(engine, spoken):
    (_, said), _ = spoken
    (match,) = engine.store.search_text('"red bell"')
    phrase = said[:5]  # "the red bell is ringing"
    assert (match.field, match.start, match.end) == ("transcript", phrase[0].start, phrase[-1].end)
    assert match.words == (_word(said, "red"), _word(said, "bell"))
    assert all(m.words == () for m in engine.store.search_text("interview answer"))  # names: no words


def test_words_written_with_punctuation_are_matched_by_their_tokens(tmp_path):
    """A model writes words with punctuation ("Well," "don't" "time."): FTS5 matches their tokens,
    and the word holding a matched token is the matched word."""
    words = [("Well,", 0.5, 0.8), ("we", 0.9, 1.0), ("don't", 1.1, 1.4), ("need", 1.5, 1.7)]
    words += [("more", 1.8, 2.0), ("time.", 2.1, 2.6)]
    spoken_words = tuple(SpokenWord(*w) for w in words)
    record = TranscriptRecord("m", "d", "en", True, None, (TranscriptPhrase(spoken_words),))
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        with store.write() as tx:
            media_id = tx.upsert_media(MediaRecord(path="/m/a.wav", size=1, mtime=1.0, status="indexed"))
            tx.set_transcript(media_id, record)
        by_query = {
            q: store.search_text(q)[0].words for q in ('"need more time"', "well", "don", '"don t need"')
        }
    assert by_query['"need more time"'] == spoken_words[3:]
    assert by_query["well"] == spoken_words[:1]
    assert by_query["don"] == spoken_words[2:3]
    assert by_query['"don t need"'] == spoken_words[2:4]


def test_words_holding_the_highlight_marks_still_land(tmp_path):
    """A transcription model can write any character, the control characters the highlight marks
    are made of included (a random Whisper wrote "\x03"): the words are still placed."""
    words = tuple(
        SpokenWord(*w)
        for w in [("\x03", 0.1, 0.2), ("red", 0.3, 0.6), ("\x02", 0.7, 0.8), ("bell", 0.9, 1.3)]
    )
    record = TranscriptRecord("m", "d", "en", True, None, (TranscriptPhrase(words),))
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        with store.write() as tx:
            media_id = tx.upsert_media(MediaRecord(path="/m/a.wav", size=1, mtime=1.0, status="indexed"))
            tx.set_transcript(media_id, record)
        assert store.search_text("bell")[0].words == words[3:]
        assert store.search_text("red")[0].words == words[1:2]
        assert store.search_text("red")[0].snippet == "[red] bell"  # the marks' characters shown as spaces


def test_a_phrase_from_the_pipelines_own_output_lands_on_the_pipelines_times(tmp_path):
    """transformers' ASR pipeline (word timestamps, 30 s chunks) run directly on generated speech
    with the shipped toy Whisper (whatever words it hears): the query is two adjacent words of its
    own output said only once, and the hit must land on the times the pipeline gave those two words."""
    import re

    from pe_search.toy import speech_model  # noqa: F401  (makes torchvision importable before transformers)
    from pe_search.toy.train_speech import WHISPER_TOY_DIR

    from transformers import pipeline  # isort: skip

    asr = pipeline(
        "automatic-speech-recognition", model=str(WHISPER_TOY_DIR), chunk_length_s=30, device="cpu"
    )
    audio = speech.spoken([(1.0, "the red bell is ringing")], seconds=6.0).audio
    chunks = asr(audio.copy(), return_timestamps="word", generate_kwargs={"max_new_tokens": 40})["chunks"]
    heard = [
        SpokenWord(c["text"].strip(), float(c["timestamp"][0]), float(c["timestamp"][1]))
        for c in chunks
        if c["text"].strip()
    ]
    tokens = [re.findall(r"\w+", w.text.lower()) for w in heard]
    flat = [t for found in tokens for t in found]
    pairs = [
        (i, f"{a.text} {b.text}".lower())
        for i, (a, b) in enumerate(zip(heard, heard[1:]))
        if re.fullmatch(r"[a-z]+", a.text.lower()) and re.fullmatch(r"[a-z]+", b.text.lower())
    ]
    once = [
        (i, pair) for i, pair in pairs if sum(flat[j : j + 2] == pair.split() for j in range(len(flat))) == 1
    ]
    assert once, heard  # the seeded model's output holds such a pair
    at, pair = once[0]
    record = TranscriptRecord("random", "d", "en", True, None, (TranscriptPhrase(tuple(heard)),))
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        with store.write() as tx:
            media_id = tx.upsert_media(MediaRecord(path="/m/heard.wav", size=1, mtime=1.0, status="indexed"))
            tx.set_transcript(media_id, record)
        (hit,) = _search(QueryEngine(store), f'"{pair}"', mode="text", k=3)
    assert hit.words == (heard[at], heard[at + 1])
    assert (hit.start, hit.end) == (heard[at].start, heard[at + 1].end)
