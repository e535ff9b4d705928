"""Transcription in the indexing run (issue 26): the speech a decode stage reads, the phrases a
transcript is cut into, and the transcription model a library records.

The decode half reads a file's sound at 16 kHz and lets the speech gate keep what may be speech
(`speech_payload`); the encode half (in this process or a Ray actor, where the models live) runs
the speech model over those pieces (`transcript_of`) and hands the `TranscriptRecord` to the
writer with the file's vectors, which writes it in the same transaction. A library records its
transcription model (`speech_for_library`): later runs reuse it, another is refused unless the
transcripts are rebuilt, which re-transcribes without re-encoding a vector.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pe_search.errors import MediaError, Option, PeSearchError
from pe_search.media.damage import DamageLog
from pe_search.media.speech_audio import SPEECH_RATE, speech_sound
from pe_search.media.speech_gate import SpeechGate, gate_pieces
from pe_search.models.speech import Heard, SpeechModel, SpeechPiece, SpeechSource, load_speech_model
from pe_search.store import SpokenWord, TranscriptPhrase, TranscriptRecord

log = logging.getLogger(__name__)

PHRASE_PAUSE = 0.6  # seconds of quiet between two words that end a phrase
PHRASE_WORDS = 12  # at most this many words in a phrase (a search hit lands on its phrase)
SENTENCE_ENDS = (".", "?", "!", "。", "？", "！")
GATE = SpeechGate()


@dataclass
class SpeechPayload:
    """One file's sound as the speech gate let it through (decode half -> encode half)."""

    path: str
    pieces: list[SpeechPiece]
    seconds: float  # the sound's whole length, before the gate
    reason: str | None = None  # why only part of the stream decoded (None: all of it did)


def speech_payload(path: str, has_audio: bool, gate: bool = True) -> SpeechPayload:
    """The file's sound at 16 kHz, cut by the gate (`gate` False: all of it, one piece)."""
    if not has_audio:
        return SpeechPayload(path, [], 0.0)
    damage = DamageLog()
    try:
        sound = speech_sound(path, damage)
    except MediaError as error:  # the sound does not decode at all: the transcript says why
        return SpeechPayload(path, [], 0.0, error.reason)
    pieces = [
        SpeechPiece(start, audio) for start, audio in gate_pieces(sound, SPEECH_RATE, GATE if gate else None)
    ]
    return SpeechPayload(path, pieces, len(sound) / SPEECH_RATE, damage.reason)


def phrases(words: Sequence[SpokenWord]) -> tuple[TranscriptPhrase, ...]:
    """Words cut into phrases: after a sentence's end, at a pause of `PHRASE_PAUSE` s or more,
    and every `PHRASE_WORDS` words."""
    out: list[TranscriptPhrase] = []
    current: list[SpokenWord] = []
    for word in words:
        if current and (
            word.start - current[-1].end >= PHRASE_PAUSE
            or len(current) >= PHRASE_WORDS
            or current[-1].text.endswith(SENTENCE_ENDS)
        ):
            out.append(TranscriptPhrase(tuple(current)))
            current = []
        current.append(word)
    if current:
        out.append(TranscriptPhrase(tuple(current)))
    return tuple(out)


def record_of(model: SpeechModel, heard: Heard, reason: str | None) -> TranscriptRecord:
    """What the model heard as the record the store keeps (partial when `reason` says why)."""
    words = [SpokenWord(w.text, w.start, w.end) for w in heard.words]
    return TranscriptRecord(
        model=model.source,
        weights_digest=model.weights_digest,
        language=heard.language,
        complete=reason is None,
        reason=reason,
        phrases=phrases(words),
    )


def transcript_of(model: SpeechModel, payload: SpeechPayload, language: str | None) -> TranscriptRecord:
    """The file's transcript; a failure of the model is a failed (empty, partial) record with
    its reason, so the file is indexed without a transcript and the run lists it."""
    try:
        heard = model.transcribe(payload.pieces, language)
    except Exception as error:  # noqa: BLE001  (one file's failure must not stop the run)
        log.warning("transcription failed for %s: %s", payload.path, error)
        reason = f"transcription failed: {type(error).__name__}: {error}".splitlines()[0]
        return TranscriptRecord(model.source, model.weights_digest, language, False, reason, ())
    reason = f"the sound decodes only in part ({payload.reason})" if payload.reason else None
    return record_of(model, heard, reason)


# -- the library's transcription model ------------------------------------------------------------------


class TranscriptionModelMismatch(PeSearchError):
    """A run asks for another transcription model than the library's."""


@dataclass(frozen=True)
class TranscriptionPlan:
    """The run's transcription: the model (None: none) and whether every file is transcribed again."""

    source: SpeechSource | None
    digest: str | None = None
    rebuild: bool = False


def chosen_speech(
    recorded: tuple[str, str] | None,
    model: str | None,
    language: str | None = None,
    rebuild: bool = False,
    device: str | None = None,
) -> tuple[str, SpeechModel, str | None] | None:
    """The speech model a run would use, given the library's `recorded` (model, digest): the one
    asked for, else the recorded one, else none (None). Loads it, so what a run would refuse is
    refused here, each in one line: not a speech model, a language it does not know, another
    model than the recorded one without `rebuild`, a language or a rebuild with no model at all.
    Returns (model, the loaded model, the language code)."""
    if model is None:
        if recorded is None:
            if language is not None or rebuild:
                raise PeSearchError(
                    "{0} and {1} need a transcription model and this library has none",
                    "add {2}",
                    options=(
                        Option("language"),
                        Option("rebuild_transcripts", switch=True),
                        Option("transcribe"),
                    ),
                )
            return None
        model = recorded[0]
    loaded = load_speech_model(model, device)
    code = loaded.check_language(language)
    if recorded is not None and recorded[1] != loaded.weights_digest and not rebuild:
        raise TranscriptionModelMismatch(
            f"this library's speech was transcribed with {recorded[0]}, not {model}",
            "leave {0} out to use the library's, or add {1} to transcribe every file again with the new one",
            options=(Option("transcribe", model), Option("rebuild_transcripts", switch=True)),
            value=model,
        )
    return model, loaded, code


def speech_for_library(
    store,
    model: str | None,
    language: str | None = None,
    rebuild: bool = False,
    device: str | None = None,
) -> TranscriptionPlan:
    """The run's transcription model: the one given (recorded in the library), else the library's.
    Another model than the library's raises TranscriptionModelMismatch unless `rebuild`. The model
    is loaded here, so a checkpoint that is not a speech model or a language it does not know is
    refused before any file is read."""
    recorded = store.transcription_model()
    chosen = chosen_speech(recorded, model, language, rebuild, device)
    if chosen is None:
        return TranscriptionPlan(None)
    model, loaded, code = chosen
    if recorded != (model, loaded.weights_digest):
        store.record_transcription_model(model, loaded.weights_digest)
    return TranscriptionPlan(SpeechSource(model, code), loaded.weights_digest, rebuild)
