"""Full-text search over the text media files carry: SQLite FTS5 inside the library database.

Each piece of text is a row of `text_entries` (field: name, folder, tag, subtitle, text_file, and
label: the file's tags of issue 23);
FTS5's external-content table `text_fts` indexes it, kept in step by triggers (migration
0003_text_search), so deleting a media file (its entries cascade) removes its text from the
index in the same transaction. Moving a file rewrites its name and folder entries
(`rename_entries`). Ranking is FTS5's BM25; `highlight()` marks the tokens that matched, which is
where a hit's matched words come from.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import Connection, column, delete, func, insert, literal_column, select, table
from sqlalchemy.orm import Session

from pe_search.store.filters import SearchFilter
from pe_search.store.schema import FTS_TABLE, MediaFile, TextEntry, TextSource

TEXT_FIELDS = ("name", "folder", "tag", "subtitle", "text_file", "label")
TAG_LABEL_FIELD = "label"  # a file's tag labels (issue 23): written with its tags (store/tags.py), not here
PATH_FIELDS = ("name", "folder")
FOLDER_DEPTH = 3  # the last folders of a path say what it holds; /home/user/... says nothing
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"
# Words that would match nearly every entry and say nothing about it.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "while",
        "this",
        "that",
    ]
)
_WORD = re.compile(r"\w+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")


@dataclass(frozen=True)
class TextEntryRecord:
    """One piece of text of a file; `start`/`end` in seconds for timed text (subtitle cues)."""

    field: str
    text: str
    key: str | None = None  # the tag's name (title, artist, ...), the sidecar's file name
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class TextMatch:
    """An entry that matched a query: BM25 `rank` (lower is better, as FTS5 orders it)."""

    media_id: int
    path: str
    kind: str
    duration: float | None
    field: str
    key: str | None
    start: float | None
    end: float | None
    snippet: str
    matched_words: tuple[str, ...]
    rank: float


def words(text_: str) -> list[str]:
    """The words of a name: separators, camelCase and letter/digit changes split it.

    NFC first: a name written in NFD (macOS) carries its accents as combining marks, which `\\w`
    does not match, so `crème` would split into `cre` and `me`; both sides (names and queries) go
    through here, so either form finds the other."""
    composed = unicodedata.normalize("NFC", text_)
    return [w for w in _WORD.findall(_CAMEL.sub(" ", composed).replace("_", " ")) if w]


def path_entries(path: str) -> list[TextEntryRecord]:
    """The name (stem, split into words) and the last folders of a path."""
    pure = PurePath(path)
    entries = [TextEntryRecord("name", " ".join(words(pure.stem)) or unicodedata.normalize("NFC", pure.name))]
    folders = [part for part in pure.parent.parts[-FOLDER_DEPTH:] if part not in ("/", "\\")]
    if folders:
        entries.append(TextEntryRecord("folder", " / ".join(" ".join(words(f)) for f in folders)))
    return entries


def fts_query(query: str) -> str | None:
    """A user's words as an FTS5 query: any of the words (BM25 ranks entries with more of them
    higher), each quoted so FTS5 syntax in the input is taken literally; None if no word is left."""
    terms = [w.lower() for w in words(query)]
    kept = [w for w in terms if w not in STOPWORDS] or terms
    if not kept:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(kept))


# ---------------------------------------------------------------------------------------- writing
def replace_entries(
    session: Session, media_id: int, entries: list[TextEntryRecord], signature: str | None
) -> None:
    """Replace every text entry of a file read from the file and beside it (and record what they
    were read from); its tag labels stay, they follow its tags."""
    session.execute(
        delete(TextEntry).where(TextEntry.media_file_id == media_id, TextEntry.field != TAG_LABEL_FIELD)
    )
    rows = [
        {
            "media_file_id": media_id,
            "field": e.field,
            "key": e.key,
            "start_s": e.start,
            "end_s": e.end,
            "text": e.text,
        }
        for e in entries
        if e.text.strip()
    ]
    for entry in entries:
        if entry.field not in TEXT_FIELDS:
            raise ValueError(f"text field must be one of {TEXT_FIELDS}, got {entry.field!r}")
    if rows:
        session.execute(insert(TextEntry), rows)
    session.execute(delete(TextSource).where(TextSource.media_file_id == media_id))
    if signature is not None:
        session.add(TextSource(media_file_id=media_id, signature=signature))


def rename_entries(session: Session, media_id: int, new_path: str) -> None:
    """A moved file: its name and folder entries follow the new path; the rest stays."""
    session.execute(
        delete(TextEntry).where(TextEntry.media_file_id == media_id, TextEntry.field.in_(PATH_FIELDS))
    )
    rows = [
        {"media_file_id": media_id, "field": e.field, "key": None, "text": e.text}
        for e in path_entries(new_path)
    ]
    session.execute(insert(TextEntry), rows)


def signatures(connection: Connection) -> dict[int, str]:
    """Every file's text signature, by media id."""
    return dict(connection.execute(select(TextSource.media_file_id, TextSource.signature)).all())


# ---------------------------------------------------------------------------------------- reading
def search(
    connection: Connection, query: str, limit: int, filters: SearchFilter | None = None
) -> list[TextMatch]:
    """Up to `limit` matching entries of indexed files, best BM25 first. Filters select files as
    they do for vectors (`levels` does not apply: text belongs to a file, not to a segment)."""
    expression = fts_query(query)
    if expression is None:
        return []
    where = [MediaFile.status == "indexed"]
    if filters is not None:
        where += dataclasses.replace(filters, levels=None).conditions()
    fts = table(FTS_TABLE, column("rowid"))
    statement = (
        select(
            MediaFile.id,
            MediaFile.path,
            MediaFile.kind,
            MediaFile.duration,
            TextEntry.field,
            TextEntry.key,
            TextEntry.start_s,
            TextEntry.end_s,
            func.highlight(literal_column(FTS_TABLE), 0, MARK_OPEN, MARK_CLOSE),
            literal_column(f"bm25({FTS_TABLE})").label("rank"),
        )
        .select_from(fts)
        .join(TextEntry, TextEntry.id == fts.c.rowid)
        .join(MediaFile, MediaFile.id == TextEntry.media_file_id)
        .where(literal_column(FTS_TABLE).op("MATCH")(expression), *where)
        .order_by(literal_column("rank"))
        .limit(limit)
    )
    rows = connection.execute(statement).all()
    return [
        TextMatch(
            media_id=row[0],
            path=row[1],
            kind=row[2],
            duration=row[3],
            field=row[4],
            key=row[5],
            start=row[6],
            end=row[7],
            snippet=_snippet(row[8]),
            matched_words=_marked(row[8]),
            rank=float(row[9]),
        )
        for row in rows
    ]


def _marked(highlighted: str) -> tuple[str, ...]:
    found = re.findall(f"{MARK_OPEN}(.*?){MARK_CLOSE}", highlighted, flags=re.S)
    return tuple(dict.fromkeys(w.lower() for w in found))


def _snippet(highlighted: str, width: int = 120) -> str:
    """The entry's text around its first match, matches in [brackets]."""
    first = highlighted.find(MARK_OPEN)
    start = max(0, first - width // 3) if first > width else 0
    piece = highlighted[start : start + width]
    piece = piece.replace(MARK_OPEN, "[").replace(MARK_CLOSE, "]")
    return ("..." if start else "") + " ".join(piece.split())
