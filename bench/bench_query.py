"""Benchmark a text query end to end against text encoding alone.

    .venv/bin/python bench/bench_query.py --segments 100000

Builds a library of `--segments` clip segments (synthetic clustered 1024-d vectors from
bench_vectors, 10 segments per file; bench/segments_library.py, shared with bench_http) through
the store's own write path, so the index type is the one the library picks at that size. The text tower is a real-sized one: ModernBERT with
PE-AV's default text config (22 layers, 1024 wide, random weights) and a PE text head.

Reported in one run, over `--queries` different texts: p50 and p95 latency of text encoding
alone (`PeEncoder.embed_text`), of the whole query (`QueryEngine.search`: text encoding, ANN
search, grouping by file, joining hits to their files in SQLite), and of the engine alone (the
same search with the query vector already computed), and the engine's share of the text
encoding time at p50 (engine alone / text alone). Goal: below 0.5.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from segments_library import build_segments_library  # noqa: E402

from pe_search.media.rate import PE_HOP_SAMPLES, SAMPLE_RATE  # noqa: E402
from pe_search.models import loading  # noqa: E402
from pe_search.models.encoder import CheckpointIdentity, PeEncoder  # noqa: E402
from pe_search.models.identity import ModelIdentity  # noqa: E402
from pe_search.query.engine import QueryEngine, QueryVectors  # noqa: E402
from pe_search.store import LibraryStore  # noqa: E402
from pe_search.toy.tiny import audio_encoder_config, build_tokenizer  # noqa: E402

WORDS = [
    "a",
    "dog",
    "barks",
    "loudly",
    "near",
    "the",
    "water",
    "while",
    "rain",
    "falls",
    "on",
    "a",
    "metal",
    "roof",
    "at",
    "night",
]


def text_encoder() -> PeEncoder:
    from transformers import PeAudioConfig, PeAudioModel

    tokenizer = build_tokenizer(WORDS)
    config = PeAudioConfig(
        text_config={"vocab_size": 50368, "pad_token_id": tokenizer.pad_token_id},  # PE-AV's default tower
        audio_config=audio_encoder_config(32, (2, 8, 10, 12), 4),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        model = PeAudioModel(config).eval()
    identity = CheckpointIdentity("bench", "audio", "", "", 1024)
    return PeEncoder(model, "audio", tokenizer, loading.AudioSettings(SAMPLE_RATE, PE_HOP_SAMPLES), identity)


def build_library(directory: Path, segments: int, per_file: int = 10) -> LibraryStore:
    """The shared segments library under a 1024-d model identity (the text tower above)."""
    identity = ModelIdentity(("bench",), "config", "weights", 1024, {"text_audio": (1.0, 0.0)})
    return build_segments_library(directory, segments, identity, 1024, per_file, 200)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    encoder = text_encoder()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as directory:
        store = build_library(Path(directory) / "lib", args.segments)
        engine = QueryEngine(store)
        available = frozenset(encoder.embeddings)
        status = store.status().spaces["audio"]
        print(f"index: {status.index_type} {status.index_params}")
        for text in texts[:3]:  # warm up
            encoder.embed_text([text], ["text_audio"])
        text_only, whole, engine_only = [], [], []
        for text in texts:
            began = time.perf_counter()
            encoder.embed_text([text], ["text_audio"])
            text_only.append(time.perf_counter() - began)
            began = time.perf_counter()
            vectors = QueryVectors(
                lambda e, t=text: encoder.embed_text([t], [e])[e][0], frozenset({"text"}), available
            )
            hits = engine.search("text", vectors, ("audio",), k=args.k)
            whole.append(time.perf_counter() - began)
            assert len(hits) == args.k
            cached = QueryVectors(vectors.embed, vectors.parts, available, dict(vectors.cache))
            began = time.perf_counter()
            engine.search("text", cached, ("audio",), k=args.k)
            engine_only.append(time.perf_counter() - began)
        store.close()
    text_ms = np.percentile(np.array(text_only) * 1000, [50, 95])
    whole_ms = np.percentile(np.array(whole) * 1000, [50, 95])
    engine_ms = np.percentile(np.array(engine_only) * 1000, [50, 95])
    share = engine_ms[0] / text_ms[0]
    result = {
        "segments": args.segments,
        "text_encoding_ms": {"p50": round(text_ms[0], 1), "p95": round(text_ms[1], 1)},
        "whole_query_ms": {"p50": round(whole_ms[0], 1), "p95": round(whole_ms[1], 1)},
        "engine_alone_ms": {"p50": round(engine_ms[0], 2), "p95": round(engine_ms[1], 2)},
        "engine_share_of_text_p50": round(share, 3),
        "whole_minus_text_over_text_p50": round((whole_ms[0] - text_ms[0]) / text_ms[0], 3),
        "whole_minus_text_over_text_p95": round((whole_ms[1] - text_ms[1]) / text_ms[1], 3),
        "goal": "engine_share_of_text_p50 < 0.5",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
