"""The transcript verbs of `LibraryStore` (issue 26): a file's transcript, the words of transcript
entries search found, and the library's transcription model (kept by store/transcripts.py). A
file's transcript is written inside a write transaction (`WriteTransaction.set_transcript`)."""

from __future__ import annotations

from collections.abc import Iterable

from pe_search.store import transcripts
from pe_search.store.core import StoreCore
from pe_search.store.transcripts import SpokenWord, TranscriptRecord


class TranscriptAccess(StoreCore):
    """Transcripts and the transcription model of `LibraryStore`."""

    def transcript(self, media_id: int) -> TranscriptRecord | None:
        """The file's transcript, phrases in time order (None: never transcribed)."""
        with self._read_engine.connect() as connection:
            return transcripts.transcript(connection, media_id)

    def phrase_words(self, entry_ids: Iterable[int]) -> dict[int, tuple[SpokenWord, ...]]:
        """The words with their times of these text entries, for those that are transcript phrases."""
        with self._read_engine.connect() as connection:
            return transcripts.phrase_words(connection, entry_ids)

    def transcription_model(self) -> tuple[str, str] | None:
        """The library's transcription model as (model as given, weights digest); None: none recorded."""
        with self._read_engine.connect() as connection:
            return transcripts.recorded_model(connection)

    def record_transcription_model(self, model: str, weights_digest: str) -> None:
        """Record the library's transcription model (writer only; the indexer decides when)."""
        self._require_writer()
        with self._write_lock, self._session() as session:
            transcripts.record_model(session, model, weights_digest)
            session.commit()

    def transcribed(self) -> dict[int, tuple[str, bool]]:
        """Every transcribed file as {media id: (weights digest, complete)}, in one read."""
        with self._read_engine.connect() as connection:
            return transcripts.transcribed(connection)

    def transcript_counts(self) -> tuple[int, int]:
        """(files with a transcript, those whose transcript is complete)."""
        with self._read_engine.connect() as connection:
            return transcripts.counts(connection)

    def incomplete_transcripts(self) -> list[tuple[str, str]]:
        """(path, reason) of the files whose transcript is partial or failed, by path."""
        with self._read_engine.connect() as connection:
            return transcripts.incomplete(connection)
