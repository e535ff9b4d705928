"""The toy models for training: settings, building and initialising them, running their towers
with gradients (through `PeEncoder`'s own tower code), and the sigmoid loss of each space."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pe_search.models.pe_classes import PeAudioVideoModelLoadable
from pe_search.models.towers import cls_text_states, encoder_body, fuse_input
from pe_search.toy import front_end, synth, tiny

HOP = math.prod(front_end.RATIOS)  # 1920 samples = 40 ms at 48 kHz
FRAME_SECONDS = HOP / synth.SAMPLE_RATE


@dataclass
class Settings:
    seed: int = 0
    hidden: int = 64
    image_size: int = 56
    vision_width: int = 64
    steps: int = 1200  # PE-AV optimisation steps
    frame_steps: int = 1500  # PE-A-Frame optimisation steps
    batch: int = 20  # PE-AV scene items (sound + picture) per step, two per class
    picture_batch: int = 20  # and pictures drawn from all 48 combinations (text-video only)
    frame_batch: int = 16
    frame_positive_weight: float = 2.0
    lr: float = 2e-3
    pool: int = 14  # generated clips per class in the PE-AV audio pool
    frame_pool: int = 100  # generated clips in the PE-A-Frame pool
    min_seconds: float = 1.0  # training crops: log-uniform lengths between these
    max_seconds: float = 30.0  # (the indexer's windows are 30 s; shorter files are one window)
    min_frames: int = 2  # video frames per clip: log-uniform counts between these
    max_frames: int = 48
    threads: int = 1  # torch threads; on a shared, busy machine 2 threads thrash (7x slower here)
    validate: bool = True
    only: str | None = None  # "audio_video" or "audio_frame": train just that one


def build_tokenizer():
    return tiny.build_tokenizer(synth.vocabulary() + ["sound", "audio", "video", "of"])


def build_model(kind: str, tokenizer, settings: Settings) -> nn.Module:
    """A toy model of `kind` ("audio_video" or "audio_frame"), initialised to train."""
    config = tiny.model_config(
        kind,
        tokenizer,
        hidden=settings.hidden,
        downsampling_ratios=front_end.RATIOS,
        dac_width=front_end.DAC_WIDTH,
        image_size=settings.image_size,
        vision_width=settings.vision_width,
    )
    if kind == "audio_video":
        # tiny.model_config's vision `num_classes` does not reach `num_labels` when the config is
        # built in code: the vision tower would describe each frame with 2 numbers (then unit-
        # normalised: one angle). Give it the model width, as the real checkpoints have.
        config.audio_video_config.video_config.vision_config.num_labels = settings.hidden
    classes = {"audio_video": PeAudioVideoModelLoadable, "audio_frame": tiny.MODEL_CLASSES["audio_frame"]}
    torch.manual_seed(settings.seed)
    model = classes[kind](config)  # the docstring linter is quiet: see models/docstring_lint.py
    initialise(model, settings.seed)
    return model


@torch.no_grad()
def initialise(model: nn.Module, seed: int) -> None:
    """Unit-gain weights (tiny.carry_signal), the designed DAC front end, small contrastive heads
    (raw dot products start near 0) and SigLIP's logit scale 10 / bias -10."""
    tiny.carry_signal(model, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    designed: set[int] = set()  # the fused encoder's audio tower is tied to the audio model's
    for name, module in model.named_modules():
        if name.endswith("audio_encoder.embedder") and hasattr(module, "dac_encoder"):
            if id(module.dac_encoder.conv1.weight) not in designed:
                front_end.design(module, seed)
                designed.add(id(module.dac_encoder.conv1.weight))
            module.data_proj.bias.zero_()
        if name.endswith("_head") and hasattr(module, "proj"):
            fan_in = module.proj.in_features
            module.proj.weight.copy_(
                torch.randn(module.proj.weight.shape, generator=generator) * 0.35 / fan_in**0.5
            )
        if name.endswith("patch_embed.proj") and isinstance(module, nn.Conv2d):  # timm's ViT patches
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) / fan_in**0.5)
        if name.endswith("timm_model") and getattr(module, "pos_embed", None) is not None:
            module.pos_embed.mul_(0.3)
        if name.endswith("patch_embedder") and hasattr(module, "class_embedding"):
            module.class_embedding.copy_(
                torch.randn(module.class_embedding.shape, generator=generator) * 0.02
            )
    for name, parameter in model.named_parameters():
        if name.endswith("logit_scale"):
            parameter.fill_(10.0)
        elif name.endswith("logit_bias"):
            parameter.fill_(-10.0)


def encode(encoder: nn.Module, embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A PE encoder's transformer over equal-length inputs (B, T, H): (class state, frame states),
    through the encoder's own `encoder_body` (what `PeEncoder` runs at inference)."""
    outputs = encoder_body(encoder, list(embeds))
    return torch.stack([o.pooled for o in outputs]), torch.stack([o.frames for o in outputs])


def audio_states(encoder: nn.Module, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen front-end features (B, codebook, T) -> the audio tower's (class, frame) states."""
    return encode(encoder, encoder.embedder.data_proj(features.transpose(1, 2)))


def video_states(encoder: nn.Module, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed frames (B, T, 3, S, S) -> the video tower's (class, frame) states."""
    embedder = encoder.embedder
    batch, count = frames.shape[:2]
    logits = embedder.vision_model(frames.flatten(0, 1)).logits
    features = embedder.data_proj(embedder.proj(F.normalize(logits, dim=-1)))
    return encode(encoder, features.view(batch, count, -1))


def fused_state(model: nn.Module, audio_frames: torch.Tensor, video_frames: torch.Tensor) -> torch.Tensor:
    """The fused audio-video class state from the towers' frame states (video aligned to audio)."""
    embedder = model.audio_video_encoder.embedder
    fused = [fuse_input(embedder, a, v) for a, v in zip(audio_frames, video_frames, strict=True)]
    return encode(model.audio_video_encoder, torch.stack(fused))[0]


def text_states(model: nn.Module, tokenizer, texts: list[str]) -> torch.Tensor:
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    output = model.text_model(
        input_ids=tokens["input_ids"],
        attention_mask=tokens["attention_mask"],
        output_hidden_states=True,
        return_dict=True,
    )
    return cls_text_states(output)


def sigmoid_loss(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """SigLIP's loss with +1/-1 labels, summed over pairs, per query row."""
    labels = positive.float() * 2 - 1
    return -F.logsigmoid(labels * logits).sum() / logits.shape[0]


def space_loss(
    query: torch.Tensor, target: torch.Tensor, owner: nn.Module, space: str, positive: torch.Tensor
) -> torch.Tensor:
    """The sigmoid loss of one space on the model's own logits: dot * scale + bias, where scale
    and bias are `owner.{space}_logit_scale` / `_logit_bias` (as in `pe_search.models.spaces`)."""
    scale = getattr(owner, f"{space}_logit_scale")
    bias = getattr(owner, f"{space}_logit_bias")
    return sigmoid_loss(query @ target.T * scale + bias, positive)


def optimizer_for(model: nn.Module, settings: Settings, steps: int):
    """AdamW (decay on matrices only) with a linear warm-up then a cosine schedule to 5%."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr
    )
    warmup = max(1, min(100, steps // 10))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))) * 0.95 + 0.05

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def freeze_front_end(model: nn.Module) -> None:
    """The DAC front end and its bottleneck stay as designed (`forward()` runs them frozen)."""
    for name, parameter in model.named_parameters():
        if "dac_encoder" in name or "embedder.bottleneck" in name:
            parameter.requires_grad_(False)
