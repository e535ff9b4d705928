"""Transcripts of what is said in a file (issue 26): the words a speech model heard, with their
times, kept as timed text.

Each phrase is one text entry of field "transcript" (its text the phrase's words joined by spaces,
`start_s`/`end_s` its first word's start and last word's end), so full-text search finds spoken
words with the rest of a file's text; beside each entry, `transcript_phrases` keeps its words
with their times (JSON), so a hit can say which words matched and where each one is. One row of
`transcripts` says which model heard them, in which language, and whether the whole stream was
heard. A moved file keeps its transcript (it hangs on the file's id); deleting the file deletes
it (the entries cascade, their words with them). The library's transcription model is recorded
in `transcription_model` (one row), like the encoder's identity.

The store keeps what the indexer computed and gives it back; it transcribes nothing itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, case, delete, func, insert, select
from sqlalchemy.orm import Session

from pe_search.store.schema import (
    MediaFile,
    TextEntry,
    TranscriptionModelRow,
    TranscriptPhraseRow,
    TranscriptRow,
)
from pe_search.store.spoken_match import SpokenWord
from pe_search.store.text_index import TRANSCRIPT_FIELD

_BATCH = 500  # ids per IN (...) query, under SQLite's variable limit


@dataclass(frozen=True)
class TranscriptPhrase:
    """Words said together (split at a pause, a sentence's end or a word limit): one text entry."""

    words: tuple[SpokenWord, ...]

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        """The text entry's text."""
        return " ".join(word.text for word in self.words)


@dataclass(frozen=True)
class TranscriptRecord:
    """A file's transcript. `model` is the transcription model as given (hub id or directory),
    `weights_digest` its weights identity (as the other models'); `complete` False with a
    one-line `reason` when only part of the stream was heard (a corrupt stream, a failure)."""

    model: str
    weights_digest: str
    language: str | None
    complete: bool
    reason: str | None
    phrases: tuple[TranscriptPhrase, ...]


# -- writing (inside a write transaction) ------------------------------------------------------------


def put(session: Session, media_id: int, record: TranscriptRecord) -> None:
    """Replace the file's transcript with `record`: its row, its phrase entries and their words."""
    for phrase in record.phrases:
        _check_phrase(phrase)
    drop(session, media_id)
    session.execute(
        insert(TranscriptRow).values(
            media_file_id=media_id,
            model=record.model,
            weights_digest=record.weights_digest,
            language=record.language,
            complete=record.complete,
            reason=record.reason,
        )
    )
    if not record.phrases:
        return
    rows = [
        {
            "media_file_id": media_id,
            "field": TRANSCRIPT_FIELD,
            "key": None,
            "start_s": phrase.start,
            "end_s": phrase.end,
            "text": phrase.text,
        }
        for phrase in record.phrases
    ]
    entry_ids = session.execute(
        insert(TextEntry).returning(TextEntry.id, sort_by_parameter_order=True), rows
    ).scalars()
    session.execute(
        insert(TranscriptPhraseRow),
        [
            {"entry_id": entry_id, "words": [[w.text, w.start, w.end] for w in phrase.words]}
            for entry_id, phrase in zip(entry_ids, record.phrases, strict=True)
        ],
    )


def drop(session: Session, media_id: int) -> None:
    """Delete the file's transcript (its phrase entries take their words with them)."""
    session.execute(
        delete(TextEntry).where(TextEntry.media_file_id == media_id, TextEntry.field == TRANSCRIPT_FIELD)
    )
    session.execute(delete(TranscriptRow).where(TranscriptRow.media_file_id == media_id))


def _check_phrase(phrase: TranscriptPhrase) -> None:
    if not phrase.words:
        raise ValueError("a transcript phrase needs at least one word")
    for word in phrase.words:
        if not word.text.strip():
            raise ValueError(f"a spoken word needs text, got {word!r}")
        if not (math.isfinite(word.start) and math.isfinite(word.end)):
            raise ValueError(f"a spoken word needs finite times, got {word!r}")


def record_model(session: Session, model: str, weights_digest: str) -> None:
    """Record the library's transcription model (replacing the one before)."""
    session.execute(delete(TranscriptionModelRow))
    session.execute(insert(TranscriptionModelRow).values(id=1, model=model, weights_digest=weights_digest))


# -- reading -----------------------------------------------------------------------------------------


def transcript(connection: Connection, media_id: int) -> TranscriptRecord | None:
    """The file's transcript, its phrases in time order; None when it has none."""
    row = connection.execute(select(TranscriptRow).where(TranscriptRow.media_file_id == media_id)).first()
    if row is None:
        return None
    phrases = connection.execute(
        select(TranscriptPhraseRow.words)
        .join(TextEntry, TextEntry.id == TranscriptPhraseRow.entry_id)
        .where(TextEntry.media_file_id == media_id)
        .order_by(TextEntry.start_s, TextEntry.id)
    ).scalars()
    return TranscriptRecord(
        model=row.model,
        weights_digest=row.weights_digest,
        language=row.language,
        complete=bool(row.complete),
        reason=row.reason,
        phrases=tuple(TranscriptPhrase(_words(words)) for words in phrases),
    )


def phrase_words(connection: Connection, entry_ids: Iterable[int]) -> dict[int, tuple[SpokenWord, ...]]:
    """The words of these text entries that are transcript phrases, by entry id (others left out)."""
    ids = list(dict.fromkeys(int(i) for i in entry_ids))
    found: dict[int, tuple[SpokenWord, ...]] = {}
    for first in range(0, len(ids), _BATCH):
        rows = connection.execute(
            select(TranscriptPhraseRow.entry_id, TranscriptPhraseRow.words).where(
                TranscriptPhraseRow.entry_id.in_(ids[first : first + _BATCH])
            )
        ).all()
        found.update((entry_id, _words(words)) for entry_id, words in rows)
    return found


def transcribed(connection: Connection) -> dict[int, tuple[str, bool]]:
    """Every file's transcript as (weights digest, complete), by media id (the indexer's plan)."""
    rows = connection.execute(
        select(TranscriptRow.media_file_id, TranscriptRow.weights_digest, TranscriptRow.complete)
    ).all()
    return {media_id: (digest, bool(complete)) for media_id, digest, complete in rows}


def counts(connection: Connection) -> tuple[int, int]:
    """(files with a transcript, those complete), in one read (status)."""
    files, complete = connection.execute(
        select(func.count(), func.coalesce(func.sum(case((TranscriptRow.complete, 1), else_=0)), 0))
    ).one()
    return int(files), int(complete)


def incomplete(connection: Connection) -> list[tuple[str, str]]:
    """(path, reason) of every file whose transcript is partial or failed, by path (status)."""
    rows = connection.execute(
        select(MediaFile.path, TranscriptRow.reason)
        .join(MediaFile, MediaFile.id == TranscriptRow.media_file_id)
        .where(TranscriptRow.complete.is_(False))
        .order_by(MediaFile.path)
    ).all()
    return [(path, reason or "") for path, reason in rows]


def recorded_model(connection: Connection) -> tuple[str, str] | None:
    """The library's transcription model as (model, weights digest); None when never recorded."""
    row = connection.execute(
        select(TranscriptionModelRow.model, TranscriptionModelRow.weights_digest).where(
            TranscriptionModelRow.id == 1
        )
    ).first()
    return (row.model, row.weights_digest) if row is not None else None


def _words(stored: list) -> tuple[SpokenWord, ...]:
    return tuple(SpokenWord(str(text), float(start), float(end)) for text, start, end in stored)
