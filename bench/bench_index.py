"""Benchmark end-to-end indexing against the encoder alone on the same decoded segments.

    .venv/bin/python bench/bench_index.py --minutes 2

Generates a folder of mixed media (tones and noise as audio files, moving shapes with and
without sound as video files) totalling `--minutes` of media, and a checkpoint with a
realistically sized architecture: PE-AV's default audio tower (DAC front end at 48 kHz plus the
6-layer 1792-wide transformer), the default fused audio-video encoder, and PE-Core S/16-384 as
the video tower (the size of pe-av-small's), with random weights; the text tower is tiny
because indexing never runs it. No PE-A-Frame (it would add a second audio tower to both sides
alike).

Reported in one run (encoder alone, pipeline, encoder alone again, so drifting load hits both
sides): media seconds per wall second of `pe-search index` (decode workers,
batching, SQLite + FAISS writes) and of the encoder alone on the already-decoded windows (same
batches), their ratio (goal >= 0.9: decoding, IO and database work hidden behind the encoder),
and the share of the run's wall time that decoding alone takes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Decode workers are spawned processes: each re-imports this script as __mp_main__ before it
# starts, and needs none of the below (the `pe-search` entry script is as light), so they skip
# it rather than pay seconds of imports that the CLI's workers do not.
if __name__ != "__mp_main__":
    from indexer.encode import BatchEncoder
    from indexer.pipeline import run_index
    from indexer.reader import FileJob, FrameChunkPayload, WindowPayload, read_file
    from indexer.settings import IndexSettings
    from indexer.state import content_hash, file_signature
    from indexer.walk import iter_media
    from pe_search.models.model_set import ModelSet
    from pe_search.store import LibraryStore
    from pe_search.toy import tiny
    from testkit import media


def write_checkpoint(path: Path) -> Path:
    """Default-size audio and fused towers, PE-Core S video tower, tiny text tower, random weights."""
    from transformers import PeAudioVideoConfig

    from pe_search.models.pe_classes import PeAudioVideoModelLoadable

    tokenizer = tiny.build_tokenizer()
    config = PeAudioVideoConfig(
        text_config={**tiny.text_config(tokenizer, 1024), "num_hidden_layers": 1, "intermediate_size": 1024},
        audio_video_config={
            "audio_config": {},
            "video_config": {
                "vision_config": {"architecture": "vit_pe_core_small_patch16_384", "num_classes": 1792}
            },
        },
    )
    config.architectures = ["PeAudioVideoModel"]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        model = PeAudioVideoModelLoadable(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    audio, video = tiny.preprocessor_configs(1920, 384)
    (path / "preprocessor_config.json").write_text(json.dumps(audio))
    (path / "video_preprocessor_config.json").write_text(json.dumps(video))
    return path


def write_media(folder: Path, minutes: float, seconds: float = 30.0) -> float:
    """Half audio files, half videos (one of three silent), `seconds` each; returns total seconds."""
    folder.mkdir(parents=True)
    count = max(2, round(minutes * 60 / seconds))
    for index in range(count):
        if index % 2 == 0:
            signal = media.tone(200 + 50 * index, seconds, 44_100) + media.noise(
                seconds, 44_100, 0.05, seed=index
            )
            media.write_audio(folder / f"sound{index:02d}.flac", signal, 44_100)
        else:
            frames = [
                (media.moving_square_frame((4 * j) % 110, 320, 180, 40), j / 25)
                for j in range(int(seconds * 25))
            ]
            audio = None if index % 3 == 0 else media.tone(300 + 20 * index, seconds, 48_000)
            media.write_video(folder / f"scene{index:02d}.mp4", frames, audio=audio)
    return count * seconds


def decode_all(folder: Path, settings: IndexSettings) -> tuple[list[FileJob], list, float]:
    """Every file's windows and chunks, decoded in this process; (jobs, payloads, wall seconds)."""
    jobs = [FileJob(str(c.path), *file_signature(c.path), content_hash(c.path)) for c in iter_media([folder])]
    began = time.perf_counter()
    payloads = [
        p
        for job in jobs
        for p in read_file(job, settings)
        if isinstance(p, (WindowPayload, FrameChunkPayload))
    ]
    return jobs, payloads, time.perf_counter() - began


def warm_up(models: ModelSet, payloads: list, batch_size: int) -> float:
    """Encode one window of each stream mix (the fast path compiles its audio front end on its
    first call), then forget the frames seen; returns the seconds it took."""
    began = time.perf_counter()
    warm = BatchEncoder(models, batch_size)
    windows = [p for p in payloads if isinstance(p, WindowPayload)]
    for kind in {w.kind for w in windows}:
        warm.add(next(w for w in windows if w.kind == kind))
    warm.flush()
    models.clip.forget_frames()
    return time.perf_counter() - began


def compare_plain(args) -> None:
    """Whole `pe-search index` runs on one folder: plain encoder first, then the fast one.

    Each side first encodes one window per stream mix, untimed (the fast side's first call
    compiles its front end: ~20 s cold, a few seconds from inductor's cache); printed apart."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        total = write_media(scratch / "media", args.minutes, args.file_seconds)
        checkpoint = write_checkpoint(scratch / "checkpoint")
        result = {"media_seconds": total, "file_seconds": args.file_seconds}
        for name, fast in (("plain", False), ("fast", True)):
            models = ModelSet.load(checkpoint, fast=fast)
            settings = IndexSettings(frame_preprocessing=models.clip.frame_preprocessing, audio_frames=False)
            warm_s = warm_up(models, decode_all(scratch / "media", settings)[1], args.batch_size)
            began = time.perf_counter()
            with LibraryStore.open(scratch / f"lib-{name}", models.identity()) as store:
                summary = run_index([scratch / "media"], store, models, settings, workers=args.workers,
                                    batch_size=args.batch_size, progress=False)  # fmt: skip
            wall = time.perf_counter() - began
            result[name] = {
                "wall_s": round(wall, 1),
                "media_s_per_s": round(total / wall, 3),
                "segments": summary.segments,
                "indexed_files": summary.files_indexed,
                "warm_up_s": round(warm_s, 1),  # one window per stream mix first, not timed
            }
        result["ratio_fast_to_plain"] = round(result["plain"]["wall_s"] / result["fast"]["wall_s"], 3)
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--no-fast", action="store_true", help="the encoder's plain path (no speed paths)")
    parser.add_argument(
        "--file-seconds", type=float, default=30.0, help="length of each file (> 30: overlapping windows)"
    )
    parser.add_argument(
        "--compare-plain",
        action="store_true",
        help="index the same folder with the plain encoder, then with the fast one; print both and the ratio",
    )
    args = parser.parse_args()
    if args.compare_plain:
        compare_plain(args)
        return
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        total = write_media(scratch / "media", args.minutes, args.file_seconds)
        models = ModelSet.load(write_checkpoint(scratch / "checkpoint"), fast=not args.no_fast)
        settings = IndexSettings(frame_preprocessing=models.clip.frame_preprocessing, audio_frames=False)

        jobs, payloads, decode_wall = decode_all(scratch / "media", settings)

        def encoder_alone() -> float:
            models.clip.forget_frames()  # every run pays for its own vision model work
            encoder = BatchEncoder(models, args.batch_size)
            began = time.perf_counter()
            for payload in payloads:
                encoder.add(payload)
            encoder.flush()
            return time.perf_counter() - began

        # Warm up first, so neither side pays one-off costs the other does not. Then the encoder
        # alone, the pipeline, the encoder alone again: a load that drifts during the run hits
        # both sides alike (the encoder's time is the mean of its two runs).
        warm_up(models, payloads, args.batch_size)
        encoder_walls = [encoder_alone()]
        models.clip.forget_frames()
        began = time.perf_counter()
        with LibraryStore.open(scratch / "lib", models.identity()) as store:
            summary = run_index([scratch / "media"], store, models, settings, workers=args.workers,
                                batch_size=args.batch_size, progress=False)  # fmt: skip
        pipeline_wall = time.perf_counter() - began
        encoder_walls.append(encoder_alone())
        encoder_wall = sum(encoder_walls) / 2
    pipeline_rate = total / pipeline_wall
    encoder_rate = total / encoder_wall
    result = {
        "architecture": "PE-AV default audio tower (DAC at 48 kHz + 6-layer 1792-wide transformer), "
        "default fused encoder, PE-Core S/16-384 video tower, random weights; no frame model",
        "fast": not args.no_fast,
        "media_seconds": total,
        "files": len(jobs),
        "windows": sum(isinstance(p, WindowPayload) for p in payloads),
        "pipeline": {"wall_s": round(pipeline_wall, 1), "media_s_per_s": round(pipeline_rate, 3)},
        "encoder_alone": {
            "wall_s": round(encoder_wall, 1),
            "runs_wall_s": [round(w, 1) for w in encoder_walls],
            "media_s_per_s": round(encoder_rate, 3),
        },
        "ratio_pipeline_to_encoder": round(pipeline_rate / encoder_rate, 3),
        "decode_wall_s": round(decode_wall, 1),
        "decode_share_of_pipeline_wall": round(decode_wall / pipeline_wall, 3),
        "indexed_files": summary.files_indexed,
        "goal": "ratio_pipeline_to_encoder >= 0.9",
    }
    print(json.dumps(result, indent=2))
    np.testing.assert_equal(summary.files_indexed, len(jobs))


if __name__ == "__main__":
    main()
