"""Full-text search over the text media files carry: SQLite FTS5 inside the library database.

Each piece of text is a row of `text_entries` (field: name, folder, tag, subtitle, text_file, and
label: the file's tags of issue 23; transcript: spoken phrases of issue 26, store/transcripts.py);
FTS5's external-content table `text_fts` indexes it, kept in step by triggers (migration
0003_text_search), so deleting a media file (its entries cascade) removes its text from the
index in the same transaction. Moving a file rewrites its name and folder entries
(`rename_entries`). Ranking is FTS5's BM25; `highlight()` marks the tokens that matched, which is
where a hit's matched words come from.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import Connection, and_, delete, func, insert, select
from sqlalchemy.orm import Session

from pe_search.store import spoken_match, text_ranking
from pe_search.store.filters import SearchFilter
from pe_search.store.schema import MediaFile, TextEntry, TextSource
from pe_search.store.spoken_match import SpokenWord

# The words with their times of transcript entries, by entry id (`transcripts.phrase_words`).
PhraseWords = Callable[[Connection, list[int]], "dict[int, tuple[SpokenWord, ...]]"]

TEXT_FIELDS = ("name", "folder", "tag", "subtitle", "text_file", "label")
TAG_LABEL_FIELD = "label"  # a file's tag labels (issue 23): written with its tags (store/tags.py), not here
TRANSCRIPT_FIELD = (
    "transcript"  # spoken phrases (issue 26): written with its transcript (store/transcripts.py)
)
OWN_FIELDS = (TAG_LABEL_FIELD, TRANSCRIPT_FIELD)  # entries written by their own verbs, not by set_text
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
    """An entry that matched a query: BM25 `rank` (lower is better, as FTS5 orders it).

    `start`/`end` are the entry's (a cue's, a transcript phrase's). For a transcript phrase,
    `words` are the spoken words the query matched, with their times (a hit lands from the first
    one's start to the last one's end); empty for every other field."""

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
    words: tuple[SpokenWord, ...] = ()


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


def query_terms(query: str) -> list[str]:
    """A user's query as the terms to look for, once each, lowercased: its words, and each phrase
    in double quotes as its words joined by spaces (FTS5 matches a phrase's words in order, side
    by side). Stopwords are left out of the unquoted words unless the query holds nothing else;
    a phrase keeps them (they are part of what was said). A quote without its partner is taken
    literally: it is punctuation, as it was before phrases, and an empty phrase adds nothing."""
    pieces = query.translate(_CURLY_QUOTES).split('"')
    if len(pieces) % 2 == 0:  # the last quote has no partner: what follows it is plain words
        pieces[-2:] = [f"{pieces[-2]} {pieces[-1]}"]
    loose = [w.lower() for piece in pieces[::2] for w in words(piece)]
    phrases = {i: " ".join(w.lower() for w in words(piece)) for i, piece in enumerate(pieces) if i % 2}
    kept = {w for w in loose if w not in STOPWORDS} or (set() if any(phrases.values()) else set(loose))
    terms = []
    for index, piece in enumerate(pieces):  # in the order the user wrote them
        if index % 2:
            terms.append(phrases[index])
        else:
            terms += [w.lower() for w in words(piece) if w.lower() in kept]
    return list(dict.fromkeys(t for t in terms if t))


_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})  # “ ” „ as typed on a Mac


def fts_query(query: str) -> str | None:
    """A user's query as an FTS5 query: any of its terms (BM25 ranks entries with more of them
    higher), each quoted so FTS5 syntax in the input is taken literally (a phrase's words inside
    one pair of quotes: FTS5's phrase); None if no term is left."""
    terms = query_terms(query)
    return text_ranking.expression(terms) if terms else None


# ---------------------------------------------------------------------------------------- writing
def replace_entries(
    session: Session, media_id: int, entries: list[TextEntryRecord], signature: str | None
) -> None:
    """Replace every text entry of a file read from the file and beside it (and record what they
    were read from); its tag labels and transcript phrases stay, they follow its tags and its
    transcript."""
    session.execute(
        delete(TextEntry).where(TextEntry.media_file_id == media_id, TextEntry.field.not_in(OWN_FIELDS))
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
    connection: Connection,
    query: str,
    limit: int,
    filters: SearchFilter | None = None,
    phrase_words: PhraseWords | None = None,
) -> list[TextMatch]:
    """Up to `limit` matching entries of indexed files, best BM25 first (ties by entry id). Filters
    select files as they do for vectors (`levels` does not apply: text belongs to a file, not to a
    segment).

    Ranking reads only the full-text index (entry ids and BM25, `text_ranking`: exact, without
    scoring every match of a common word), so no row of `text_entries` or `media_files` is
    touched for a match that is not kept; when files the
    filters or the status leave out take places, the ranking is read again deeper. `highlight()`
    then runs only for the kept entries (issue 24: it used to run on every match; `_highlights`).
    `phrase_words` reads the words of the kept transcript entries, to land each on the words the
    query matched (without it, a transcript entry keeps its phrase's times)."""
    terms = query_terms(query)
    if not terms:
        return []
    where = [MediaFile.status == "indexed"]
    if filters is not None:
        where += dataclasses.replace(filters, levels=None).conditions()
    depth = math.ceil(max(limit, 1) * RANK_OVERREAD)
    while True:
        ranked = text_ranking.ranked(connection, terms, depth)
        kept = _kept(connection, ranked, where, limit)
        if len(kept) >= limit or len(ranked) < depth:
            break
        depth *= RANK_GROWTH
    marked = _highlights(connection, text_ranking.expression(terms), kept)
    spoken_ids = [row.entry_id for row in kept if row.field == TRANSCRIPT_FIELD]
    spoken = phrase_words(connection, spoken_ids) if phrase_words and spoken_ids else {}
    found = []
    for row in kept:
        heard = _heard(marked[row.entry_id], spoken.get(row.entry_id, ()))
        found.append(
            TextMatch(
                media_id=row.media_id,
                path=row.path,
                kind=row.kind,
                duration=row.duration,
                field=row.field,
                key=row.key,
                start=row.start_s,
                end=row.end_s,
                snippet=_snippet(marked[row.entry_id]),
                matched_words=_marked(marked[row.entry_id]),
                rank=float(row.rank),
                words=heard,
            )
        )
    return found


def _heard(highlighted: str, words: tuple[SpokenWord, ...]) -> tuple[SpokenWord, ...]:
    """The spoken words of a transcript phrase that FTS5 marked (none for other entries)."""
    if not words:
        return ()
    text, spans = spoken_match.marked_spans(highlighted, MARK_OPEN, MARK_CLOSE)
    if text != _unmarked(" ".join(word.text for word in words)):
        return ()  # not the words joined by spaces: the characters cannot be placed on words
    return spoken_match.matched_words(spans, words)


# entries ranked per entry wanted, for those the filters leave out (failed and partial files, a
# filter): a twentieth more, since pruning can only answer when the rare words hold as many
# entries as are ranked (issue 24: at 1M files 2 left more queries to rank every match, and 1.25
# "kavege povisu begu mifa", whose rare words hold 213 entries for a page's 200); a filter that
# leaves out more reads the ranking again deeper, as before
RANK_OVERREAD = 1.05
RANK_GROWTH = 8  # how much deeper the ranking is read when that was not enough
ROWS_PER_READ = 5000  # entry ids per statement (SQLite binds at most 32,766 parameters)


def _kept(connection: Connection, ranked: list[tuple[int, float]], where: list, limit: int) -> list:
    """The ranked entries of files the conditions keep, best first, at most `limit` (read a
    slice of the ranking at a time, so a deep ranking stays within SQLite's bound parameters)."""
    kept: list[_RankedRow] = []
    for first in range(0, len(ranked), ROWS_PER_READ):
        ranks = dict(ranked[first : first + ROWS_PER_READ])
        rows = connection.execute(
            select(
                TextEntry.id,
                MediaFile.id,
                MediaFile.path,
                MediaFile.kind,
                MediaFile.duration,
                TextEntry.field,
                TextEntry.key,
                TextEntry.start_s,
                TextEntry.end_s,
                TextEntry.text,
            )
            .join(MediaFile, MediaFile.id == TextEntry.media_file_id)
            # the file conditions inside coalesce(): SQLite then reads the ranked entries by id and
            # their files by id, never an index on status, kind or path (at 1M files it chose
            # ix_media_files_status_path and walked every indexed file: a minute a query)
            .where(TextEntry.id.in_(list(ranks)), func.coalesce(and_(*where), False))
        ).all()
        rows.sort(key=lambda row: (ranks[row[0]], row[0]))
        kept += [_RankedRow(*row, rank=ranks[row[0]]) for row in rows]
        if len(kept) >= limit:
            break
    return kept[:limit]


@dataclass(frozen=True)
class _RankedRow:
    entry_id: int
    media_id: int
    path: str
    kind: str
    duration: float | None
    field: str
    key: str | None
    start_s: float | None
    end_s: float | None
    text: str
    rank: float


def _highlights(connection: Connection, expression: str, kept: list[_RankedRow]) -> dict[int, str]:
    """Each kept entry's text with its matched tokens marked, by entry id.

    FTS5's `highlight()` over the library's table would have to find each kept entry in the
    posting lists of every query word again (a common word's list is most of the index); instead
    the kept entries are copied into a scratch FTS5 table of this connection's temp schema with
    the library's own tokenizer and the same expression marks them there: the same tokens, the
    same marks, at a cost that grows with the kept entries only."""
    if not kept:
        return {}
    _make_scratch_table(connection)
    connection.exec_driver_sql(f"DELETE FROM temp.{SCRATCH}")
    connection.exec_driver_sql(
        f"INSERT INTO temp.{SCRATCH}(rowid, text) VALUES (?, ?)",
        [(row.entry_id, _unmarked(row.text)) for row in kept],
    )
    marked = connection.exec_driver_sql(
        f"SELECT rowid, highlight({SCRATCH}, 0, ?, ?) FROM temp.{SCRATCH} WHERE {SCRATCH} MATCH ?",
        (MARK_OPEN, MARK_CLOSE, expression),
    ).all()
    connection.exec_driver_sql(f"DELETE FROM temp.{SCRATCH}")
    return dict(marked)


def _unmarked(text_: str) -> str:
    """The text with the mark characters as spaces: a text holding one (a transcription model can
    write any character) would otherwise open or close a mark of its own. Both are separators to
    FTS5's tokenizer, as a space is, so the tokens and every character's place stay the same."""
    return text_.translate(_MARKS_AS_SPACES)


_MARKS_AS_SPACES = str.maketrans({MARK_OPEN: " ", MARK_CLOSE: " "})
SCRATCH = "pe_search_kept_text"


def _make_scratch_table(connection: Connection) -> None:
    """Make (once per connection) the scratch FTS5 table, tokenized as the library's own."""
    exists = connection.exec_driver_sql("SELECT 1 FROM temp.sqlite_master WHERE name = ?", (SCRATCH,)).first()
    if exists is None:
        tokenize = text_ranking.tokenize_option(connection)
        connection.exec_driver_sql(f"CREATE VIRTUAL TABLE temp.{SCRATCH} USING fts5(text{tokenize})")


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
