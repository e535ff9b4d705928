"""Phrases of a transcript (issue 26): words are cut after a sentence's end, at a pause, and at a
word limit, and none is lost or reordered; the speech gate on generated sound keeps every word."""

from __future__ import annotations

import numpy as np

from indexer.transcribe import PHRASE_PAUSE, PHRASE_WORDS, phrases
from pe_search.media.speech_gate import SpeechGate, gate_pieces
from pe_search.store import SpokenWord


def said(*timed: tuple[str, float]) -> list[SpokenWord]:
    return [SpokenWord(text, start, start + 0.3) for text, start in timed]


def texts(cut) -> list[list[str]]:
    return [[w.text for w in phrase.words] for phrase in cut]


def test_a_pause_and_a_sentence_end_cut_phrases():
    words = said(("We", 0.0), ("need", 0.35), ("time.", 0.7), ("Later", 1.05), ("then", 1.4))
    words += said(("again", 1.7 + PHRASE_PAUSE + 0.01), ("now", 2.4 + PHRASE_PAUSE + 0.05))
    assert texts(phrases(words)) == [["We", "need", "time."], ["Later", "then"], ["again", "now"]]


def test_a_long_run_of_words_is_cut_at_the_word_limit():
    words = said(*((f"w{i}", 0.35 * i) for i in range(PHRASE_WORDS * 2 + 3)))
    cut = phrases(words)
    assert [len(phrase.words) for phrase in cut] == [PHRASE_WORDS, PHRASE_WORDS, 3]
    assert [w for phrase in cut for w in phrase.words] == words
    assert phrases([]) == ()


def test_the_gate_leaves_out_quiet_and_keeps_every_loud_stretch():
    rate = 16_000
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.003, 20 * rate).astype(np.float32)  # faint noise throughout
    loud = [(1.0, 1.4), (1.6, 2.5), (12.0, 13.0)]  # two close bursts (one phrase), one later
    for start, end in loud:
        audio[round(start * rate) : round(end * rate)] += 0.3 * np.sin(
            np.arange(round((end - start) * rate)) / 5.0
        )
    gate = SpeechGate()
    stretches = gate.stretches(audio, rate)
    assert len(stretches) == 2  # the 0.2 s pause is bridged, the 9.5 s of quiet is not
    for start, end in loud:
        assert any(s <= start and end <= e for s, e in stretches)
    (s1, e1), (s2, e2) = stretches
    assert e1 <= 2.5 + gate.pad + 0.03 and s2 >= 12.0 - gate.pad - 0.03  # padding only
    pieces = gate_pieces(audio, rate, gate)
    assert [(start, len(samples)) for start, samples in pieces] == [
        (round(s * rate) / rate, round(e * rate) - round(s * rate)) for s, e in stretches
    ]
    assert gate_pieces(audio, rate, None)[0][1] is audio
    silent = np.zeros(5 * rate, np.float32)
    assert gate.stretches(silent, rate) == []
