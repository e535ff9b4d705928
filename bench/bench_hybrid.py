"""Benchmark hybrid search and duplicate finding at library scale, and measure duplicate quality.

    .venv/bin/python bench/bench_hybrid.py --part text --segments 100000
    .venv/bin/python bench/bench_hybrid.py --part duplicates --files 100000
    .venv/bin/python bench/bench_hybrid.py --part quality

`text`: a library of `--segments` clip segments (bench_query's synthetic 1024-d vectors, 10 per
file) whose files have generated names, folders and tags (title, artist, genre, comment) drawn
from the same words as the queries, so the text side matches many files. Over `--queries`
texts: p50/p95 of the whole query (real-sized text tower: ModernBERT, PE-AV's default text
config, random weights; then search) in vector, text and hybrid mode, and of the engine alone
(query vector cached). Goal: hybrid adds at most 20 % to vector's p50.

`duplicates`: a simulated library of `--files` files, each with a fingerprint at its real size
(durations log-normal around 75 s; 43 codes/s up to the 120 s cut; codes that drift as real
ones do, a few bits per hop), 5 % of them copies of another file (trimmed by up to 3 s at
either end, 1-8 % of bits flipped as by lossy re-encoding, or exact). Written through the
store; then `find_duplicates` runs in a fresh process: wall time, peak memory, and recall and
precision of the simulated copies.

`quality`: the generated corpus of tests/duplicate_corpus.py (five kinds of sound, `--variants`
recordings of each with a look-alike take and thirteen transformed copies; four scenes with a
look-alike take and four copies): precision and recall per transformation at the default
settings, as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pe_search.duplicates import audio_fingerprint  # noqa: E402
from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.store import LibraryStore, MediaRecord, SegmentRecord  # noqa: E402

NAME_WORDS = [
    "door", "slam", "rain", "roof", "dog", "bark", "water", "metal", "night", "wind", "car", "horn",
    "bird", "song", "street", "crowd", "engine", "bell", "glass", "step", "piano", "drum", "voice",
    "train", "river", "fire", "storm", "kitchen", "loudly", "falls",
]  # fmt: skip
GENRES = ["field recording", "foley", "ambience", "music", "speech", "effects"]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.array(seconds) * 1000, [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


# ------------------------------------------------------------------------------------------ text
def build_text_library(directory: Path, segments: int, per_file: int = 10) -> LibraryStore:
    from bench_vectors import data_chunk

    from pe_search.store import TextEntryRecord, path_entries

    identity = ModelIdentity(("bench",), "config", "weights", 1024, {"text_audio": (1.0, 0.0)})
    store = LibraryStore.open(directory, identity)
    files = segments // per_file
    vectors = data_chunk(1024, 0, 0, files * per_file)
    rng = np.random.default_rng(1)
    began = time.perf_counter()
    entries_written = 0
    for first in range(0, files, 200):
        with store.write() as tx:
            for index in range(first, min(files, first + 200)):
                words = rng.choice(NAME_WORDS, size=6)
                path = f"/bench/{words[0]}/{words[1]}_{words[2]}_{index % 100:02d}-{index:06d}.wav"
                media = MediaRecord(
                    path=path, size=1, mtime=0.0, content_hash=str(index), duration=per_file * 15.0 + 15,
                    has_audio=True, status="indexed",
                )  # fmt: skip
                media_id = tx.upsert_media(media)
                ids = tx.add_segments(
                    media_id, [SegmentRecord(i * 15.0, i * 15.0 + 30, "clip") for i in range(per_file)]
                )
                tx.add_vectors("audio", ids, vectors[index * per_file : (index + 1) * per_file])
                entries = path_entries(path) + [
                    TextEntryRecord("tag", " ".join(words[2:5]).title(), key="title"),
                    TextEntryRecord("tag", f"Artist {index % 500}", key="artist"),
                    TextEntryRecord("tag", GENRES[index % len(GENRES)], key="genre"),
                    TextEntryRecord("tag", " ".join(rng.choice(NAME_WORDS, size=8)), key="comment"),
                ]
                tx.set_text(media_id, entries, "bench")
                entries_written += len(entries)
    store.checkpoint()
    print(
        f"library: {files * per_file} segments in {files} files, {entries_written} text entries, "
        f"built in {time.perf_counter() - began:.1f} s"
    )
    return store


def run_text(args) -> dict:
    import torch
    from bench_query import WORDS, text_encoder

    from pe_search.query import hybrid
    from pe_search.query.engine import QueryEngine, QueryVectors

    torch.manual_seed(0)
    encoder = text_encoder()
    rng = np.random.default_rng(0)
    vocabulary = sorted(set(WORDS) | set(NAME_WORDS))
    texts = [" ".join(rng.choice(vocabulary, size=rng.integers(2, 6))) for _ in range(args.queries)]
    modes = ("vector", "text", "hybrid")
    whole = {m: [] for m in modes}
    engine_only = {m: [] for m in modes}
    text_hits = []
    with tempfile.TemporaryDirectory() as directory:
        store = build_text_library(Path(directory) / "lib", args.segments)
        engine = QueryEngine(store)
        available = frozenset(encoder.embeddings)
        status = store.status().spaces["audio"]
        print(f"index: {status.index_type} {status.index_params}")
        for text in texts[:3]:  # warm up the encoder and SQLite's caches
            encoder.embed_text([text], ["text_audio"])
            store.search_text(text)
        for text in texts:
            for mode in modes:  # interleaved, so machine load hits every mode alike
                vectors = QueryVectors(
                    lambda e, t=text: encoder.embed_text([t], [e])[e][0], frozenset({"text"}), available
                )
                began = time.perf_counter()
                hits = hybrid.search(engine, "text", vectors, text, mode, ("audio",), k=args.k)
                whole[mode].append(time.perf_counter() - began)
                if mode == "text":
                    text_hits.append(len(hits))
                cached = QueryVectors(vectors.embed, vectors.parts, available, dict(vectors.cache))
                if mode == "text":
                    cached.cache["text_audio"] = vectors["text_audio"]
                began = time.perf_counter()
                hybrid.search(engine, "text", cached, text, mode, ("audio",), k=args.k)
                engine_only[mode].append(time.perf_counter() - began)
        store.close()
    result = {
        "segments": args.segments,
        "queries": len(texts),
        "text_hits_per_query_mean": round(float(np.mean(text_hits)), 1),
        "whole_query_ms": {m: _percentiles(whole[m]) for m in modes},
        "engine_alone_ms": {m: _percentiles(engine_only[m]) for m in modes},
    }
    result["hybrid_over_vector_p50"] = round(
        result["whole_query_ms"]["hybrid"]["p50"] / result["whole_query_ms"]["vector"]["p50"], 3
    )
    result["goal"] = "hybrid_over_vector_p50 <= 1.2"
    return result


# ------------------------------------------------------------------------------------ duplicates
def drifting_codes(rng: np.random.Generator, count: int, flip: float = 0.15) -> np.ndarray:
    """Codes like real ones: each hop flips a few bits of the last (frames overlap 15/16)."""
    masks = np.packbits(rng.random((count, 32)) < flip, axis=1, bitorder="little").view("<u4").reshape(-1)
    masks[0] = rng.integers(1, 2**32, dtype=np.uint64)
    codes = np.bitwise_xor.accumulate(masks).astype(np.uint32)
    codes[codes == 0] = 1
    return codes


def copy_of(rng: np.random.Generator, codes: np.ndarray) -> tuple[np.ndarray, str]:
    """A transformed copy: trimmed at either end and/or bits flipped as by a lossy codec."""
    kind = rng.choice(["exact", "reencode", "trim", "trim_reencode"])
    out = codes.copy()
    if kind in ("trim", "trim_reencode"):
        start = int(rng.integers(0, 3 * 43))
        end = int(rng.integers(0, 3 * 43))
        out = out[start : max(start + 43, out.size - end)]
    if kind in ("reencode", "trim_reencode"):
        flips = np.packbits(rng.random((out.size, 32)) < rng.uniform(0.01, 0.08), axis=1, bitorder="little")
        out = out ^ flips.view("<u4").reshape(-1)
        out[out == 0] = 1
    return out, str(kind)


def build_duplicate_library(directory: Path, files: int, share: float = 0.05) -> dict:
    identity = ModelIdentity(("bench",), "config", "weights", 16, {})
    store = LibraryStore.open(directory, identity)
    rng = np.random.default_rng(2)
    per_second = 1 / audio_fingerprint.HOP_SECONDS
    durations = np.clip(rng.lognormal(np.log(75.0), 0.6, size=files), 3.0, 600.0)
    originals: list[np.ndarray] = []
    truth: list[int] = []  # recording id of each file
    began = time.perf_counter()
    total_codes = 0
    for first in range(0, files, 500):
        with store.write() as tx:
            for index in range(first, min(files, first + 500)):
                digest = f"h{index}"
                if originals and rng.random() < share:
                    source = int(rng.integers(0, len(originals)))
                    codes, kind = copy_of(rng, originals[source])
                    if kind == "exact":
                        digest = f"h-original-{source}"
                    recording = source
                else:
                    count = int(min(durations[index], audio_fingerprint.MAX_SECONDS) * per_second)
                    codes = drifting_codes(rng, count)
                    recording = len(originals)
                    originals.append(codes)
                    digest = f"h-original-{recording}"
                truth.append(recording)
                media_id = tx.upsert_media(
                    MediaRecord(
                        path=f"/sim/{index:06d}.m4a", size=1, mtime=0.0, content_hash=digest,
                        duration=float(durations[index]), has_audio=True, status="indexed",
                    )
                )  # fmt: skip
                tx.set_audio_fingerprint(media_id, codes, digest, audio_fingerprint.VERSION)
                total_codes += codes.size
    store.close()
    seconds = time.perf_counter() - began
    print(
        f"library: {files} files, {total_codes * 4 / 1e6:.0f} MB of fingerprints, written in {seconds:.0f} s"
    )
    return {"truth": truth, "bytes": total_codes * 4}


def run_duplicates_child(library: str) -> None:
    """In a fresh process, so its peak memory is the command's own."""
    from pe_search.duplicates.groups import find_duplicates

    began = time.perf_counter()
    with LibraryStore.open(library, readonly=True) as store:
        groups = find_duplicates(store, "audio")
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    members = [[int(Path(f.path).stem) for f in g.files] for g in groups]
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "groups": members}))


def run_duplicates(args) -> dict:
    with tempfile.TemporaryDirectory(dir=args.workdir) as directory:
        library = Path(directory) / "lib"
        built = build_duplicate_library(library, args.files)
        child = subprocess.run(
            [sys.executable, __file__, "--part", "duplicates-child", "--library", str(library)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        database_bytes = (library / "library.db").stat().st_size
    truth = built["truth"]
    true_pairs = set()
    by_recording: dict[int, list[int]] = {}
    for index, recording in enumerate(truth):
        by_recording.setdefault(recording, []).append(index)
    for members in by_recording.values():
        true_pairs |= {(a, b) for i, a in enumerate(members) for b in members[i + 1 :]}
    found = {(a, b) for g in measured["groups"] for i, a in enumerate(sorted(g)) for b in sorted(g)[i + 1 :]}
    return {
        "files": args.files,
        "fingerprint_mb": round(built["bytes"] / 1e6, 1),
        "database_mb": round(database_bytes / 1e6, 1),
        "seconds": round(measured["seconds"], 1),
        "peak_rss_mb": round(measured["peak_rss"] / 1e6, 1),
        "groups": len(measured["groups"]),
        "true_pairs": len(true_pairs),
        "recall": round(len(found & true_pairs) / max(1, len(true_pairs)), 4),
        "precision": round(len(found & true_pairs) / max(1, len(found)), 4),
    }


# --------------------------------------------------------------------------------------- quality
def run_quality(args) -> dict:
    from indexer.state import content_hash
    from pe_search.duplicates.audio_fingerprint import fingerprint_file
    from pe_search.duplicates.groups import Member, group_members
    from testkit.duplicate_corpus import evaluate, table, write_corpus

    with tempfile.TemporaryDirectory() as directory:
        files = write_corpus(Path(directory) / "corpus", scenes=4, variants=args.variants)
        began = time.perf_counter()
        members = [
            Member(i, str(f.path), f.kind, content_hash(f.path), fingerprint_file(f.path))
            for i, f in enumerate(files)
        ]
        fingerprint_seconds = time.perf_counter() - began
        groups = []
        for kind in ("audio", "video"):
            positions = [i for i, m in enumerate(members) if m.kind == kind]
            found, _ = group_members([members[i] for i in positions])
            groups += [[files[positions[i]].path for i in g] for g in found]
        results = evaluate(files, groups)
    print(table(results))
    return {
        "files": len(files),
        "fingerprint_seconds": round(fingerprint_seconds, 2),
        "per_transformation": {
            name: {"recall": round(q.recall, 4), "precision": round(q.precision, 4), "pairs": q.true_pairs}
            for name, q in results.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--part", choices=["text", "duplicates", "quality", "duplicates-child"], default="text"
    )
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--workdir", default=None, help="where the simulated library is written")
    parser.add_argument("--variants", type=int, default=4, help="quality: recordings per kind of sound")
    parser.add_argument("--library", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part == "duplicates-child":
        run_duplicates_child(args.library)
        return
    run = {"text": run_text, "duplicates": run_duplicates, "quality": run_quality}[args.part]
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
