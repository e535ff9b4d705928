"""Benchmark transcription at index time (issue 26): media seconds transcribed per second, with and
without the speech gate, for a tiny Whisper and for a random-weight one of whisper-small's size.

    .venv/bin/python bench/bench_transcribe.py                 # both models, the 60 s mixed file
    .venv/bin/python bench/bench_transcribe.py --models tiny   # quick
    .venv/bin/python bench/bench_transcribe.py --models small --file talk40   # 40 s: 8 s talk, quiet

The file is made here: speech (espeak-ng, the toy speech generator), quiet and toy sounds
(a low tone, a rising chirp) in turn, so the gate has something to leave out and something it cannot
(an energy gate lets loud non-speech through). Each run is what the indexer's stage does for one
file: decode the sound at 16 kHz, cut it with the gate (or not), and run the model over the pieces
(transformers' ASR pipeline, word timestamps, 30 s chunks). Reported per model and gate: wall and
CPU seconds (this process), media seconds per wall second, seconds sent to the model, pipeline
calls, words heard; and the machine's load average, since the machine is shared.

The models: the toy checkpoint when `pe_search/toy/checkpoints/whisper-toy` exists, else the tiny
random one `pe_search.toy.speech_model` builds; and whisper-small's dimensions (d_model 768, 12 +
12 layers, 12 heads, FFN 3072, 1500 audio positions) with random weights and the toy tokenizer (no
download). A random model talks until its token cap, so its cap is set (`--max-tokens`, 96 per
30 s chunk, about what Whisper writes for a chunk of steady speech): its time is that of a model
that writes that much, not of what a trained model would say.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.transcribe import speech_payload  # noqa: E402
from pe_search.models.shipped import TOY_SPEECH_DIR  # noqa: E402
from pe_search.models.speech import SpeechModel, SpeechPiece  # noqa: E402
from pe_search.toy import sounds, speech, speech_model  # noqa: E402
from pe_search.toy.media_writer import write_audio  # noqa: E402

RATE = speech.SAMPLE_RATE
# (start, seconds, what): the mixed file's parts
LAYOUT = [
    (0.0, 12.0, "speech"),
    (12.0, 14.0, "quiet"),
    (26.0, 8.0, "low_tone"),
    (34.0, 6.0, "chirp_up"),
    (40.0, 12.0, "speech"),
    (52.0, 8.0, "quiet"),
]
SECONDS = 60.0
# `--file talk40`: a shorter file for a loaded machine and a large model: 8 s of talk, then 32 s of
# quiet. Unfiltered it is two 30 s pipeline chunks; the gate sends only the talk (5.6 s, but in two
# pieces, each padded to a 30 s chunk: docs/benchmarks.md).
TALK_LAYOUT = [(0.0, 8.0, "speech"), (8.0, 32.0, "quiet")]
# `--file field600`: ten minutes as a field recording or a long take has them, talk now and then:
# three 10 s stretches of talk, a tone and a chirp, and long quiet. Unfiltered it is 24 pipeline
# chunks; the gate sends the talk and the loud sounds.
FIELD_LAYOUT = [
    (0.0, 10.0, "speech"),
    (10.0, 190.0, "quiet"),
    (200.0, 30.0, "low_tone"),
    (230.0, 10.0, "speech"),
    (240.0, 180.0, "quiet"),
    (420.0, 10.0, "chirp_up"),
    (430.0, 10.0, "speech"),
    (440.0, 160.0, "quiet"),
]
FILES = {"mixed60": (LAYOUT, SECONDS), "talk40": (TALK_LAYOUT, 40.0), "field600": (FIELD_LAYOUT, 600.0)}


def mixed_file(path: Path, layout=LAYOUT, seconds: float = SECONDS) -> dict:
    """Write the mixed file; returns how many seconds of each kind it holds."""
    phrases, at = [], 0.0
    rng = np.random.default_rng(0)
    for start, length, kind in layout:
        if kind != "speech":
            continue
        at = start + 0.3
        while at < start + length - 3.0:
            text = speech.phrases()[int(rng.integers(len(speech.phrases())))]
            phrases.append((at, text))
            at += 0.5 * len(text.split()) + 1.2
    utterance = speech.spoken(phrases, seconds=seconds)
    audio = utterance.audio.copy()
    for start, length, kind in layout:
        if kind not in ("speech", "quiet"):  # toy sounds at 48 kHz, taken every third sample
            loud = sounds.sound(kind, length, seed=1).samples[::3][: round(length * RATE)]
            first = round(start * RATE)
            audio[first : first + len(loud)] += 0.5 * loud / max(1e-6, float(np.abs(loud).max()))
    write_audio(path, np.clip(audio, -1, 1), RATE)
    spoken = sum(w.end - w.start for w in utterance.words)
    return {"speech_words": len(utterance.words), "seconds_with_words": round(spoken, 2)}


def small_sized(out: Path) -> Path:
    """A random-weight Whisper of whisper-small's dimensions with the toy tokenizer."""
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

    tok = speech_model.build_tokenizer()
    config = speech_model.build_config(len(tok), tok)
    for name, value in {
        "d_model": 768,
        "encoder_layers": 12,
        "decoder_layers": 12,
        "encoder_attention_heads": 12,
        "decoder_attention_heads": 12,
        "encoder_ffn_dim": 3072,
        "decoder_ffn_dim": 3072,
        "max_target_positions": 448,
    }.items():
        setattr(config, name, value)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = speech_model.build_generation_config(config, tok)
    model.generation_config.alignment_heads = [[11, h] for h in range(0, 12, 2)]
    speech_model.save(model, WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tok), out)
    return out


def tiny(out: Path) -> Path:
    if (TOY_SPEECH_DIR / "config.json").is_file():
        return TOY_SPEECH_DIR
    model, processor = speech_model.build(0)
    speech_model.save(model, processor, out)
    return out


def cap_tokens(directory: Path, max_tokens: int) -> Path:
    """The random models talk until their cap: set it in the checkpoint's generation config."""
    file = directory / "generation_config.json"
    config = json.loads(file.read_text())
    config["max_length"] = max_tokens
    file.write_text(json.dumps(config))
    return directory


def run(model: SpeechModel, media: Path, gate: bool) -> dict:
    calls = []
    hear = model.hear

    def counted(audio, kwargs):
        calls.append(len(audio) / RATE)
        return hear(audio, kwargs)

    model.hear = counted
    wall, cpu = time.perf_counter(), time.process_time()
    payload = speech_payload(str(media), True, gate)
    heard = model.transcribe(payload.pieces, "en")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    model.hear = hear
    return {
        "gate": gate,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "media_s_per_s": round(payload.seconds / wall, 3),
        "seconds_sent": round(sum(calls), 2),
        "pieces": len(calls),
        "words_heard": len(heard.words),
        "load_average": [round(x, 1) for x in os.getloadavg()],  # as the run ends: the machine is shared
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "small"], choices=["tiny", "small"])
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--file", default="mixed60", choices=sorted(FILES))
    args = parser.parse_args()
    layout, seconds = FILES[args.file]
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        root = Path(work)
        media = root / "mixed.wav"
        result = {
            "file": {"seconds": seconds, "layout": layout, **mixed_file(media, layout, seconds)},
            "runs": {},
        }
        for name in args.models:
            directory = tiny(root / "tiny") if name == "tiny" else small_sized(root / "small")
            if directory != TOY_SPEECH_DIR:
                cap_tokens(directory, args.max_tokens)
            model = SpeechModel(name, directory)
            model.transcribe([], "en")  # nothing: loads nothing
            _ = model.pipeline  # loaded before timing
            # one untimed pass (1 s of quiet: a chunk through generate, word times and all), so the
            # first timed run does not carry the process's one-time costs (thread pools, allocations)
            model.transcribe([SpeechPiece(0.0, np.zeros(RATE, np.float32))], "en")
            result["runs"][name] = {
                "checkpoint": "toy"
                if directory == TOY_SPEECH_DIR
                else f"random, max {args.max_tokens} tokens",
                "parameters": sum(p.numel() for p in model.pipeline.model.parameters()),
                "runs": [],
            }
            for gate in (True, False):
                result["runs"][name]["runs"].append(run(model, media, gate))
                print(json.dumps({name: result["runs"][name]}), file=sys.stderr, flush=True)  # as it goes
        result["load_average"] = os.getloadavg()
        import torch

        result["torch_threads"] = torch.get_num_threads()
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
