"""The toy speech model's parts: a Whisper tokenizer of the toy vocabulary, a tiny config, the
processor and the generation settings that transformers' ASR pipeline reads.

Whisper's own tokenizer files cannot be downloaded here, so the tokenizer is built: a byte-level
BPE trained (`tokenizers`) on the toy phrases until every word is one token, then Whisper's
special tokens in Whisper's order, so that `<|notimestamps|>` is the last special token and the
timestamp tokens `<|0.00|>`..`<|30.00|>` follow it (transformers finds timestamps that way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from pe_search.models.torch_compat import ensure_torchvision_importable

ensure_torchvision_importable()

from transformers import (  # noqa: E402
    AddedToken,
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)

from pe_search.toy import speech  # noqa: E402

LANGUAGES = ("en",)
# The marker after the first timestamp: the decoder row that predicts it looks at the quiet before
# the first word, so the first word's start (its predecessor's row, in transformers' DTW) is not
# pinned to 0.0. It is a special token, which the pipeline's decoding drops from the text.
LEAD_TOKEN = "<|nospeech|>"
SPECIALS = (
    "<|endoftext|>",
    "<|startoftranscript|>",
    *(f"<|{code}|>" for code in LANGUAGES),
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
)
TIMESTAMPS = tuple(f"<|{i * 0.02:.2f}|>" for i in range(1501))


def build_tokenizer() -> WhisperTokenizer:
    """A WhisperTokenizer whose BPE has every toy word (with its leading space) as one token."""
    texts = [" " + p for p in speech.phrases()] + [" " + w for w in speech.words()]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    size = len(alphabet) + 4 * len(speech.words())
    bpe.train_from_iterator(
        texts * 4, trainers.BpeTrainer(vocab_size=size, initial_alphabet=alphabet, show_progress=False)
    )
    merges = [tuple(m) for m in json.loads(bpe.to_str())["model"]["merges"]]
    tok = WhisperTokenizer(vocab=bpe.get_vocab(), merges=merges)
    tok.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in SPECIALS[1:]]}
    )
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TIMESTAMPS])
    for w in speech.words():
        assert len(tok.encode(" " + w, add_special_tokens=False)) == 1, w
    return tok


@dataclass(frozen=True)
class Dims:
    """The toy's size: small enough to train in minutes on one CPU thread."""

    d_model: int = 128
    encoder_layers: int = 2
    decoder_layers: int = 2
    heads: int = 4


def build_config(vocab_size: int, tok: WhisperTokenizer, dims: Dims = Dims()) -> WhisperConfig:
    """Tiny dims, Whisper's real audio settings (80 mel bins, 30 s windows, 1500 positions)."""
    ids = tok.convert_tokens_to_ids
    return WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=80,
        d_model=dims.d_model,
        encoder_layers=dims.encoder_layers,
        encoder_attention_heads=dims.heads,
        decoder_layers=dims.decoder_layers,
        decoder_attention_heads=dims.heads,
        encoder_ffn_dim=4 * dims.d_model,
        decoder_ffn_dim=4 * dims.d_model,
        max_source_positions=1500,
        max_target_positions=128,
        pad_token_id=ids("<|endoftext|>"),
        bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|endoftext|>"),
        decoder_start_token_id=ids("<|startoftranscript|>"),
        begin_suppress_tokens=[],
        suppress_tokens=[],
        median_filter_width=7,
        dropout=0.0,
    )


# Two heads of the last decoder layer learn to look at the word said next (the others are free).
ALIGNMENT_HEADS = [[1, 0], [1, 1]]


def build_generation_config(config: WhisperConfig, tok: WhisperTokenizer) -> GenerationConfig:
    ids = tok.convert_tokens_to_ids
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        is_multilingual=True,
        lang_to_id={f"<|{c}|>": ids(f"<|{c}|>") for c in LANGUAGES},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        alignment_heads=ALIGNMENT_HEADS,
        max_initial_timestamp_index=50,
        begin_suppress_tokens=[],
        suppress_tokens=[],
        return_timestamps=False,
    )


def build(seed: int, dims: Dims = Dims()) -> tuple[WhisperForConditionalGeneration, WhisperProcessor]:
    """A freshly initialised (seeded) tiny Whisper and its processor."""
    import torch

    tok = build_tokenizer()
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tok)
    config = build_config(len(tok), tok, dims)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = build_generation_config(config, tok)
    return model, processor


def load(directory: Path) -> tuple[WhisperForConditionalGeneration, WhisperProcessor]:
    """A saved toy speech model and its processor (to train further)."""
    model = WhisperForConditionalGeneration.from_pretrained(directory, attn_implementation="sdpa")
    return model, WhisperProcessor.from_pretrained(directory)


def save(model: WhisperForConditionalGeneration, processor: WhisperProcessor, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
