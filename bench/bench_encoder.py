"""Benchmark the project's encoder against plain transformers on the same windows, in one run.

    .venv/bin/python bench/bench_encoder.py --windows 2 --threads 2

Audio: a default-config `PeAudioModel` (DAC front end at 48 kHz + the 6-layer 1792-wide
transformer, 282 M params; the text tower is cut to one layer because neither side runs it),
random weights re-initialised by `tiny.carry_signal` (with transformers' own initialisation
the DAC outputs ~1e-5 and every window embeds alike, which would make the cosine check
meaningless). Baseline: one 30 s window at a time through `audio_encoder` + `audio_head` in
float32 under `torch.inference_mode()`. Fast: `PeEncoder.embed_audio` with its speed paths
on (the default), all windows in one call as the indexer sends them.

Video: a `PeVideoModel` with the default temporal encoder and, by default, PE-Core S/16-384 as
the vision tower (pe-av-small's size; `--vision large` picks the default PE-Core L/14-336, about
2.7 s per frame here). Baseline: one window of `--frames` frames at a time through
`video_encoder` + `video_head`; fast: `PeEncoder.embed_video` with its default speed paths
(float32 vision model), then again with the opt-in bf16 vision model (`bf16_vision=True`).
Those windows are distinct, so they measure the per-frame work alone. Then the indexer's case:
`--overlapping-windows` windows of one file, each sharing half its frames with the next (the
indexer samples one frame grid per file); the baseline encodes every window's frames, the fast
path (same calls, `--batch-size` windows each) runs each distinct frame through the ViT once.

Baseline and fast path alternate window by window (fast: the same windows as a batch) so
background load hits both alike. Printed: media seconds (audio) or frames (video) per wall
second for both, their ratio, the worst cosine between the two paths' embeddings, and the
achieved arithmetic rate: convolution and matmul FLOPs of one window
(`torch.utils.flop_counter.FlopCounterMode`) times windows over wall time, against the
machine's fp32 peak (bf16 matmuls can go twice as fast) estimated as threads x GHz x `--flops-per-cycle` (32: one 512-bit or two
256-bit FMA pipes per core, AMD Zen 4 / Intel with one AVX-512 FMA unit; 64 for two 512-bit
FMA units). The first fast call (inductor compiling the front end) is timed separately.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pe_search.media.rate import SAMPLE_RATE  # noqa: E402
from pe_search.models.encoder import PeEncoder  # noqa: E402
from pe_search.models.fast_paths import FastAudioFrontEnd, FastVisionModel  # noqa: E402
from pe_search.models.frame_cache import FrameFeatureCache  # noqa: E402
from pe_search.toy import tiny  # noqa: E402

VISION = {"small": ("vit_pe_core_small_patch16_384", 384), "large": ("vit_pe_core_large_patch14_336", 336)}


def _quiet_build(cls, config):
    with contextlib.redirect_stdout(io.StringIO()):  # PeVideoModel prints a docstring lint line
        return cls(config).eval()


def _save_random(path: Path, model_class, config_class, **towers) -> Path:
    """A default-config model with random weights that carry signal, saved with a tiny text tower."""
    tokenizer = tiny.build_tokenizer()
    text = {**tiny.text_config(tokenizer, 1024), "num_hidden_layers": 1, "intermediate_size": 1024}
    config = config_class(text_config=text, **towers)
    config.architectures = [model_class.__name__]
    torch.manual_seed(0)  # the same random model every run
    model = _quiet_build(model_class, config)
    tiny.carry_signal(model)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_audio_checkpoint(path: Path) -> Path:
    from transformers import PeAudioConfig, PeAudioModel

    _save_random(path, PeAudioModel, PeAudioConfig, audio_config={})
    audio, _ = tiny.preprocessor_configs(1920, 384)
    (path / "preprocessor_config.json").write_text(json.dumps(audio))
    return path


def write_video_checkpoint(path: Path, vision: str) -> Path:
    from transformers import PeVideoConfig, PeVideoModel

    architecture, size = VISION[vision]
    vision_config = {"architecture": architecture, "num_classes": 1792}
    _save_random(path, PeVideoModel, PeVideoConfig, video_config={"vision_config": vision_config})
    _, video = tiny.preprocessor_configs(1920, size)
    (path / "video_preprocessor_config.json").write_text(json.dumps(video))
    return path


def audio_windows(count: int, seconds: float) -> list[np.ndarray]:
    """Overlapping 30 s windows (hop = half a window) cut from one synthetic recording."""
    hop = int(seconds * SAMPLE_RATE) // 2
    length = hop * (count + 1)
    rng = np.random.default_rng(0)
    t = np.arange(length) / SAMPLE_RATE
    signal = 0.3 * np.sin(2 * np.pi * (220 + 40 * np.sin(2 * np.pi * 0.1 * t)) * t)
    signal += 0.05 * rng.standard_normal(length) * (1 + np.sin(2 * np.pi * 0.37 * t))
    signal = signal.astype(np.float32)
    return [signal[i * hop : i * hop + 2 * hop] for i in range(count)]


def video_windows(count: int, frames: int, size: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    clips = []
    for index in range(count):
        clip = torch.rand(frames, 3, size, size, generator=generator) * 2 - 1
        clip[:, index % 3, : size // 2] = 0.8
        clips.append(clip)
    return clips


def overlapping_video_windows(count: int, frames: int, size: int) -> list[torch.Tensor]:
    """`count` windows of `frames` frames every `frames // 2` frames, cut from one file's frames
    (what the indexer's per-file frame grid gives for 30 s windows every 15 s)."""
    hop = frames // 2
    generator = torch.Generator().manual_seed(1)
    file_frames = torch.rand(hop * (count - 1) + frames, 3, size, size, generator=generator) * 2 - 1
    for index in range(file_frames.shape[0]):  # a bright band that moves: every frame distinct
        file_frames[index, index % 3, (index * 7) % size] = 0.8
    return [file_frames[i * hop : i * hop + frames] for i in range(count)]


def machine_peak(threads: int, flops_per_cycle: int) -> tuple[float, float]:
    """(GHz, peak GFLOP/s fp32) from lscpu: max MHz, else the model name's GHz, else BogoMIPS / 2."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    ghz = None
    if match := re.search(r"CPU max MHz:\s*([\d.]+)", text):
        ghz = float(match.group(1)) / 1000
    elif match := re.search(r"Model name:.*@\s*([\d.]+)\s*GHz", text):
        ghz = float(match.group(1))
    elif match := re.search(r"BogoMIPS:\s*([\d.]+)", text):
        ghz = float(match.group(1)) / 2000
    ghz = ghz or 2.0
    return ghz, threads * ghz * flops_per_cycle


def count_flops(model: torch.nn.Module, run) -> int:
    """Convolution and matmul FLOPs of `run()` (the module tracker needs no parameter to want grads)."""
    from torch.utils.flop_counter import FlopCounterMode

    wanted = [p for p in model.parameters() if p.requires_grad]
    for parameter in wanted:
        parameter.requires_grad_(False)
    try:
        with FlopCounterMode(display=False) as counter:
            run()
    finally:
        for parameter in wanted:
            parameter.requires_grad_(True)
    return int(counter.get_total_flops())


def cosine_worst(ours: np.ndarray, theirs: np.ndarray) -> float:
    ours, theirs = ours.astype(np.float64), theirs.astype(np.float64)
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    return float(cos.min())


def compare(
    name, units, unit_name, baseline_one, fast_batch, inputs, per_window_flops, peak, batch, reset=None
):
    """Alternate baseline (one window at a time) and fast (`batch` windows per call).

    `reset()` runs after the fast path's warm-up call (to empty caches the warm-up filled)."""
    warm = time.perf_counter()
    fast_batch(inputs[:1])
    first_call = time.perf_counter() - warm
    if reset is not None:
        reset()
    base_time = fast_time = 0.0
    base_vectors, fast_vectors = [], []
    for start in range(0, len(inputs), batch):
        group = inputs[start : start + batch]
        began = time.perf_counter()
        base_vectors += [baseline_one(x) for x in group]
        base_time += time.perf_counter() - began
        began = time.perf_counter()
        fast_vectors.append(fast_batch(group))
        fast_time += time.perf_counter() - began
    base = np.stack(base_vectors)
    fast = np.concatenate(fast_vectors)
    total_flops = per_window_flops * len(inputs)
    result = {
        "windows": len(inputs),
        f"{unit_name}_per_window": units / len(inputs),
        "baseline": {"wall_s": round(base_time, 2), f"{unit_name}_per_s": round(units / base_time, 3)},
        "fast": {"wall_s": round(fast_time, 2), f"{unit_name}_per_s": round(units / fast_time, 3)},
        "ratio": round(base_time / fast_time, 3),
        "worst_cosine": round(cosine_worst(fast, base), 7),
        "max_abs_diff": float(np.abs(fast - base).max()),
        "gflop_per_window": round(per_window_flops / 1e9, 1),
        "gflop_per_s": {
            "baseline": round(total_flops / base_time / 1e9, 1),
            "fast": round(total_flops / fast_time / 1e9, 1),
        },
        "share_of_peak": {
            "baseline": round(total_flops / base_time / 1e9 / peak, 3),
            "fast": round(total_flops / fast_time / 1e9 / peak, 3),
        },
        "fast_first_call_s": round(first_call, 1),
    }
    print(
        f"{name}: baseline {units / base_time:.3f} {unit_name}/s, fast {units / fast_time:.3f} {unit_name}/s, "
        f"ratio {result['ratio']:.2f}x, worst cosine {result['worst_cosine']:.7f}, "
        f"GFLOP/s {result['gflop_per_s']['baseline']} -> {result['gflop_per_s']['fast']} "
        f"(peak {peak:.0f})",
        file=sys.stderr,
    )
    return result


def bench_audio(scratch: Path, args, peak: float) -> dict:
    encoder = PeEncoder.from_pretrained(write_audio_checkpoint(scratch / "audio"), batch_size=args.batch_size)
    model = encoder.model
    windows = audio_windows(args.windows, args.seconds)

    def baseline_one(clip: np.ndarray) -> np.ndarray:
        values = encoder.audio_inputs(clip)[None, None]
        with torch.inference_mode():
            pooled = model.audio_encoder(input_values=values).pooler_output
            return model.audio_head(pooled)[0].float().numpy()

    with torch.inference_mode():
        flops = count_flops(model, lambda: baseline_one(windows[0]))
    result = compare(
        "audio", args.windows * args.seconds, "media_s", baseline_one, encoder.embed_audio,
        windows, flops, peak, args.batch_size,
    )  # fmt: skip
    front_end = encoder.audio_front_end(encoder.audio_tower)
    result["fast_front_end"] = (
        ("compiled" if front_end.compiled is not None else "eager") + " channels-last DAC"
        if isinstance(front_end, FastAudioFrontEnd)
        else "plain"
    )
    return result


def bench_video(scratch: Path, args, peak: float, bf16_vision: bool, overlapping: bool = False) -> dict:
    """Distinct windows (the per-frame work alone), or overlapping windows of one file (the
    indexer's case: the fast path runs each shared frame through the ViT once)."""
    size = VISION[args.vision][1]
    checkpoint = scratch / "video"
    if not checkpoint.is_dir():
        write_video_checkpoint(checkpoint, args.vision)
    encoder = PeEncoder.from_pretrained(checkpoint, batch_size=args.batch_size, bf16_vision=bf16_vision)
    model = encoder.model
    if overlapping:
        clips = overlapping_video_windows(args.overlapping_windows, args.frames, size)
    else:
        clips = video_windows(args.video_windows, args.frames, size)

    def baseline_one(clip: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            pooled = model.video_encoder(pixel_values_videos=clip[None]).pooler_output
            return model.video_head(pooled)[0].float().numpy()

    with torch.inference_mode():
        flops = count_flops(model, lambda: baseline_one(clips[0]))
    name = "video, overlapping windows of one file" if overlapping else "video"
    name += " (bf16 vision, opt-in)" if bf16_vision else ""
    cache = encoder.frame_cache(encoder.video_tower)
    result = compare(
        name, len(clips) * args.frames, "frames", baseline_one, encoder.embed_video, clips, flops, peak,
        args.batch_size, reset=cache.clear,
    )  # fmt: skip
    result["vision_tower"] = VISION[args.vision][0]
    result["distinct_frames"] = len({FrameFeatureCache.key(f) for clip in clips for f in clip})
    result["fast_vision_runs"] = cache.misses  # frames the fast side ran through the ViT
    if overlapping:
        result["note"] = (
            "frames counts window frames (what the baseline encodes); gflop_per_s is "
            "baseline-equivalent work over wall time, the fast side computes distinct frames only"
        )
    vision = encoder.vision_model(encoder.video_tower)
    result["fast_vision_precision"] = "bf16 autocast" if isinstance(vision, FastVisionModel) else "float32"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=2, help="30 s audio windows (overlapping by half)")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio window length")
    parser.add_argument("--video-windows", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16, help="frames per video window")
    parser.add_argument(
        "--overlapping-windows",
        type=int,
        default=8,
        help="video windows of one file, each sharing half its frames with the next (0: skip)",
    )
    parser.add_argument("--vision", choices=sorted(VISION), default="small")
    parser.add_argument("--batch-size", type=int, default=2, help="windows per fast call")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--flops-per-cycle", type=int, default=32, help="fp32 FLOPs per cycle per core")
    parser.add_argument("--only", choices=("audio", "video"), default=None)
    parser.add_argument(
        "--no-bf16-vision", action="store_true", help="skip the run with the opt-in bf16 vision model"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    ghz, peak = machine_peak(threads, args.flops_per_cycle)
    result = {
        "threads": threads,
        "peak_gflop_per_s": {"value": round(peak, 1), "assumption": f"{threads} x {ghz:.2f} GHz x "
                             f"{args.flops_per_cycle} fp32 FLOP/cycle"},
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        if args.only in (None, "audio"):
            result["audio"] = bench_audio(Path(scratch), args, peak)
            result["audio"]["goal"] = "ratio >= 2.0, worst_cosine >= 0.9999"
        if args.only in (None, "video"):
            result["video"] = bench_video(Path(scratch), args, peak, bf16_vision=False)
            result["video"]["goal"] = "ratio >= 1.5, worst_cosine >= 0.9999"
            if args.overlapping_windows:
                result["video_overlapping"] = bench_video(Path(scratch), args, peak, False, overlapping=True)
                result["video_overlapping"]["goal"] = "ratio >= 1.5, worst_cosine >= 0.9999"
            if not args.no_bf16_vision:
                result["video_bf16_vision"] = bench_video(Path(scratch), args, peak, bf16_vision=True)
                result["video_bf16_vision"]["goal"] = "ratio >= 1.5, worst_cosine >= 0.9999"
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
