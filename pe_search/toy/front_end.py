"""A designed (not learned) DAC front end for the toy audio towers: a band-energy filterbank.

PE's audio tower starts with a DAC convolutional encoder that `forward()` runs frozen, under
`no_grad`. Trained DAC weights cannot reach these machines, a default-initialised DAC outputs ~1e-5
for every input, and a random one scrambles pitch (its strided convolutions alias). Training it
through its own call costs too much on two CPU cores. So the toy models' front end is designed:
with the same modules and shapes, its weights compute the energy in 11 overlapping frequency bands
(centres from 60 Hz to 5.5 kHz, about half an octave apart) for every 40 ms frame, which is what
the toy sounds differ in.

How the DAC's pieces are used (ratios 4, 4, 5, 24 = the 1920-sample hop):

- a Snake activation with alpha = 0 is exactly the identity; every Snake is linear except the
  one before each block's strided convolution on the band channels, where
  `x + sin(alpha x)^2 / alpha` squares the band signal (the linear part averages out);
- a residual unit `x + conv2(conv1(x))` with a diagonal `conv1` applies the filter `delta + f` to
  each channel, so each block's three units (dilations 1, 3, 9) give every channel a 79-tap
  filter: the anti-aliasing low-pass of the signal channel or a band-pass;
- each block's strided convolution decimates the low-passed signal into copies for the next
  block's filters, averages the squared band signals (band energy) and carries the energies made
  earlier, averaged again;
- the final convolution and the bottleneck pass the 11 energies on (times `OUTPUT_GAIN`).

The filter taps are fitted to the wanted responses by least squares in the frequency domain (no
audio needed), seeded, all filters and restarts batched, in a few seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from pe_search.media import rate as media_rate

SAMPLE_RATE = media_rate.SAMPLE_RATE
RATIOS = (4, 4, 5, 24)
DAC_WIDTH = 2  # encoder_hidden_size: channels of the first block's residual units
BAND_ALPHA = 2.0  # Snake alpha on band channels: sin^2 folds back only above amplitude ~0.96
# The bottleneck's gain on the energies. The first thing after the front end is a GroupNorm (eps
# 1e-5) over each clip: energies below ~1e-5 (a -50 dB noise floor) stay ~0 there, as silence,
# while sparse clicks (~1e-4) must stand clear of it, so they are lifted.
OUTPUT_GAIN = 100.0


@dataclass(frozen=True)
class BlockPlan:
    """What one DAC block does: its input rate, the centres (Hz) of the bands it measures, the
    highest frequency its input carries faithfully, the anti-aliasing filter of the signal it
    hands on (pass-band edge, stop-band start), and whether its bands use (+x, -x) channel pairs
    (exact squares: the linear part cancels, which matters for the lowest bands)."""

    rate: int
    centres: tuple[float, ...]
    valid: float
    low_pass: float | None
    stop: float | None
    paired: bool = False


# Neighbouring bands overlap (triangles on a log-frequency axis), so a tone's pitch shows in the
# ratio of two neighbouring energies and no frequency falls between bands.
PLAN = (
    BlockPlan(48_000, (5_500,), valid=24_000, low_pass=5_000, stop=7_000),
    BlockPlan(12_000, (3_200, 1_800), valid=5_000, low_pass=1_100, stop=1_900),
    BlockPlan(3_000, (1_050, 700, 470, 320), valid=1_300, low_pass=260, stop=340),
    BlockPlan(600, (210, 140, 95, 60), valid=280, low_pass=None, stop=None, paired=True),
)
CENTRES = sorted(c for plan in PLAN for c in plan.centres)
N_BANDS = len(CENTRES)  # 11


# ----------------------------------------------------------------------------------- filter design


def _response(taps, kernel, dilations, w):
    """Real (zero-phase) response of symmetric 7-tap factors, each dilated, times the strided
    kernel's (even length, centred between its middle taps) response, at frequencies w (rad)."""
    response = torch.ones(taps[0].shape[:-1] + w.shape)
    offsets = torch.arange(1, 4, dtype=w.dtype)
    for half, d in zip(taps, dilations):
        # half = (g0, g1, g2, g3): g0 at the centre, g_k at +-k*d.
        response = response * (half[..., :1] + 2 * half[..., 1:] @ torch.cos(offsets[:, None] * d * w))
    if kernel is not None:
        positions = torch.arange(kernel.shape[-1], dtype=w.dtype) + 0.5
        response = response * (2 * kernel @ torch.cos(positions[:, None] * w))
    return response


@torch.enable_grad()
def _fit(targets, weights, w, dilations, stride, seed: int, steps: int = 600, restarts: int = 6):
    """Fit cascade taps (and half a strided kernel when `stride`) to each target(w) under its
    weight(w): all problems and `restarts` random starts at once; the best start per problem."""
    n = targets.shape[0]
    generator = torch.Generator().manual_seed(seed)
    delta = torch.tensor([1.0, 0.0, 0.0, 0.0])
    taps = [
        (delta + 0.3 * torch.randn(restarts, n, 4, generator=generator)).requires_grad_() for _ in dilations
    ]
    params = list(taps)
    kernel = None
    if stride is not None:
        kernel = torch.full((restarts, n, stride), 1.0 / (2 * stride)).requires_grad_()
        params.append(kernel)
    optimizer = torch.optim.Adam(params, lr=0.02)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        loss = (weights * (_response(taps, kernel, dilations, w).abs() - targets) ** 2).mean(-1)
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        loss = (weights * (_response(taps, kernel, dilations, w).abs() - targets) ** 2).mean(-1)
        best, pick = loss.argmin(0), torch.arange(n)
        chosen = [t.detach()[best, pick] for t in taps]
        return chosen, (kernel.detach()[best, pick] if kernel is not None else None), loss[best, pick]


def _band_targets(plan: BlockPlan, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Triangles on a log-frequency axis between the neighbouring centres (the top band stays
    open above, the bottom one below, down to 20 Hz); free above what the block's input carries."""
    f = (w * plan.rate / (2 * math.pi)).clamp(min=1.0)
    targets = []
    for centre in plan.centres:
        k = CENTRES.index(centre)
        below = CENTRES[k - 1] if k > 0 else None
        above = CENTRES[k + 1] if k + 1 < len(CENTRES) else None
        rise = torch.ones_like(f) if below is None else (f.log() - math.log(below)) / math.log(centre / below)
        fall = torch.ones_like(f) if above is None else (math.log(above) - f.log()) / math.log(above / centre)
        target = torch.minimum(rise, fall).clamp(0.0, 1.0)
        targets.append(torch.where(f < 20.0, 0.0, target) if below is None else target)
    weight = (w * plan.rate / (2 * math.pi) <= plan.valid).float()
    return torch.stack(targets), weight.expand(len(targets), -1)


def _low_pass_target(plan: BlockPlan, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = w * plan.rate / (2 * math.pi)
    target = (f <= plan.low_pass).float()
    weight = ((f <= plan.low_pass) | (f >= plan.stop)).float() * torch.where(f >= plan.stop, 8.0, 1.0)
    return target[None], weight[None]


def _full_taps(half: torch.Tensor) -> torch.Tensor:
    return torch.cat([half.flip(0)[:-1], half])  # g3 g2 g1 g0 g1 g2 g3


def _set_filter(units, channel: int, taps: list[torch.Tensor], sign: float = 1.0) -> None:
    """Make the three residual units apply the cascade `taps` (times `sign`) to one channel:
    x + conv2(conv1(x)) with conv1 = taps - delta and conv2 = 1 is the filter `taps`."""
    delta = torch.zeros(7)
    delta[3] = 1.0
    for unit, half in zip(units, taps):
        unit.conv1.weight[channel, channel] = _full_taps(half) * (sign if unit is units[0] else 1.0) - delta
        unit.conv2.weight[channel, channel, 0] = 1.0


@torch.no_grad()
def design(embedder: nn.Module, seed: int = 0) -> dict[str, float]:
    """Write the band-energy front end into an audio encoder's `embedder` (its `dac_encoder` and
    `bottleneck`); the DAC must have `RATIOS` and `DAC_WIDTH` (e.g. `tiny.model_config(...,
    downsampling_ratios=RATIOS, dac_width=DAC_WIDTH)`). Returns each fitted filter's error."""
    dac = embedder.dac_encoder
    ratios = tuple(block.conv1.stride[0] for block in dac.block)
    if ratios != RATIOS or dac.conv1.out_channels != DAC_WIDTH or embedder.bottleneck.out_channels < N_BANDS:
        raise ValueError(f"the designed front end needs ratios {RATIOS} and width {DAC_WIDTH}, got {ratios}")
    for module in dac.modules():
        if isinstance(module, nn.Conv1d):
            module.weight.zero_()
            if module.bias is not None:
                module.bias.zero_()
        elif hasattr(module, "alpha"):
            module.alpha.zero_()  # alpha 0: Snake is exactly the identity
    embedder.bottleneck.weight.zero_()
    embedder.bottleneck.bias.zero_()
    w = torch.linspace(0, math.pi, 512)
    errors: dict[str, float] = {}
    dac.conv1.weight[:, 0, 3] = 1.0  # every first-block channel starts as the waveform
    energies: list[int] = []  # channels (at the current block's input) carrying energies
    copies = list(range(DAC_WIDTH))  # channels holding the (decimated) waveform
    for index, (block, plan) in enumerate(zip(dac.block, PLAN)):
        stride = RATIOS[index]
        units = (block.res_unit1, block.res_unit2, block.res_unit3)
        dilations = tuple(unit.conv1.dilation[0] for unit in units)
        free = iter(copies)
        low_channel = next(free) if plan.low_pass is not None else None
        targets, weights = _band_targets(plan, w)
        taps, _, loss = _fit(targets, weights, w, dilations, None, seed + 10 * index)
        bands: list[list[int]] = []
        for k, centre in enumerate(plan.centres):
            errors[f"band {centre:g} Hz"] = float(loss[k])
            members = [next(free)] + ([next(free)] if plan.paired else [])
            for sign, channel in zip((1.0, -1.0), members):
                _set_filter(units, channel, [t[k] for t in taps], sign)
                block.snake1.alpha[0, channel, 0] = BAND_ALPHA  # the squaring Snake
            bands.append(members)
        kernel = None
        if low_channel is not None:
            targets, weights = _low_pass_target(plan, w)
            taps, kernel, loss = _fit(targets, weights, w, dilations, stride, seed + 10 * index + 5)
            errors[f"anti-alias {plan.rate} Hz / {stride}"] = float(loss[0])
            _set_filter(units, low_channel, [t[0] for t in taps])
        # The strided convolution: decimated waveform copies, carried energies, new energies.
        conv = block.conv1
        box = torch.full((2 * stride,), 1.0 / (2 * stride))
        out = 0
        next_copies: list[int] = []
        if index + 1 < len(PLAN):
            following = PLAN[index + 1]
            needed = (following.low_pass is not None) + len(following.centres) * (1 + following.paired)
            for _ in range(needed):
                conv.weight[out, low_channel] = torch.cat([kernel[0].flip(0), kernel[0]])
                next_copies.append(out)
                out += 1
        next_energies: list[int] = []
        for channel in energies:
            conv.weight[out, channel] = box
            next_energies.append(out)
            out += 1
        for members in bands:
            for channel in members:
                conv.weight[out, channel] = box
            next_energies.append(out)
            out += 1
        energies, copies = next_energies, next_copies
    # The final Snake is linear; conv2 and the bottleneck hand the energies to data_proj as they are.
    for k, channel in enumerate(energies):
        dac.conv2.weight[k, channel, 1] = 1.0
        embedder.bottleneck.weight[k, k, 0] = OUTPUT_GAIN
    return errors
