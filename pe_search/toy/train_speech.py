"""Train the toy speech model (a tiny Whisper) on espeak-ng speech of the toy vocabulary.

    python -m pe_search.toy.train_speech            # into pe_search/toy/checkpoints/whisper-toy
    python -m pe_search.toy.train_speech --out DIR --steps 20 --eval 2   # smoke

Seeded; one torch thread by default (a shared 2-core machine). Prints held-out numbers measured
through transformers' own ASR pipeline (`return_timestamps="word"`, `chunk_length_s=30`).
Not accurate yet at the default budget (docs/toy-models.md, "Where it stands"), so nothing is
shipped in `checkpoints/whisper-toy`.

How, and why:

- Targets are Whisper's timestamped form: `<|sot|><|en|><|transcribe|><|0.00|>` then
  `<|nospeech|>` (see `speech_model.LEAD_TOKEN`), the words, the end timestamp, `<|endoftext|>`.
- transformers times words from the cross-attention of `alignment_heads` by DTW: the decoder row
  that predicts a token must look at that token's audio. So besides cross-entropy, the alignment
  heads get a loss pulling each row's attention into the frames of the word it predicts (a word
  owns the frames from the middle of the gap before it to the middle of the gap after it; the
  quiet before the first word belongs to the lead marker, the quiet after the last to the end
  timestamp, the padding to `<|endoftext|>`). The DTW's first row always starts at 0.0, which is
  why the lead marker is there: its row takes the leading quiet.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from pe_search.toy import TOY_DIR, speech, speech_eval
from pe_search.toy import speech_model as sm

log = logging.getLogger(__name__)

WHISPER_TOY_DIR = TOY_DIR / "whisper-toy"
FRAME = 0.02  # seconds per encoder position
FRAMES = 1500


def sequence(
    utt: speech.Utterance, tok, frames: int = FRAMES
) -> tuple[list[int], list[tuple[int, int] | None]]:
    """Decoder tokens (prompt .. <|endoftext|>) and, per decoder row, the frames it should look at.

    Row p reads token p and predicts token p + 1; rows of the prompt get no target.
    """
    ids = tok.convert_tokens_to_ids
    words = utt.words
    end = min(round(words[-1].end / FRAME), frames)
    tokens = [ids("<|startoftranscript|>"), ids("<|en|>"), ids("<|transcribe|>"), ids("<|0.00|>")]
    tokens.append(ids(sm.LEAD_TOKEN))
    tokens += [tok.encode(" " + w.text, add_special_tokens=False)[0] for w in words]
    tokens += [ids(f"<|{end * FRAME:.2f}|>"), ids("<|endoftext|>")]

    def f(t: float) -> int:
        return min(max(round(t / FRAME), 0), frames - 1)

    bounds = [f(words[0].start)]
    bounds += [f((a.end + b.start) / 2) for a, b in zip(words, words[1:])]
    bounds += [f(words[-1].end), f(utt.duration), frames]
    regions: list[tuple[int, int] | None] = [None, None, None]
    regions.append((0, max(bounds[0], 1)))  # reads <|0.00|>, predicts the lead marker
    for a, b in zip(bounds, bounds[1:]):
        regions.append((a, max(b, a + 1)))  # each word, then the tail quiet, then the padding
    assert len(regions) == len(tokens) - 1
    return tokens, regions


def batch(utts: list[speech.Utterance], extractor, tok, rng: np.random.Generator):
    """Log-mel features (random gain) padded to the extractor's window, decoder inputs, labels, frame masks."""
    feats = extractor(
        [u.audio * float(rng.uniform(0.3, 1.5)) for u in utts],
        sampling_rate=speech.SAMPLE_RATE,
        return_tensors="pt",
    ).input_features
    frames = feats.shape[-1] // 2
    seqs = [sequence(u, tok, frames) for u in utts]
    longest = max(len(t) for t, _ in seqs)
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    inputs = torch.full((len(utts), longest - 1), pad)
    labels = torch.full((len(utts), longest - 1), -100)
    mask = torch.zeros(len(utts), longest - 1, frames)
    for i, (t, regions) in enumerate(seqs):
        inputs[i, : len(t) - 1] = torch.tensor(t[:-1])
        labels[i, : len(t) - 1] = torch.tensor(t[1:])
        for p, r in enumerate(regions):
            if r is not None:
                mask[i, p, r[0] : r[1]] = 1.0
    return feats, inputs, labels, mask


def use_eager_decoder(model) -> None:
    """Eager attention (which returns weights) in the decoder, SDPA in the encoder.

    The model-wide setting is eager, so the decoder builds the causal mask eager attention needs
    (under an SDPA setting it builds none and relies on SDPA's own causal flag: eager layers would
    then see the future, and a teacher-forced loss would look fine while generation fails).
    """
    import copy

    sdpa = copy.copy(model.config)
    sdpa._attn_implementation = "sdpa"
    model.config._attn_implementation = "eager"
    for layer in model.model.encoder.layers:
        layer.self_attn.config = sdpa


def set_window(model, seconds: int) -> None:
    """Train on `seconds`-long windows: the encoder's (fixed, sinusoidal) positions cut to fit.

    Short windows cost a fraction of the 30 s ones (the encoder's attention is quadratic); the
    last steps train on full 30 s windows, as the pipeline uses them.
    """
    encoder = model.model.encoder
    positions = seconds * 50
    if not hasattr(encoder, "_all_positions"):
        encoder._all_positions = encoder.embed_positions.weight.detach().clone()
    encoder.embed_positions = torch.nn.Embedding.from_pretrained(
        encoder._all_positions[:positions], freeze=True
    )
    model.config.max_source_positions = positions


def train(
    out: Path,
    steps: int,
    batch_size: int,
    seed: int,
    lr: float,
    align_weight: float,
    n_voices: int,
    short_share: float,
    long_every: int,
    init: Path | None = None,
) -> None:
    rng = np.random.default_rng(seed)
    model, processor = sm.build(seed) if init is None else sm.load(init)
    tok = processor.tokenizer
    use_eager_decoder(model)
    t0 = time.time()
    bank = speech.WordBank(speech.voices(rng, n_voices))
    log.info("word bank: %d voices x %d words in %.0f s", n_voices, len(bank.vocabulary), time.time() - t0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(steps // 20, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    )
    layer = sm.ALIGNMENT_HEADS[0][0]
    heads = [h for _, h in sm.ALIGNMENT_HEADS]
    model.train()
    t0 = time.time()
    short = sm.WhisperFeatureExtractor(feature_size=80, chunk_length=10)
    set_window(model, 10)
    for step in range(steps):
        long = step >= short_share * steps or step % long_every == long_every - 1
        set_window(model, 30 if long else 10)
        extractor, seconds = (processor.feature_extractor, 28.0) if long else (short, 10.0)
        utts = [speech.utterance(rng, bank, max_seconds=seconds) for _ in range(batch_size)]
        feats, inputs, labels, mask = batch(utts, extractor, tok, rng)
        outputs = model(input_features=feats, decoder_input_ids=inputs, labels=labels, output_attentions=True)
        attn = outputs.cross_attentions[layer][:, heads]  # (B, H, T, F)
        inside = (attn * mask[:, None]).sum(-1)  # (B, H, T)
        rows = mask.sum(-1) > 0
        align = -(torch.log(inside + 1e-6) * rows[:, None]).sum() / (rows.sum() * len(heads))
        loss = outputs.loss + align_weight * align
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == steps - 1:
            log.info(
                "step %d/%d ce %.3f align %.3f (%.0f s)",
                step,
                steps,
                outputs.loss.item(),
                align.item(),
                time.time() - t0,
            )
        if step and step % 200 == 0:
            set_window(model, 30)
            sm.save(model, processor, out)
    set_window(model, 30)
    model.eval()
    model.config._attn_implementation = "sdpa"
    model.generation_config.return_timestamps = False
    sm.save(model, processor, out)
    log.info("trained in %.1f min; saved to %s", (time.time() - t0) / 60, out)


def held_out(seed: int, count: int, n_voices: int = 8, max_seconds: float = 28.0) -> list[speech.Utterance]:
    """Fresh utterances in voices (pitch/speed) the training never used."""
    rng = np.random.default_rng(seed)
    bank = speech.WordBank(speech.voices(rng, n_voices, held_out=True))
    return [speech.utterance(rng, bank, max_seconds=max_seconds) for _ in range(count)]


def evaluate(model_dir: Path, utts: list[speech.Utterance]) -> speech_eval.Score:
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(model_dir), device="cpu")
    total = speech_eval.Score(0, 0, 0, [], [])
    for u in utts:
        out = asr(
            {"raw": u.audio, "sampling_rate": speech.SAMPLE_RATE}, return_timestamps="word", chunk_length_s=30
        )
        total = total + speech_eval.score(u.words, speech_eval.heard(out["chunks"]))
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WHISPER_TOY_DIR)
    parser.add_argument("--steps", type=int, default=1100)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--align-weight", type=float, default=1.0)
    parser.add_argument("--voices", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--short-share", type=float, default=0.9, help="share of steps that may use 10 s windows"
    )
    parser.add_argument("--long-every", type=int, default=4, help="of those, every Nth uses a 30 s window")
    parser.add_argument("--init", type=Path, help="go on training this checkpoint (a fresh schedule)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval", type=int, default=20, help="held-out utterances to score (0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    train(
        args.out,
        args.steps,
        args.batch,
        args.seed,
        args.lr,
        args.align_weight,
        args.voices,
        args.short_share,
        args.long_every,
        args.init,
    )
    if args.eval:
        s = evaluate(args.out, held_out(args.seed + 1000, args.eval))
        print(
            f"held-out: {s.words} words, WER {s.wer:.3f}, timed within 100 ms {s.timed_share:.3f}, "
            f"median start error {np.median(s.start_errors or [0]) * 1000:.0f} ms, "
            f"median end error {np.median(s.end_errors or [0]) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
