"""Train the shipped toy PE-AV and PE-A-Frame checkpoints on generated media.

    python -m pe_search.toy.train                  # both, into pe_search/toy/checkpoints (~17 min)
    python -m pe_search.toy.train --out DIR --steps 20 --frame-steps 20 --pool 2 --no-validate  # smoke

Writes `DIR/pe-av-toy` (`PeAudioVideoModel`) and `DIR/pe-a-frame-toy` (`PeAudioFrameLevelModel`)
in the Hugging Face layout and prints held-out validation numbers measured through `PeEncoder`.
Seeded: the same command on the same machine (same `--threads`) writes the same checkpoints.
It runs torch on one thread by default: on a shared 2-core machine two threads fight the other
processes and run several times slower; `--threads 2` on an idle machine is faster.

How it trains, and why:

- The models are the real transformers classes at tiny sizes with the real audio front-end
  settings (48 kHz, 1920-sample hop). The DAC front end, which `forward()` runs frozen, gets the
  designed band-energy weights of `front_end.design` and stays frozen; so its outputs for a pool
  of generated clips are computed once, and training runs everything after it with gradients.
  Random crops of the pooled features (1-30 s, log-uniform: the indexer's windows are 30 s)
  give variable lengths; video clips get 2-48 frames spread over the same window.
- The loss is the sigmoid loss on the model's own logits (`dot * scale + bias`) with +1/-1
  labels, +1 wherever the two sides' classes match. (`forward(return_loss=True)` uses 0/1
  labels, which never pushes negatives apart.) Scale and bias start at 10 and -10.
- PE-AV learns every space at once: text-audio, text-video, text-audio+video, audio-video,
  audio+text -> video and video+text -> audio. Sounds and pictures come as scenes (a flash with
  a click, a growing circle with a rising chirp, ...), so the audio-video space has pairs. The
  text-video space also sees pictures of all 48 colour x shape x motion combinations, so the
  vision tower must learn each attribute (otherwise only colour and motion would ever matter).
  Embeddings are computed by the towers' submodules in the order `forward()` runs them; the
  fused encoder's towers stay tied to the audio and video models'.
- PE-A-Frame learns per-frame targets: for each class's caption, the 40 ms frames where that
  class sounds are positive (weighted x2, they are rare), all others negative.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pe_search.models.video_preprocessing import FramePreprocessing
from pe_search.toy import TOY_DIR, synth, tiny
from pe_search.toy.train_data import (
    PoolClip,
    crop,
    degrade,
    event_pool,
    log_uniform,
    picture_frames,
    scene_pool,
)
from pe_search.toy.train_model import (
    FRAME_SECONDS,
    HOP,
    Settings,
    audio_states,
    build_model,
    build_tokenizer,
    freeze_front_end,
    fused_state,
    optimizer_for,
    space_loss,
    text_states,
    video_states,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ training


def train_audio_video(model, tokenizer, settings: Settings, progress: Callable[[str], None]) -> None:
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    freeze_front_end(model)
    started = time.monotonic()
    pool = scene_pool(model.audio_model.audio_encoder.embedder, settings, rng)
    progress(f"PE-AV: pooled front-end features of {len(pool)} clips in {time.monotonic() - started:.0f} s")
    by_label: dict[int, list[PoolClip]] = {}
    for clip in pool:
        by_label.setdefault(clip.label, []).append(clip)
    scenes = list(synth.SCENES)
    sound_names = [synth.SCENES[s].sound for s in scenes]
    picture_names = [synth.SCENES[s].picture for s in scenes]
    all_pictures = list(synth.ALL_PICTURES)
    preprocess = FramePreprocessing.from_config(tiny.preprocessor_configs(HOP, settings.image_size)[1])
    optimizer, schedule = optimizer_for(model, settings, settings.steps)
    model.train()
    audio_encoder, video_encoder = model.audio_model.audio_encoder, model.video_model.video_encoder
    running: dict[str, float] = {}
    for step in range(settings.steps):
        labels = np.resize(rng.permutation(len(scenes)), settings.batch)
        extra = [all_pictures[i] for i in rng.integers(len(all_pictures), size=settings.picture_batch)]
        frames = round(log_uniform(rng, settings.min_seconds, settings.max_seconds) / FRAME_SECONDS)
        n_video = int(log_uniform(rng, settings.min_frames, settings.max_frames + 1))
        size = int(rng.choice([48, 56, 64, 80, 96]))
        features, videos = [], []
        for label in labels:
            clip = by_label[label][int(rng.integers(len(by_label[label])))]
            piece, offset = crop(clip, frames, rng)
            piece = piece * float(rng.uniform(0.3, 2.0))  # level: energies scale with the square
            features.append(piece)
            seconds = piece.shape[1] * FRAME_SECONDS
            onsets = [t - offset * FRAME_SECONDS for t in clip.onsets]
            onsets = [t for t in onsets if 0 <= t < seconds]
            video = degrade(picture_frames(picture_names[label], seconds, onsets, n_video, size, rng), rng)
            videos.append(preprocess(video))
        for picture in extra:
            seconds = frames * FRAME_SECONDS
            videos.append(preprocess(degrade(picture_frames(picture, seconds, [], n_video, size, rng), rng)))
        width = min(f.shape[1] for f in features)
        audio_class, audio_frames = audio_states(audio_encoder, torch.stack([f[:, :width] for f in features]))
        all_video_class, all_video_frames = video_states(video_encoder, torch.stack(videos))
        video_class, video_frames = all_video_class[: settings.batch], all_video_frames[: settings.batch]
        fused = fused_state(model, audio_frames, video_frames)
        pictures = [picture_names[k] for k in labels] + extra
        texts = [synth.caption(sound_names[k], rng) for k in labels]
        texts += [synth.caption(scenes[k], rng) for k in labels]
        texts += [synth.caption(p, rng) for p in pictures]
        text = text_states(model, tokenizer, texts).split([settings.batch, settings.batch, len(pictures)])
        same = torch.from_numpy(labels[:, None] == labels[None, :])
        same_picture = torch.tensor([[a == b for b in pictures] for a in pictures])
        audio = model.audio_model.audio_head(audio_class)
        all_video = model.video_model.video_head(all_video_class)
        video = all_video[: settings.batch]
        losses = {
            "text-audio": space_loss(
                model.audio_model.text_audio_head(text[0]), audio, model.audio_model, "text_audio", same
            ),
            "text-video": space_loss(
                model.video_model.text_video_head(text[2]),
                all_video,
                model.video_model,
                "text_video",
                same_picture,
            ),
            "text-av": space_loss(
                model.text_audio_video_head(text[1]),
                model.audio_video_head(fused),
                model,
                "text_audio_video",
                same,
            ),
            "audio-video": space_loss(audio, video, model, "audio_video", same),
            "audio+text": space_loss(
                model.audio_plus_text_head(torch.cat([audio_class, text[2][: settings.batch]], -1)),
                video,
                model,
                "audio_plus_text",
                same,
            ),
            "video+text": space_loss(
                model.video_plus_text_head(torch.cat([video_class, text[0]], -1)),
                audio,
                model,
                "video_plus_text",
                same,
            ),
        }
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        for key, value in losses.items():
            running[key] = 0.9 * running.get(key, value.item()) + 0.1 * value.item()
        if (step + 1) % 50 == 0 or step + 1 == settings.steps or step == 1:
            parts = " ".join(f"{k} {v:.2f}" for k, v in running.items())
            progress(f"PE-AV step {step + 1}/{settings.steps} ({time.monotonic() - started:.0f} s): {parts}")
    model.eval()


def train_audio_frame(model, tokenizer, settings: Settings, progress: Callable[[str], None]) -> None:
    rng = np.random.default_rng(settings.seed + 1)
    torch.manual_seed(settings.seed + 1)
    freeze_front_end(model)
    started = time.monotonic()
    pool = event_pool(model.audio_encoder.embedder, settings, rng)
    progress(
        f"PE-A-Frame: pooled front-end features of {len(pool)} clips in {time.monotonic() - started:.0f} s"
    )
    names = list(synth.SOUNDS)
    optimizer, schedule = optimizer_for(model, settings, settings.frame_steps)
    model.train()
    running = None
    for step in range(settings.frame_steps):
        frames = round(log_uniform(rng, 2.0, settings.max_seconds) / FRAME_SECONDS)
        features, classes = [], []
        for index in rng.integers(len(pool), size=settings.frame_batch):
            clip = pool[int(index)]
            piece, offset = crop(clip, frames, rng)
            features.append(piece * float(rng.uniform(0.3, 2.0)))
            classes.append(clip.frame_classes[offset : offset + piece.shape[1]])
        width = min(f.shape[1] for f in features)
        _, states = audio_states(model.audio_encoder, torch.stack([f[:, :width] for f in features]))
        audio = model.audio_head(states)  # (B, T, D)
        text = model.text_audio_head(text_states(model, tokenizer, [synth.caption(n, rng) for n in names]))
        dots = torch.einsum("btd,kd->bkt", audio, text)
        logits = dots * model.text_audio_logit_scale + model.text_audio_logit_bias
        target = torch.from_numpy(np.stack([c[:width] for c in classes]))  # (B, T)
        positive = target[:, None, :] == torch.arange(len(names))[None, :, None]
        labels = positive.float() * 2 - 1
        # Event frames are rare next to the others: weigh them up so an event's probability
        # stays above the threshold all through it instead of dipping.
        weights = 1.0 + positive.float() * (settings.frame_positive_weight - 1.0)
        loss = -(weights * F.logsigmoid(labels * logits)).mean() * len(names)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if (step + 1) % 50 == 0 or step + 1 == settings.frame_steps:
            progress(
                f"PE-A-Frame step {step + 1}/{settings.frame_steps} ({time.monotonic() - started:.0f} s): "
                f"frame loss {running:.3f}"
            )
    model.eval()


# ------------------------------------------------------------------------------------------- saving


def save(model: nn.Module, tokenizer, directory: Path, kind: str, settings: Settings) -> Path:
    """The checkpoint in the hub layout, loadable by `PeEncoder.from_pretrained(directory)`."""
    directory.mkdir(parents=True, exist_ok=True)
    model.config.architectures = ["PeAudioVideoModel" if kind == "audio_video" else "PeAudioFrameLevelModel"]
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.save_pretrained(directory)
    if kind == "audio_video":
        # transformers writes the vision tower's width as `num_classes` / `label_names`, which
        # loading does not read back (it would rebuild a 2-wide head); `num_labels` it reads.
        path = directory / "config.json"
        config = json.loads(path.read_text())
        config["audio_video_config"]["video_config"]["vision_config"]["num_labels"] = settings.hidden
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tokenizer.save_pretrained(directory)
    audio, video = tiny.preprocessor_configs(HOP, settings.image_size)
    (directory / "preprocessor_config.json").write_text(json.dumps(audio, indent=2) + "\n")
    if kind == "audio_video":
        (directory / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2) + "\n")
    for file in directory.iterdir():
        file.chmod(0o644)  # safetensors writes 0600
    return directory


def validate(kind: str, directory: Path) -> dict[str, dict[str, float]]:
    """Held-out numbers through `PeEncoder` (see `evaluate`): short clips with 8 fps video, and
    windows as long as the indexer's (20-30 s) with 16 frames spread over them."""
    from pe_search.models.encoder import PeEncoder
    from pe_search.toy import evaluate

    encoder = PeEncoder.from_pretrained(directory)
    if kind == "audio_video":
        return {
            "2-12 s, 8 fps": evaluate.evaluate_audio_video(encoder, 3, seconds=(2.0, 12.0), fps=8.0),
            "20-30 s, 16 frames": evaluate.evaluate_audio_video(
                encoder, 2, evaluate.HELDOUT_SEED + 10, seconds=(20.0, 30.0), frames=16
            ),
        }
    return {
        "events in 4-12 s": evaluate.evaluate_audio_frame(encoder, 20, seconds=(4.0, 12.0)),
        "events in 20-30 s": evaluate.evaluate_audio_frame(
            encoder, 20, evaluate.HELDOUT_SEED + 10, seconds=(20.0, 30.0)
        ),
    }


def train(out: Path, settings: Settings, progress: Callable[[str], None] = log.info) -> dict[str, dict]:
    """Train, save and (unless settings.validate is off) validate both toy models under `out`."""
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    tokenizer = build_tokenizer()
    results: dict[str, dict] = {}
    for kind, name, run in (
        ("audio_video", "pe-av-toy", train_audio_video),
        ("audio_frame", "pe-a-frame-toy", train_audio_frame),
    ):
        if settings.only not in (None, kind):
            continue
        started = time.monotonic()
        model = build_model(kind, tokenizer, settings)
        run(model, tokenizer, settings, progress)
        directory = save(model, tokenizer, out / name, kind, settings)
        progress(f"{name}: trained in {time.monotonic() - started:.0f} s, saved to {directory}")
        if settings.validate:
            results[name] = validate(kind, directory)
            for label, numbers in results[name].items():
                progress(f"{name} held-out validation, {label}: " + json.dumps(numbers, indent=1))
    return results


def main(argv: list[str] | None = None) -> None:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=TOY_DIR, help=f"where to write (default {TOY_DIR})")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="PE-AV optimisation steps")
    parser.add_argument("--frame-steps", type=int, default=defaults.frame_steps, help="PE-A-Frame steps")
    parser.add_argument("--pool", type=int, default=defaults.pool, help="PE-AV pool clips per class")
    parser.add_argument("--frame-pool", type=int, default=defaults.frame_pool, help="PE-A-Frame pool clips")
    parser.add_argument(
        "--max-seconds", type=float, default=defaults.max_seconds, help="longest training clip (s)"
    )
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    parser.add_argument("--no-validate", action="store_true", help="skip the held-out validation")
    parser.add_argument("--only", choices=["audio_video", "audio_frame"], help="train just one of the two")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings(
        seed=args.seed,
        steps=args.steps,
        frame_steps=args.frame_steps,
        pool=args.pool,
        frame_pool=args.frame_pool,
        max_seconds=args.max_seconds,
        threads=args.threads,
        validate=not args.no_validate,
        only=args.only,
    )
    started = time.monotonic()
    log.info("settings: %s", json.dumps(asdict(settings)))
    train(args.out, settings)
    log.info("done in %.0f s", time.monotonic() - started)


if __name__ == "__main__":
    main()
