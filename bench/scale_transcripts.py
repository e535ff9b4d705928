"""bench_scale's `transcripts` part (issue 26): the text side's query time with the transcripts of
a simulated 1,000-hour library.

    .venv/bin/python bench/bench_scale.py --part transcripts --workdir /big/scratch [--transcript-hours 1000]

The library: `--transcript-hours` of media as files of `FILE_MINUTES` minutes, each with
bench_scale's text of a tagged file (name, folders, three tags) and one clip vector, written
through the store's writer (so hybrid mode has a vector side), and what is said in it: speech
half the time at 150 words a minute, in phrases of 8 to 12 words with each word's time (a word
0.25-0.45 s, 50-150 ms between words, a pause after each phrase as long as the phrase on
average), words drawn Zipf-like from bench_scale's vocabulary (so a few words are in most
phrases, as "the" and "you" are in speech). 1,000 hours is about 4.5 million words in 450,000
phrases. The first `WRITER_FILES` files get their transcript through `tx.set_transcript` (the
store's writer, timed); the rest as the same rows by bulk SQL (text entries of field
"transcript", whose triggers fill the FTS5 index; `transcript_phrases` with the words as JSON;
`transcripts`), since the writer would take hours on two shared cores.

Queries, `--queries` of each kind (engine time: `query.hybrid.search` with the query's vector
given, text encoding excluded, as bench_scale's text part measures): `word`, one to three words
drawn by the same frequencies; `phrase`, two to four consecutive words of a stored phrase in
double quotes (so each is said somewhere, and common words come up as often as in speech);
`common_phrase`, two adjacent words of a stored phrase that are both among the `COMMON_WORDS`
most frequent (as "you know" or "of the" are in speech: FTS5 reads both words' long position
lists to find them side by side). Each
in `text` and `hybrid` mode, interleaved, p50/p90 wall and CPU ms, and how many entries the first
queries match. The library is deleted afterwards unless `--keep`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FILE_MINUTES = 15
WRITER_FILES = 100  # files whose transcript goes through the store's writer
FILES_PER_TRANSACTION = 500
BULK_FILES = 200  # files per bulk transaction
SPEECH_SHARE = 0.5
COMMON_WORDS = 20  # the most frequent words, of which `common_phrase` queries are made
MODEL = "bench/transcripts"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--transcript-hours", type=float, default=1000.0, help="the transcripts part's library"
    )


def transcripts_part(run) -> dict:
    """bench_scale's part registry entry (a `SizeRun`: its arguments)."""
    return measure(run.args)


def said(rng: np.random.Generator, words, seconds: float) -> list[list[tuple[str, float, float]]]:
    """What is said in a file of `seconds`: phrases of (word, start, end)."""
    phrases = []
    at = float(rng.uniform(0.0, 5.0))
    while True:
        count = int(rng.integers(8, 13))
        lengths = rng.uniform(0.25, 0.45, count)
        gaps = rng.uniform(0.05, 0.15, count)
        starts = at + np.concatenate([[0.0], np.cumsum(lengths[:-1] + gaps[:-1])])
        ends = starts + lengths
        if ends[-1] > seconds:
            return phrases
        drawn = words.draw(count)
        phrases.append(
            [(str(w), round(float(s), 3), round(float(e), 3)) for w, s, e in zip(drawn, starts, ends)]
        )
        spoken = ends[-1] - at
        at = float(ends[-1] + rng.uniform(0.2, 1.8) * spoken * (1 - SPEECH_SHARE) / SPEECH_SHARE)


def build(directory: Path, hours: float) -> dict:
    import bench_scale as scale

    from pe_search.store import LibraryStore, SegmentRecord, SpokenWord, TranscriptPhrase, TranscriptRecord

    files = max(1, round(hours * 60 / FILE_MINUTES))
    seconds = FILE_MINUTES * 60.0
    text_words, spoken_words = scale.Words(seed=1), scale.Words(seed=21)
    folders = [" ".join(text_words.draw(2)) for _ in range(scale.FOLDERS)]
    rng, vector_rng = np.random.default_rng(22), np.random.default_rng(3)
    began = time.perf_counter()
    totals = {"phrases": 0, "words": 0}
    media_ids: list[int] = []
    with LibraryStore.open(directory, scale.identity()) as store:
        for first in range(0, files, FILES_PER_TRANSACTION):
            with store.write() as tx:
                for index in range(first, min(files, first + FILES_PER_TRANSACTION)):
                    media, text = scale.simulated_file(index, text_words.draw(10), folders)
                    media_id = tx.upsert_media(dataclasses.replace(media, duration=seconds))
                    media_ids.append(media_id)
                    tx.set_text(media_id, text, "bench")
                    if media.status == "indexed":
                        ids = tx.add_segments(media_id, [SegmentRecord(0.0, seconds, "clip")])
                        vector = vector_rng.standard_normal((1, scale.VECTOR_DIM)).astype(np.float32)
                        tx.add_vectors("audio", ids, vector / np.linalg.norm(vector))
        written = time.perf_counter()
        for index in range(min(files, WRITER_FILES)):
            phrases = said(rng, spoken_words, seconds)
            record = TranscriptRecord(
                MODEL, "0" * 64, "en", True, None,
                tuple(TranscriptPhrase(tuple(SpokenWord(*w) for w in p)) for p in phrases),
            )  # fmt: skip
            with store.write() as tx:
                tx.set_transcript(media_ids[index], record)
            totals["phrases"] += len(phrases)
            totals["words"] += sum(len(p) for p in phrases)
        writer_seconds = time.perf_counter() - written
        writer_words = totals["words"]
        store.checkpoint()
    if files > WRITER_FILES:
        _bulk(directory / "library.db", media_ids[WRITER_FILES:], rng, spoken_words, seconds, totals)
    return {
        "transcript_hours": hours,
        "files": files,
        "phrases": totals["phrases"],
        "spoken_words": totals["words"],
        "writer_transcript_words_per_s": round(writer_words / writer_seconds) if writer_seconds else None,
        "build_seconds": round(time.perf_counter() - began, 1),
    }


def _bulk(database: Path, media_ids: list[int], rng, words, seconds: float, totals: dict) -> None:
    """The rows `tx.set_transcript` leaves, by executemany (entry ids given, so the phrases' rows
    can point at them)."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    next_id = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM text_entries").fetchone()[0]
    began = time.perf_counter()
    for first in range(0, len(media_ids), BULK_FILES):
        entries, phrase_rows, transcripts = [], [], []
        for media_id in media_ids[first : first + BULK_FILES]:
            for phrase in said(rng, words, seconds):
                text = " ".join(w for w, _, _ in phrase)
                entries.append((next_id, media_id, "transcript", None, phrase[0][1], phrase[-1][2], text))
                phrase_rows.append((next_id, json.dumps([list(w) for w in phrase])))
                next_id += 1
                totals["phrases"] += 1
                totals["words"] += len(phrase)
            transcripts.append((media_id, MODEL, "0" * 64, "en", 1, None))
        with connection:
            connection.executemany(
                "INSERT INTO text_entries (id, media_file_id, field, key, start_s, end_s, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                entries,
            )
            connection.executemany(
                "INSERT INTO transcript_phrases (entry_id, words) VALUES (?, ?)", phrase_rows
            )
            connection.executemany(
                "INSERT INTO transcripts (media_file_id, model, weights_digest, language, complete, reason) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                transcripts,
            )
        print(
            f"  {min(len(media_ids), first + BULK_FILES)} files, {totals['words']:,} words, "
            f"{time.perf_counter() - began:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def queries(database: Path, count: int) -> dict[str, list[str]]:
    """`count` word queries (drawn by the library's frequencies) and `count` quoted phrases (two
    to four consecutive words of stored phrases picked at random)."""
    import bench_scale as scale

    rng = np.random.default_rng(31)
    words = scale.Words(seed=32)
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    top = connection.execute("SELECT max(id) FROM text_entries WHERE field = 'transcript'").fetchone()[0]
    common = set(scale.vocabulary()[:COMMON_WORDS])
    phrases: list[str] = []
    common_phrases: list[str] = []
    while len(phrases) < count or len(common_phrases) < count:
        row = connection.execute(
            "SELECT text FROM text_entries WHERE id = ? AND field = 'transcript'",
            (int(rng.integers(1, top + 1)),),
        ).fetchone()
        if row is None:
            continue
        said_words = row[0].split()
        pairs = [f'"{a} {b}"' for a, b in zip(said_words, said_words[1:]) if a in common and b in common]
        if pairs and len(common_phrases) < count:
            common_phrases.append(pairs[int(rng.integers(0, len(pairs)))])
        if len(phrases) >= count:
            continue
        length = int(rng.integers(2, 5))
        first = int(rng.integers(0, len(said_words) - length + 1))
        phrases.append('"' + " ".join(said_words[first : first + length]) + '"')
    connection.close()
    word_queries = [" ".join(words.draw(int(rng.integers(1, 4)))) for _ in range(count)]
    return {"word": word_queries, "phrase": phrases, "common_phrase": common_phrases}


def measure_queries(directory: Path, count: int, k: int) -> dict:
    import bench_scale as scale

    from pe_search.query.engine import QueryEngine
    from pe_search.store import LibraryStore

    asked = queries(directory / "library.db", count)
    rng = np.random.default_rng(33)
    result: dict = {"query_examples": {kind: texts[:3] for kind, texts in asked.items()}}
    with LibraryStore.open(directory, readonly=True) as store:
        engine = QueryEngine(store)
        for texts in asked.values():  # SQLite's page cache, as a running server has it
            for text in texts[:3]:
                store.search_text(text)
        for kind, texts in asked.items():
            times: dict[str, list[float]] = {"text": [], "hybrid": []}
            cpu: dict[str, list[float]] = {"text": [], "hybrid": []}
            landed = 0
            for text in texts:
                vector = rng.standard_normal(scale.VECTOR_DIM).astype(np.float32)
                for mode in ("text", "hybrid"):  # interleaved, so machine load hits both alike
                    hits, wall, used = scale.timed_text_query(engine, text, vector, mode, k)
                    times[mode].append(wall)
                    cpu[mode].append(used)
                    if mode == "text":
                        landed += sum(1 for h in hits if h.words)
            for mode in ("text", "hybrid"):
                result[f"{kind}_{mode}_engine_ms"] = scale.percentiles(times[mode])
                result[f"{kind}_{mode}_engine_cpu_ms"] = scale.percentiles(cpu[mode])
            result[f"{kind}_text_hits_on_words_mean"] = round(landed / len(texts), 1)
            result[f"{kind}_matching_entries_first_10"] = [_matching(store, t) for t in texts[:10]]
    return result


def _matching(store, text: str) -> int:
    """How many entries the query matches (what ranking every match would score)."""
    from pe_search.store.text_index import fts_query

    with store._read_engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT count(*) FROM text_fts WHERE text_fts MATCH ?", (fts_query(text),)
        ).scalar_one()


def measure(args) -> dict:
    owned = Path(tempfile.mkdtemp(dir=args.workdir, prefix="bench-transcripts-"))
    directory = Path(args.library) if args.library else owned / "lib"
    try:
        result: dict = {}
        if not (directory / "library.db").exists():
            result.update(build(directory, args.transcript_hours))
        result["database_mb"] = round((directory / "library.db").stat().st_size / 1e6, 1)
        result.update(measure_queries(directory, args.queries, args.k))
        return result
    finally:
        if not args.keep:
            shutil.rmtree(owned, ignore_errors=True)
