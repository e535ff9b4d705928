"""Train the toy speech model (a tiny Whisper) on espeak-ng speech of the toy vocabulary.

    python -m pe_search.toy.train_speech --out DRAFT                  # the curriculum (4 s, 10 s, 30 s)
    python -m pe_search.toy.train_speech --start DRAFT --out PHRASES1 --phrases 600 --only-phrases --lr 5e-4
    python -m pe_search.toy.train_speech --start PHRASES1 --out PHRASES2 --phrases 600 --only-phrases --lr 2e-4 --seed 1
    python -m pe_search.toy.train_speech --start PHRASES2 --phrases 800 --only-phrases --lr 3e-4 --seed 2
    python -m pe_search.toy.train_speech --out DIR --scale 0.05 --eval 2   # smoke

(the last phrase run writes the shipped `checkpoints/whisper-toy`; docs/toy-models.md has the
figures of each).

Seeded, one torch thread by default (a shared 2-core machine). Prints held-out numbers measured
as indexing hears speech (the speech gate's pieces through transformers' own ASR pipeline,
`return_timestamps="word"`, `chunk_length_s=30`) and keeps the best checkpoint it measured.

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
- Two more losses guide it: an acoustic one (a linear head, never saved, names each word from the
  encoder's output averaged over the word's frames: without it a first run learnt the captions'
  language, not the sounds) and one pulling a first-layer head onto the token each row reads.
- Log-mel features are computed once per utterance of a seeded pool (cached, float16), not per
  step. Whisper's features of a shorter window are the first frames of the 30 s window's (the
  padding is digital zero, whose log-mel is clamped to the utterance's maximum minus 8), so one
  pool serves every window, and a gain change is a constant added to every value.
- A curriculum of windows: the encoder's attention is quadratic in its positions, so most steps
  use short windows (the fixed sinusoidal positions cut to fit) with one to four words, then 10 s
  windows, then full 30 s windows at the end, as the pipeline pads every input to 30 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pe_search.toy import TOY_DIR, speech, speech_eval
from pe_search.toy import speech_model as sm

log = logging.getLogger(__name__)

WHISPER_TOY_DIR = TOY_DIR / "whisper-toy"  # the shipped toy speech model (`--transcribe toy`)
CACHE_DIR = Path("/work/scratch/sp-train") if Path("/work/scratch").is_dir() else Path(tempfile.gettempdir())
FRAME = 0.02  # seconds per encoder position
FRAMES = 1500
POOL_VERSION = 1  # bump when the pool's making changes
BOUNDARY_FRAMES = 2  # frames each side of a boundary between two rows' frames ...
BOUNDARY_WEIGHT = 5.0  # ... weigh this much more in the owner loss


@dataclass(frozen=True)
class Stage:
    """A stretch of training on one window length."""

    window: int  # seconds; the encoder's positions are cut to window * 50
    steps: int
    batch: int
    pool: int  # utterances made for it (features computed once)
    max_seconds: float
    max_words: int | None
    lead: tuple[float, float]
    tail: tuple[float, float]
    long_every: int = 0  # every Nth step of the stage trains on the last stage's 30 s windows instead


STAGES = (
    Stage(4, 1000, 16, 5000, 3.9, 4, (0.1, 0.8), (0.2, 0.6)),
    Stage(10, 800, 12, 1500, 9.9, None, (0.1, 1.5), (0.3, 1.0), long_every=4),
    Stage(30, 300, 8, 600, 28.0, None, (0.1, 2.0), (0.3, 1.5)),
)
# What the speech gate hands the model at index time: a phrase between pauses, with the gate's
# margins of quiet around it, padded to the 30 s window (indexer/transcribe.py, media/speech_gate.py).
PHRASE_STAGE = Stage(30, 600, 8, 2000, 8.0, 8, (0.1, 0.45), (0.1, 0.45))


@dataclass(frozen=True)
class Clip:
    """An utterance as training sees it: its words and length (the sound is in the pool's features)."""

    words: list[speech.SpokenWord]
    duration: float


def sequence(utt, tok, frames: int = FRAMES) -> tuple[list[int], list[tuple[int, int] | None]]:
    """Decoder tokens (prompt .. <|endoftext|>) and, per decoder row, the frames it should look at.

    `utt` has `words` and `duration` (an `Utterance` or a `Clip`). Row p reads token p and
    predicts token p + 1; rows of the prompt get no target.
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


class Pool:
    """Utterances of a stage with their log-mel features (float16, cut after the speech)."""

    def __init__(self, feats: list[np.ndarray], pads: np.ndarray, clips: list[Clip]) -> None:
        self.feats, self.pads, self.clips = feats, pads, clips

    @classmethod
    def make(cls, rng: np.random.Generator, bank: speech.WordBank, stage: Stage, count: int) -> Pool:
        extractors: dict[int, sm.WhisperFeatureExtractor] = {}
        feats, pads, clips = [], [], []
        while len(clips) < count:
            utt = speech.utterance(
                rng,
                bank,
                max_seconds=stage.max_seconds,
                lead=stage.lead,
                tail=stage.tail,
                max_words=stage.max_words,
                caption_share=0.4,
            )
            if utt.duration > stage.window - 0.05:
                continue
            chunk = min(30, math.ceil(utt.duration) + 1)
            if chunk not in extractors:
                extractors[chunk] = sm.WhisperFeatureExtractor(feature_size=80, chunk_length=chunk)
            f = extractors[chunk](
                utt.audio, sampling_rate=speech.SAMPLE_RATE, return_tensors="np"
            ).input_features[0]
            feats.append(f.astype(np.float16))
            pads.append(float(f[0, -1]))  # a padding frame: the same value in every mel bin
            clips.append(Clip(utt.words, utt.duration))
        return cls(feats, np.array(pads, np.float32), clips)

    def save(self, path: Path) -> None:
        words = [[[w.text, w.start, w.end] for w in c.words] for c in self.clips]
        meta = json.dumps({"words": words, "durations": [c.duration for c in self.clips]})
        lengths = np.array([f.shape[1] for f in self.feats])
        np.savez(path, feats=np.concatenate(self.feats, axis=1), lengths=lengths, pads=self.pads, meta=meta)

    @classmethod
    def load(cls, path: Path) -> Pool:
        z = np.load(path)
        meta = json.loads(str(z["meta"]))
        ends = np.cumsum(z["lengths"])
        feats = np.split(z["feats"], ends[:-1], axis=1)
        clips = [
            Clip([speech.SpokenWord(t, s, e) for t, s, e in ws], d)
            for ws, d in zip(meta["words"], meta["durations"])
        ]
        return cls(feats, z["pads"], clips)

    def batch(self, index: list[int], window: int, tok, rng: np.random.Generator):
        """Features padded to `window` seconds (random gain), decoder inputs, labels, frame masks."""
        mel = window * 100
        frames = mel // 2
        feats = torch.empty(len(index), 80, mel)
        for i, k in enumerate(index):
            shift = math.log10(float(rng.uniform(0.3, 1.5))) / 2  # a gain, in normalised log-mel
            f = torch.from_numpy(self.feats[k][:, :mel].astype(np.float32))
            feats[i] = float(self.pads[k]) + shift
            feats[i, :, : f.shape[1]] = f + shift
        seqs = [sequence(self.clips[k], tok, frames) for k in index]
        longest = max(len(t) for t, _ in seqs)
        pad = tok.convert_tokens_to_ids("<|endoftext|>")
        inputs = torch.full((len(index), longest - 1), pad)
        labels = torch.full((len(index), longest - 1), -100)
        mask = torch.zeros(len(index), longest - 1, frames)
        for i, (t, regions) in enumerate(seqs):
            inputs[i, : len(t) - 1] = torch.tensor(t[:-1])
            labels[i, : len(t) - 1] = torch.tensor(t[1:])
            for p, r in enumerate(regions):
                if r is not None:
                    mask[i, p, r[0] : r[1]] = 1.0
        return feats, inputs, labels, mask


def pools(seed: int, n_voices: int, stages: tuple[Stage, ...], held_out: bool = False) -> list[Pool]:
    """One pool per stage, made once and cached (keyed by everything that shapes it)."""
    shapes = [
        {k: v for k, v in asdict(s).items() if k not in ("steps", "batch", "long_every")} for s in stages
    ]
    key = json.dumps([POOL_VERSION, seed, n_voices, held_out, shapes])
    path = CACHE_DIR / f"pool-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if all((path / f"{i}.npz").exists() for i in range(len(stages))):
        return [Pool.load(path / f"{i}.npz") for i in range(len(stages))]
    t0 = time.time()
    rng = np.random.default_rng(seed)
    bank = speech.WordBank(speech.voices(rng, n_voices, held_out=held_out))
    made = [Pool.make(rng, bank, s, s.pool) for s in stages]
    path.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(made):
        p.save(path / f"{i}.npz")
    log.info("pools (%s voices, held out %s) made in %.0f s: %s", n_voices, held_out, time.time() - t0, path)
    return made


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
    """Run the encoder on `seconds`-long windows: its (fixed, sinusoidal) positions cut to fit."""
    encoder = model.model.encoder
    positions = seconds * 50
    if not hasattr(encoder, "_all_positions"):
        encoder._all_positions = encoder.embed_positions.weight.detach().clone()
    encoder.embed_positions = torch.nn.Embedding.from_pretrained(
        encoder._all_positions[:positions], freeze=True
    )
    model.config.max_source_positions = positions


def forward(
    model,
    head,
    pool: Pool,
    index: list[int],
    window: int,
    tok,
    rng: np.random.Generator,
    acoustic_to_encoder=True,
):
    """Cross-entropy, alignment loss, the acoustic loss and word-token accuracy of one batch.

    The acoustic loss (`head`, a linear layer trained beside the model and never saved) asks the
    encoder's output, averaged over each word's frames, to name the word: a direct signal to the
    encoder, which the decoder's cross-entropy alone reaches slowly (a first run learnt the
    captions' language, not the sounds). Training on from a checkpoint, the head starts afresh:
    `acoustic_to_encoder` False keeps its first, random gradients out of the trained encoder.
    """
    feats, inputs, labels, mask = pool.batch(index, window, tok, rng)
    outputs = model(input_features=feats, decoder_input_ids=inputs, labels=labels, output_attentions=True)
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    words = (labels >= 0) & (labels < eot)  # word tokens come first in the vocabulary
    encoded = outputs.encoder_last_hidden_state
    encoded = encoded if acoustic_to_encoder else encoded.detach()
    pooled = mask @ encoded / mask.sum(-1, keepdim=True).clamp(min=1)
    acoustic = torch.nn.functional.cross_entropy(head(pooled[words]), labels[words])
    layer = sm.ALIGNMENT_HEADS[0][0]
    heads = [h for _, h in sm.ALIGNMENT_HEADS]
    align = attention_loss(outputs.cross_attentions[layer][:, heads], mask)
    # A guide for the first layer: one head looks at the token the row reads (the previous row's
    # target), so the alignment heads above need only look just after it, however long the speech.
    current = torch.zeros_like(mask)
    current[:, 1:] = mask[:, :-1]
    align = align + attention_loss(outputs.cross_attentions[0][:, :1], current)
    owner = owner_loss(outputs.cross_attentions[layer][:, heads], mask)
    right = (outputs.logits.argmax(-1) == labels)[words].float().mean().item()
    return outputs.loss, align + owner, acoustic, right


def owner_loss(attn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per frame, the row that owns it must have the highest attention among the rows, as
    transformers' DTW sees them: each frame's column z-normalised across the rows, heads averaged.

    The mass loss (`attention_loss`) lets a row gather its attention anywhere inside its frames;
    DTW puts a word's start where its row overtakes the row before, so the boundary between two
    words lands wherever their attention crosses. This loss puts the crossing on the boundary.
    Frames of the padding (owned by the last row) count a tenth as much as the utterance's.
    """
    rows = mask.sum(-1) > 0  # (B, T)
    valid = rows[:, None, :, None].float()
    count = valid.sum(2, keepdim=True)
    mean = (attn * valid).sum(2, keepdim=True) / count
    std = ((((attn - mean) * valid) ** 2).sum(2, keepdim=True) / count).sqrt().clamp(min=1e-6)
    z = ((attn - mean) / std).mean(1)  # (B, T, F)
    z = z.masked_fill(~rows[:, :, None], float("-inf"))
    owner = mask.argmax(1)  # (B, F): the row whose region holds the frame
    loss = torch.nn.functional.cross_entropy(2.0 * z, owner, reduction="none")  # (B, F)
    last = rows.sum(-1) + rows.float().argmax(-1) - 1  # each sequence's last row with a region
    padding = owner == last[:, None]
    weight = torch.where(padding, 0.1, 1.0)
    # The frames beside a boundary decide where DTW splits two words: they count BOUNDARY_WEIGHT times.
    change = torch.zeros_like(padding)
    change[:, 1:] = owner[:, 1:] != owner[:, :-1]
    near = torch.nn.functional.max_pool1d(
        change[:, None].float(), 2 * BOUNDARY_FRAMES + 1, 1, BOUNDARY_FRAMES
    )
    weight = torch.where(near[:, 0] > 0, weight * BOUNDARY_WEIGHT, weight)
    return (loss * weight).sum() / weight.sum()


def attention_loss(attn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean -log of the attention (B, H, T, F) that falls inside each row's frames (mask: B, T, F)."""
    inside = (attn * mask[:, None]).sum(-1)  # (B, H, T)
    rows = mask.sum(-1) > 0
    return -(torch.log(inside + 1e-6) * rows[:, None]).sum() / (rows.sum() * attn.shape[1])


def save_for_pipeline(model, processor, out: Path) -> None:
    """Save as the pipeline loads it: 30 s windows, SDPA attention."""
    set_window(model, 30)
    model.config._attn_implementation = "sdpa"
    model.generation_config.return_timestamps = False
    sm.save(model, processor, out)
    model.config._attn_implementation = "eager"


def train(
    out: Path,
    stages: tuple[Stage, ...],
    seed: int,
    lr: float,
    align_weight: float,
    n_voices: int,
    dims: sm.Dims,
    eval_utts: list[speech.Utterance],
    eval_every: int,
    start: Path | None = None,
) -> speech_eval.Score | None:
    """Train through `stages` (from `start`'s weights if given, else a fresh seeded model),
    checking through the pipeline in 30 s stages and keeping the best checkpoint in `out`."""
    rng = np.random.default_rng(seed)
    train_pools = pools(seed, n_voices, stages)
    check = tuple(Stage(s.window, 0, 0, 32, s.max_seconds, s.max_words, s.lead, s.tail) for s in stages)
    check_pools = pools(seed + 500, 4, check, held_out=True)
    model, processor = sm.load(start) if start else sm.build(seed, dims)
    tok = processor.tokenizer
    use_eager_decoder(model)
    head = torch.nn.Linear(model.config.d_model, tok.convert_tokens_to_ids("<|endoftext|>"))
    params = [*model.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = sum(s.steps for s in stages)
    warm = max(total // 25, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, 0.2 + 0.4 * (1 + math.cos(math.pi * min(s / total, 1.0))))
    )
    best: speech_eval.Score | None = None
    t0 = time.time()
    step = 0
    for n, (stage, pool, held) in enumerate(zip(stages, train_pools, check_pools)):
        set_window(model, stage.window)
        for k in range(stage.steps):
            model.train()
            now, now_pool = stage, pool
            if stage.long_every and k % stage.long_every == stage.long_every - 1:
                now, now_pool = stages[-1], train_pools[-1]
            set_window(model, now.window)
            index = [int(i) for i in rng.integers(len(now_pool.clips), size=now.batch)]
            ce, align, acoustic, right = forward(
                model, head, now_pool, index, now.window, tok, rng, acoustic_to_encoder=start is None
            )
            loss = ce + align_weight * align + acoustic
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            set_window(model, stage.window)
            if k % 50 == 0 or k == stage.steps - 1:
                model.eval()
                with torch.no_grad():
                    everything = list(range(len(held.clips)))
                    hce, halign, hacoustic, hright = forward(
                        model, head, held, everything, stage.window, tok, rng
                    )
                log.info(
                    "step %d/%d (%ds window) ce %.3f align %.3f acoustic %.3f words %.2f"
                    " | held-out ce %.3f align %.3f acoustic %.3f words %.2f (%.0f s)",
                    step,
                    total,
                    stage.window,
                    ce.item(),
                    align.item(),
                    acoustic.item(),
                    right,
                    hce.item(),
                    halign.item(),
                    hacoustic.item(),
                    hright,
                    time.time() - t0,
                )
            last = n == len(stages) - 1 and k == stage.steps - 1
            if eval_utts and stage.window == 30 and (last or (k + 1) % eval_every == 0):
                with tempfile.TemporaryDirectory() as tmp:
                    save_for_pipeline(model, processor, Path(tmp))
                    s = evaluate(Path(tmp), eval_utts)
                    log.info("step %d held-out through the pipeline: %s", step, describe(s))
                    if best is None or s.timed_share - s.wer > best.timed_share - best.wer:
                        best = s
                        shutil.copytree(tmp, out, dirs_exist_ok=True)
                set_window(model, stage.window)
    if best is None:
        save_for_pipeline(model, processor, out)
    log.info("trained %d steps in %.1f min; saved to %s", total, (time.time() - t0) / 60, out)
    return best


def held_out(seed: int, count: int, n_voices: int = 8, max_seconds: float = 28.0) -> list[speech.Utterance]:
    """Fresh utterances in voices (pitch/speed) the training never used."""
    rng = np.random.default_rng(seed)
    bank = speech.WordBank(speech.voices(rng, n_voices, held_out=True))
    return [speech.utterance(rng, bank, max_seconds=max_seconds) for _ in range(count)]


def held_out_takes(seed: int, count: int, n_voices: int = 8) -> list[speech.Utterance]:
    """Fresh takes (phrases between pauses) in voices the training never used."""
    rng = np.random.default_rng(seed)
    bank = speech.WordBank(speech.voices(rng, n_voices, held_out=True))
    return [speech.take(rng, bank) for _ in range(count)]


def evaluate(model_dir: Path, utts: list[speech.Utterance]) -> speech_eval.Score:
    """Each utterance as indexing hears it: the speech gate's pieces through the product's
    `SpeechModel` (transformers' pipeline, word timestamps, 30 s chunks), in the take's time."""
    from pe_search.media.speech_gate import SpeechGate, gate_pieces
    from pe_search.models.speech import SpeechModel, SpeechPiece

    model = SpeechModel(str(model_dir), model_dir)
    total = speech_eval.Score(0, 0, 0, [], [])
    for u in utts:
        pieces = [SpeechPiece(s, a) for s, a in gate_pieces(u.audio, speech.SAMPLE_RATE, SpeechGate())]
        got = [
            speech_eval.HeardWord(w.text.lower(), w.start, w.end)
            for w in model.transcribe(pieces, "en").words
        ]
        total = total + speech_eval.score(u.words, got)
    return total


def describe(s: speech_eval.Score) -> str:
    return (
        f"{s.words} words, WER {s.wer:.3f}, timed within 100 ms {s.timed_share:.3f}, "
        f"median start error {np.median(s.start_errors or [0]) * 1000:.0f} ms, "
        f"median end error {np.median(s.end_errors or [0]) * 1000:.0f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WHISPER_TOY_DIR)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every stage's steps (smoke runs)")
    parser.add_argument("--stage-steps", help="steps of the 4 s, 10 s and 30 s stages, e.g. 1000,800,300")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--align-weight", type=float, default=1.0)
    parser.add_argument("--voices", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--d-model", type=int, default=sm.Dims.d_model)
    parser.add_argument("--encoder-layers", type=int, default=sm.Dims.encoder_layers)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval", type=int, default=8, help="held-out utterances to score (0: none)")
    parser.add_argument("--eval-every", type=int, default=60, help="30 s steps between pipeline checks")
    parser.add_argument("--start", type=Path, help="train on from this checkpoint's weights")
    parser.add_argument(
        "--phrases", type=int, default=0, help="steps on gated phrases (30 s windows) at the end"
    )
    parser.add_argument(
        "--only-phrases", action="store_true", help="train only the phrase stage (with --start)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    stages = STAGES
    if args.stage_steps:
        stages = tuple(replace(s, steps=int(n)) for s, n in zip(STAGES, args.stage_steps.split(",")))
    if args.phrases:
        phrase = replace(PHRASE_STAGE, steps=args.phrases)
        stages = (phrase,) if args.only_phrases else (*stages, phrase)
    stages = tuple(replace(s, steps=max(1, round(s.steps * args.scale))) for s in stages)
    dims = sm.Dims(d_model=args.d_model, encoder_layers=args.encoder_layers)
    eval_utts = held_out_takes(args.seed + 1000, args.eval) if args.eval else []
    best = train(
        args.out,
        stages,
        args.seed,
        args.lr,
        args.align_weight,
        args.voices,
        dims,
        eval_utts,
        args.eval_every,
        args.start,
    )
    if best is not None:
        print(f"held-out (best checkpoint, kept in {args.out}): {describe(best)}")


if __name__ == "__main__":
    main()
