"""A small library with transcripts whose every word's time is known, for the transcript tests:
three tones indexed with the toy models, two of them given transcripts as the indexer would write
them (`tx.set_transcript`): talk.wav complete, cut.wav partial; tone.wav has none."""

from __future__ import annotations

from pathlib import Path

from pe_search.api import Library
from pe_search.store import LibraryStore, SpokenWord, TranscriptPhrase, TranscriptRecord
from testkit import media


def phrase(*timed: tuple[str, float, float]) -> TranscriptPhrase:
    return TranscriptPhrase(tuple(SpokenWord(text, start, end) for text, start, end in timed))


TALK = TranscriptRecord(
    model="toy",
    weights_digest="a" * 64,
    language="en",
    complete=True,
    reason=None,
    phrases=(
        phrase(("we", 0.52, 0.7), ("need", 0.75, 1.0), ("more", 1.05, 1.3), ("time", 1.35, 1.71)),
        phrase(("a", 3.0, 3.08), ("dog", 3.1, 3.4), ("barks", 3.45, 3.9)),
    ),
)
CUT = TranscriptRecord(
    model="toy",
    weights_digest="a" * 64,
    language="en",
    complete=False,
    reason="the audio stream is damaged after 2.0 s",
    phrases=(phrase(("rain", 0.4, 0.8), ("falls", 0.85, 1.2)),),
)
LENGTHS = {"talk.wav": 5.0, "cut.wav": 3.0, "tone.wav": 2.0}


def build(root: Path) -> tuple[Path, Path]:
    """Write the media under `root/media` and the library in `root/library`; returns both."""
    folder = root / "media"
    folder.mkdir()
    for name, seconds in LENGTHS.items():
        media.write_audio(folder / name, media.tone(330, seconds, 48_000), 48_000)
    library = root / "library"
    with Library.open(library, model="toy", frames=False) as opened:
        assert opened.index([folder], workers=0, progress=False).files_indexed == len(LENGTHS)
    with LibraryStore.open(library, create=False) as store, store.write() as tx:
        for name, record in (("talk.wav", TALK), ("cut.wav", CUT)):
            tx.set_transcript(store.find_media(str(folder / name)).id, record)
    return folder, library
