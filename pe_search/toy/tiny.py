"""Tiny random PE checkpoints in the hub's directory layout, for tests and the toy models.

They go through the same loading path as a real checkpoint (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, preprocessor_config.json, video_preprocessor_config.json).
transformers' default initialisation leaves the DAC front end's output near 1e-5 with no
variance across inputs, so every clip would embed alike; `carry_signal` re-initialises the
front end so different inputs give clearly different embeddings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from pe_search.models.torch_compat import ensure_torchvision_importable

ensure_torchvision_importable()

import transformers  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, processors  # noqa: E402
from transformers import (  # noqa: E402
    PeAudioConfig,
    PeAudioFrameLevelModel,
    PeAudioModel,
    PeAudioVideoConfig,
    PeAudioVideoModel,
    PeVideoConfig,
    PeVideoModel,
    PreTrainedTokenizerFast,
)

from pe_search.models.docstring_lint import quiet_docstring_lint  # noqa: E402

quiet_docstring_lint()

KINDS = ("audio_video", "audio", "video", "audio_frame")
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEFAULT_WORDS = [
    "a",
    "an",
    "the",
    "of",
    "and",
    "with",
    "in",
    "on",
    "sound",
    "video",
    "audio",
    "high",
    "low",
    "beep",
    "tone",
    "noise",
    "click",
    "chirp",
    "up",
    "down",
    "pulse",
    "silence",
    "red",
    "green",
    "blue",
    "yellow",
    "circle",
    "square",
    "moving",
    "left",
    "right",
    "growing",
    "flashing",
    "dog",
    "bark",
    "music",
    "speech",
    "loud",
    "quiet",
    "fast",
    "slow",
]


def build_tokenizer(words: list[str] | None = None) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with ModernBERT's special tokens: [CLS] text [SEP]."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + sorted(set(words or DEFAULT_WORDS)))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.normalizer = None
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    from tokenizers import normalizers

    backend.normalizer = normalizers.Lowercase()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def text_config(tokenizer: PreTrainedTokenizerFast, hidden: int) -> dict:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 512,
        "pad_token_id": tokenizer.pad_token_id,
        "cls_token_id": tokenizer.cls_token_id,
        "sep_token_id": tokenizer.sep_token_id,
        "bos_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "global_attn_every_n_layers": 1,
    }


def _encoder_body(hidden: int) -> dict:
    return {
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": hidden // 2,
        "max_position_embeddings": 20000,
    }


def audio_encoder_config(hidden: int, downsampling_ratios: tuple[int, ...], dac_width: int) -> dict:
    return {
        **_encoder_body(hidden),
        "dac_config": {
            "encoder_hidden_size": dac_width,
            "downsampling_ratios": list(downsampling_ratios),
            "hidden_size": hidden,
            "codebook_dim": hidden // 2,
        },
    }


def video_encoder_config(hidden: int, image_size: int, vision_width: int) -> dict:
    return {
        **_encoder_body(hidden),
        "vision_config": {
            "architecture": "vit_pe_core_large_patch14_336",
            "model_args": {
                "embed_dim": vision_width,
                "img_size": (image_size, image_size),
                "depth": 2,
                "num_heads": 2,
            },
            "num_classes": hidden,
        },
    }


def model_config(
    kind: str,
    tokenizer: PreTrainedTokenizerFast,
    hidden: int = 32,
    downsampling_ratios: tuple[int, ...] = (2, 8, 10, 12),
    dac_width: int = 4,
    image_size: int = 28,
    vision_width: int = 32,
):
    """The transformers config of a tiny checkpoint of `kind` (one of KINDS)."""
    text = text_config(tokenizer, hidden)
    audio = audio_encoder_config(hidden, downsampling_ratios, dac_width)
    video = video_encoder_config(hidden, image_size, vision_width)
    if kind == "audio_video":
        return PeAudioVideoConfig(
            text_config=text,
            audio_video_config={**_encoder_body(hidden), "audio_config": audio, "video_config": video},
        )
    if kind in ("audio", "audio_frame"):
        return PeAudioConfig(text_config=text, audio_config=audio)
    if kind == "video":
        return PeVideoConfig(text_config=text, video_config=video)
    raise ValueError(f"unknown checkpoint kind {kind!r}; expected one of {', '.join(KINDS)}")


MODEL_CLASSES = {
    "audio_video": PeAudioVideoModel,
    "audio": PeAudioModel,
    "video": PeVideoModel,
    "audio_frame": PeAudioFrameLevelModel,
}


@torch.no_grad()
def carry_signal(model: nn.Module, seed: int = 0) -> None:
    """Re-initialise every DAC front end and the logit scales so a random model discriminates.

    He-style convolution weights keep the activation scale roughly constant through the
    front end's ~20 convolutions instead of shrinking it 100x per block; small random biases
    and Snake alphas break the symmetry that makes all inputs look alike.
    """
    generator = torch.Generator().manual_seed(seed)
    for name, module in model.named_modules():
        in_front_end = ".dac_encoder" in f".{name}" or name.endswith("bottleneck")
        if in_front_end and isinstance(module, nn.Conv1d):
            fan_in = module.in_channels * module.kernel_size[0] // module.groups
            module.weight.copy_(
                torch.randn(module.weight.shape, generator=generator) * math.sqrt(1.0 / fan_in)
            )
            if module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
        elif in_front_end and hasattr(module, "alpha"):
            module.alpha.copy_(0.5 + torch.rand(module.alpha.shape, generator=generator))
    for module in model.modules():
        # At std 0.02 the class tokens' own embeddings dominate every transformer here (ModernBERT,
        # timm's ViT, the temporal encoders): all inputs come out alike. Unit-gain weights fix it.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            fan_in = module.weight.shape[1] if isinstance(module, nn.Linear) else 1
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) / math.sqrt(fan_in))
    for name, parameter in model.named_parameters():
        if name.endswith(("attn_pool.latent", "pos_embed")):
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
        if name.endswith("logit_scale"):
            parameter.fill_(10.0)
        elif name.endswith("logit_bias"):
            parameter.fill_(-5.0)


def preprocessor_configs(hop_length: int, image_size: int) -> tuple[dict, dict]:
    """(preprocessor_config.json, video_preprocessor_config.json) as the real checkpoints ship them."""
    audio = {
        "feature_extractor_type": "PeAudioFeatureExtractor",
        "feature_size": 1,
        "sampling_rate": 48000,
        "padding_value": 0.0,
        "padding_side": "right",
        "return_attention_mask": True,
        "hop_length": hop_length,
    }
    video = {
        "video_processor_type": "PeVideoVideoProcessor",
        "do_resize": True,
        "size": {"height": image_size, "width": image_size},
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_convert_rgb": True,
    }
    return audio, video


def write_tiny_checkpoint(
    path: str | Path, kind: str = "audio_video", *, seed: int = 0, words: list[str] | None = None, **sizes
) -> Path:
    """Write a random tiny checkpoint of `kind` to `path` in the Hugging Face layout."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(words)
    config = model_config(kind, tokenizer, **sizes)
    config.architectures = [MODEL_CLASSES[kind].__name__]
    transformers.logging.disable_progress_bar()
    try:
        model = MODEL_CLASSES[kind](config).eval()
        carry_signal(model, seed)
        model.save_pretrained(path)
    finally:
        transformers.logging.enable_progress_bar()
    tokenizer.save_pretrained(path)
    ratios = sizes.get("downsampling_ratios", (2, 8, 10, 12))
    audio, video = preprocessor_configs(math.prod(ratios), sizes.get("image_size", 28))
    (path / "preprocessor_config.json").write_text(json.dumps(audio, indent=2))
    if kind in ("audio_video", "video"):
        (path / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2))
    return path


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "pe-tiny-checkpoint")
    print(write_tiny_checkpoint(target, sys.argv[2] if len(sys.argv) > 2 else "audio_video"))
