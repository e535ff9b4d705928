"""Faster CPU/GPU replacements for the costly parts of the PE towers, same numbers as `forward()`.

The audio tower's DAC front end (convolutions over the 48 kHz waveform) is most of the cost of
audio encoding. transformers runs it as NCW `Conv1d`s with the Snake activation
`x + 1/alpha * sin(alpha * x)^2` written as five separate elementwise ops, each a full pass over
activations of 64-128 channels x 1.44M samples per 30 s window. `FastAudioFrontEnd` computes
the same function:

- activations are kept channels-last (`(batch, channels, 1, time)` in NHWC memory), the layout
  oneDNN's convolutions run fastest in, so no convolution reorders its input or output;
- Snake is one fused kernel (inductor, `torch.compile` of the arithmetic only, dynamic shapes so
  every clip length shares it), or, where inductor cannot compile, the same arithmetic in place
  (two temporaries fewer than upstream);
- `1 / (alpha + 1e-9)` is computed once at build time instead of on every call.

The video tower's cost is the per-frame vision model (a ViT: GEMMs and attention).
`FastVisionModel` runs it under bfloat16 autocast where the hardware has native bf16 (AVX-512
bf16 / AMX CPUs, CUDA): about 1.8x faster on the ViT with AVX-512 bf16. It is opt-in
(`bf16_vision=True` or PE_SEARCH_FAST_BF16=1) because it does not reliably keep the cosine
0.9999 bar: on random PE-Core S weights most windows stay at 0.99999 but some drop to 0.9995
(bf16 in the linear layers only was no better). The temporal transformer and heads stay float32.

Nothing in the model is modified: the fast front end is a separate module that reads the
model's own convolution weights, so `model.forward()` stays the plain transformers path (the
reference the tests compare against). `PeEncoder(fast=False)` or `PE_SEARCH_FAST=0` turns all of
this off.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

FAST_ENV = "PE_SEARCH_FAST"
COMPILE_ENV = "PE_SEARCH_COMPILE"
BF16_ENV = "PE_SEARCH_FAST_BF16"


def fast_default() -> bool:
    """Speed paths are on unless PE_SEARCH_FAST is 0/false/no/off."""
    return _env_on(FAST_ENV)


# ---------------------------------------------------------------------------------- Snake
def snake_reference(x: torch.Tensor, alpha: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Snake as upstream computes it, with `inverse = 1 / (alpha + 1e-9)` precomputed."""
    return x + inverse * torch.sin(alpha * x).pow(2)


def snake_in_place(x: torch.Tensor, alpha: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Eager fallback: the same arithmetic in the same order, with one temporary instead of four."""
    out = torch.mul(x, alpha)
    out.sin_().square_().mul_(inverse).add_(x)
    return out


def _env_on(name: str, default: bool = True) -> bool:
    """A switch from the environment: 0/false/no/off or 1/true/yes/on; unset (or else) is `default`."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return default


def bf16_default() -> bool:
    """The vision model runs in bf16 (with the other speed paths) only if PE_SEARCH_FAST_BF16=1."""
    return _env_on(BF16_ENV, default=False)


def compile_enabled() -> bool:
    """torch.compile (inductor) is used unless PE_SEARCH_COMPILE is 0/false/no/off."""
    return _env_on(COMPILE_ENV)


INDUCTOR_CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def persistent_compile_cache() -> Path | None:
    """Keep inductor's compiled kernels in the user's cache (XDG_CACHE_HOME or ~/.cache, under
    pe-search/inductor) instead of its default under /tmp, which a reboot empties: compiling
    the front end takes 20-60 s cold and a few seconds from the cache, once per process.

    Leaves an explicit TORCHINDUCTOR_CACHE_DIR alone; returns the directory in use, or None
    where no writable one could be made (inductor then keeps its default)."""
    if os.environ.get(INDUCTOR_CACHE_ENV):
        return Path(os.environ[INDUCTOR_CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    directory = Path(base) / "pe-search" / "inductor"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(directory, os.W_OK):
        return None
    os.environ[INDUCTOR_CACHE_ENV] = str(directory)
    return directory


# ---------------------------------------------------------------------------------- DAC front end
class _Conv(nn.Module):
    """A `Conv1d` as a channels-last `conv2d` over (batch, channels, 1, time), weights shared."""

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"unsupported convolution for the fast front end: {conv}")
        weight = conv.weight.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)
        self.register_buffer("weight", weight, persistent=False)
        self.register_buffer(
            "bias", None if conv.bias is None else conv.bias.detach().clone(), persistent=False
        )
        self.stride = (1, conv.stride[0])
        self.padding = (0, conv.padding[0])
        self.dilation = (1, conv.dilation[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class _Snake1d(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        alpha = module.alpha.detach().unsqueeze(-1)  # (1, C, 1, 1)
        self.register_buffer("alpha", alpha.clone(), persistent=False)
        self.register_buffer("inverse", (alpha + 1e-9).reciprocal(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Under torch.compile inductor fuses the plain arithmetic into one kernel.
        fn = snake_reference if torch.compiler.is_compiling() else snake_in_place
        return fn(x, self.alpha, self.inverse)


class _ResidualUnit(nn.Module):
    def __init__(self, unit: nn.Module) -> None:
        super().__init__()
        self.snake1, self.conv1 = _Snake1d(unit.snake1), _Conv(unit.conv1)
        self.snake2, self.conv2 = _Snake1d(unit.snake2), _Conv(unit.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.snake2(self.conv1(self.snake1(x))))
        crop = (x.shape[-1] - out.shape[-1]) // 2
        if crop > 0:
            x = x[..., crop:-crop]
        return x + out


class _Block(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.units = nn.ModuleList(
            _ResidualUnit(u) for u in (block.res_unit1, block.res_unit2, block.res_unit3)
        )
        self.snake1, self.conv1 = _Snake1d(block.snake1), _Conv(block.conv1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.units:
            x = unit(x)
        return self.conv1(self.snake1(x))


class FastAudioFrontEnd(nn.Module):
    """Drop-in for `PeAudioEncoderEmbedder`: DAC encoder, bottleneck, data_proj, channels-last.

    With `compile`, the whole front end goes through inductor once (dynamic shapes: one graph
    for every clip length and batch size); if that fails here (no C++ compiler, unsupported
    platform) it logs once and runs eagerly from then on. `torch.compile` is called on the first
    clip, not here: it imports inductor (about a second), which a process that loads the models
    but encodes no audio (a text query) never needs.
    """

    def __init__(self, embedder: nn.Module, compile: bool = True) -> None:
        super().__init__()
        dac = embedder.dac_encoder
        self.conv1 = _Conv(dac.conv1)
        self.blocks = nn.ModuleList(_Block(b) for b in dac.block)
        self.snake1, self.conv2 = _Snake1d(dac.snake1), _Conv(dac.conv2)
        self.bottleneck = _Conv(embedder.bottleneck)
        self.data_proj = embedder.data_proj
        self.hop_length = embedder.config.dac_config.hop_length
        self.compile = compile
        self.compiled = None  # torch.compile's function, made on the first clip

    def forward(
        self, input_values: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # One clip at a time: batching gains nothing on tensors this long, and a batch of one
        # keeps a single compiled graph (dynamic shapes specialise a size of 1).
        embeds = torch.cat([self._one(input_values[i : i + 1]) for i in range(input_values.shape[0])])
        if padding_mask is not None:
            padding_mask = padding_mask[:, :: self.hop_length]
        return embeds, padding_mask

    def _one(self, input_values: torch.Tensor) -> torch.Tensor:
        if self.compile:
            if self.compiled is None:
                persistent_compile_cache()
                self.compiled = torch.compile(self._features, dynamic=True)
            try:
                return self.compiled(input_values)
            except Exception as error:  # inductor could not build or run its kernels here
                log.warning("compiled audio front end failed (%s); running it eagerly", error)
                self.compile, self.compiled = False, None
        return self._features(input_values)

    def _features(self, input_values: torch.Tensor) -> torch.Tensor:
        x = input_values.unsqueeze(2).contiguous(memory_format=torch.channels_last)  # (B, 1, 1, T)
        x = self.conv1(x)
        for block in self.blocks:
            x = block(x)
        x = self.bottleneck(self.conv2(self.snake1(x)))  # (B, codebook, 1, frames)
        return self.data_proj(x.squeeze(2).transpose(1, 2))


def audio_front_end(embedder: nn.Module, fast: bool) -> nn.Module:
    """The module that turns waveforms into the temporal transformer's inputs."""
    if not fast:
        return embedder
    try:
        return FastAudioFrontEnd(embedder, compile=compile_enabled()).eval()
    except (AttributeError, ValueError) as error:
        log.warning("fast audio front end unavailable (%s); using the plain one", error)
        return embedder


# ---------------------------------------------------------------------------------- vision model
def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matmuls run natively (faster than float32) on `device`."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


class PlainVisionModel(nn.Module):
    """The vision model as `forward()` runs it: pixels -> per-frame logits."""

    def __init__(self, vision_model: nn.Module) -> None:
        super().__init__()
        self.vision_model = vision_model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vision_model(pixels).logits


class FastVisionModel(PlainVisionModel):
    """The vision model under bfloat16 autocast (norms and softmax stay float32); float32 out."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pixels.device.type, dtype=torch.bfloat16):
            logits = self.vision_model(pixels).logits
        return logits.to(pixels.dtype)


def vision_model(vision: nn.Module, bf16: bool, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """pixels -> per-frame logits: bf16 autocast if asked, with float32 weights and native bf16."""
    if bf16 and dtype == torch.float32 and native_bf16(device):
        return FastVisionModel(vision).eval()
    return PlainVisionModel(vision).eval()
