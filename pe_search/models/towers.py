"""The towers of a PE checkpoint, run batched so that padding never changes a clip's output.

transformers' `get_*_embeds` helpers are broken in 5.23 (see docs/model-layer.md), so this
module drives the towers' own submodules in the order `forward()` does. Two things differ
from a naive batch:

- the DAC front end (convolutions at 48 kHz) runs on clips of equal length only: zero padding
  inside its receptive field would change the last frames of a shorter clip;
- the vision tower runs only on real frames; padded frames are masked out of the temporal
  transformer exactly as `forward()` masks them.

With the speed paths on, the vision model's output per frame is remembered by the frame's
content (`frame_cache`): frames that overlapping windows share run through the ViT once.
`PeEncoder` (encoder.py) adds the heads that project tower states into the embedding spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pe_search.models import fast_paths, loading
from pe_search.models.frame_cache import FrameFeatureCache
from pe_search.models.serial import EncoderLock, serialised
from pe_search.models.text_side import TEXT_MAX_TOKENS
from pe_search.models.torch_compat import ensure_torchvision_importable

ensure_torchvision_importable()

from transformers.masking_utils import create_bidirectional_mask  # noqa: E402


@dataclass
class TowerOutput:
    """One clip through a tower: the class-token state and the per-frame states (before heads)."""

    pooled: torch.Tensor  # (hidden,)
    frames: torch.Tensor  # (frames, hidden)


def encoder_body(encoder: nn.Module, embeds: list[torch.Tensor]) -> list[TowerOutput]:
    """The temporal transformer of a PE encoder over a padded batch, masked as `forward()` masks.

    Plain torch (no inference mode): `toy/train.py` trains through it."""
    lengths = [e.shape[0] for e in embeds]
    width = max(lengths)
    batch = embeds[0].new_zeros((len(embeds), width, embeds[0].shape[-1]))
    mask = torch.zeros((len(embeds), width), dtype=torch.long, device=batch.device)
    for row, e in enumerate(embeds):
        batch[row, : e.shape[0]] = e
        mask[row, : e.shape[0]] = 1
    padded = min(lengths) != width
    hidden, attention = encoder.patch_embedder(batch, padding_mask=mask if padded else None)
    if attention is not None:
        attention = create_bidirectional_mask(
            config=encoder.config, inputs_embeds=hidden, attention_mask=attention
        )
    positions = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
    rotary = encoder.rotary_emb(hidden, positions)
    for layer in encoder.layers[: encoder.config.num_hidden_layers]:
        hidden = layer(hidden, attention_mask=attention, position_embeddings=rotary)
    hidden = encoder.output(encoder.norm(hidden))
    return [TowerOutput(hidden[row, 0], hidden[row, 1 : 1 + n]) for row, n in enumerate(lengths)]


def fuse_input(embedder: nn.Module, audio_frames: torch.Tensor, video_frames: torch.Tensor) -> torch.Tensor:
    """The fused encoder's input for one clip: video states aligned to the audio frames."""
    video = embedder.video_proj(video_frames.T.unsqueeze(0)).squeeze(0).T
    if video.shape[0] != audio_frames.shape[0]:
        video = F.interpolate(video.T.unsqueeze(0), size=audio_frames.shape[0], mode="nearest").squeeze(0).T
    video = embedder.video_norm(video)
    return embedder.data_proj(embedder.concat_modality_proj(torch.cat([audio_frames, video], dim=-1)))


def cls_text_states(output) -> torch.Tensor:
    """The text tower's CLS states, as `forward()` takes them: the last hidden layer's first token."""
    return output.hidden_states[-1][:, 0]


def text_states(tokenizer, text_model: nn.Module, texts: Sequence[str], batch_size: int) -> torch.Tensor:
    """The last text layer's CLS state per text (hidden_states[-1][:, 0], as `forward()` takes
    it), texts batched by token length; the one text path of the whole encoder and of the text
    tower loaded alone (`text_encoder.py`)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings")
    device = next(text_model.parameters()).device
    states = [None] * len(texts)
    lengths = [len(tokenizer(t, truncation=True, max_length=TEXT_MAX_TOKENS)["input_ids"]) for t in texts]
    with torch.inference_mode():
        for batch in by_length(lengths, max(batch_size, 32)):
            tokens = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=TEXT_MAX_TOKENS,
                return_tensors="pt",
            ).to(device)
            output = text_model(
                input_ids=tokens["input_ids"],
                attention_mask=tokens["attention_mask"],
                output_hidden_states=True,
                return_dict=True,
            )
            cls_states = cls_text_states(output)
            for row, index in enumerate(batch):
                states[index] = cls_states[row]
    return torch.stack(states) if states else torch.empty(0, text_model.config.hidden_size)


def tied(first: nn.Module, second: nn.Module) -> bool:
    return all(
        a is b or a.data_ptr() == b.data_ptr() for a, b in zip(first.parameters(), second.parameters())
    )


def by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first, so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class PeTowers:
    """The text, audio, video and fused towers of a loaded checkpoint, run batched and padded.

    Audio clips are mono float32 arrays at `audio.sampling_rate`; video clips are float tensors
    (frames, 3, H, W) already preprocessed. Outputs are tower states before any head.
    """

    def __init__(
        self,
        model: nn.Module,
        kind: str,
        audio: loading.AudioSettings,
        batch_size: int = 8,
        fast: bool | None = None,
        bf16_vision: bool | None = None,
    ) -> None:
        self.model = model
        self.fast = fast_paths.fast_default() if fast is None else fast
        self.bf16_vision = fast_paths.bf16_default() if bf16_vision is None else bf16_vision
        self.kind = kind
        self.audio = audio
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        self.calls = EncoderLock()  # one caller at a time: see models/serial.py
        self.dtype = next(model.parameters()).dtype
        self._set_towers()

    def _set_towers(self) -> None:
        model, kind = self.model, self.kind
        self.audio_tower = self.video_tower = self.fused = None
        if kind == "audio_video":
            self.text_model = model.text_model
            self.audio_tower = model.audio_model.audio_encoder
            self.video_tower = model.video_model.video_encoder
            self.fused = model.audio_video_encoder
            embedder = self.fused.embedder
            self._fused_audio_tied = tied(embedder.audio_encoder, self.audio_tower)
            self._fused_video_tied = tied(embedder.video_encoder, self.video_tower)
        elif kind in ("audio", "audio_frame"):
            self.text_model = model.text_model
            self.audio_tower = model.audio_encoder
        else:
            self.text_model = model.text_model
            self.video_tower = model.video_encoder
        self._front_ends: dict[int, nn.Module] = {
            id(tower): fast_paths.audio_front_end(tower.embedder, self.fast)
            for tower in self._towers(self.audio_tower, "audio")
        }
        self._vision_models: dict[int, nn.Module] = {
            id(tower): fast_paths.vision_model(
                tower.embedder.vision_model, self.fast and self.bf16_vision, self.device, self.dtype
            )
            for tower in self._towers(self.video_tower, "video")
        }
        # Frames shared by overlapping windows run through the vision model once (exact: same input).
        self._frame_caches: dict[int, FrameFeatureCache] = (
            {key: FrameFeatureCache() for key in self._vision_models} if self.fast else {}
        )

    def _towers(self, tower: nn.Module | None, modality: str) -> list[nn.Module]:
        """`tower`, and the fused encoder's own copy of it where that is not tied to it."""
        towers = [tower] if tower is not None else []
        if self.fused is not None and not getattr(self, f"_fused_{modality}_tied"):
            towers.append(getattr(self.fused.embedder, f"{modality}_encoder"))
        return towers

    @serialised
    def forget_frames(self) -> None:
        """Empty the per-frame vision cache (so a benchmark's second run pays the full cost again)."""
        for cache in self._frame_caches.values():
            cache.clear()

    def vision_model(self, tower: nn.Module) -> nn.Module:
        """The module that runs frames through `tower`'s vision model (the fast path's, if on)."""
        return self._vision_models[id(tower)]

    def frame_cache(self, tower: nn.Module) -> FrameFeatureCache | None:
        """The per-frame feature cache of `tower` (None when the speed paths are off)."""
        return self._frame_caches.get(id(tower))

    def audio_front_end(self, encoder: nn.Module) -> nn.Module:
        """The waveform -> transformer-input stage of an audio tower (fast or plain)."""
        return self._front_ends.get(id(encoder), encoder.embedder)

    @property
    def frame_seconds(self) -> float:
        """Duration of one audio frame (40 ms for the released checkpoints)."""
        return self.audio.frame_seconds

    def audio_inputs(self, clip: np.ndarray) -> torch.Tensor:
        """Reflect-pad to a multiple of the hop, as PeAudioFeatureExtractor does."""
        clip = np.asarray(clip, dtype=np.float32).reshape(-1)
        if clip.size == 0:
            raise ValueError("an audio clip is empty")
        hop = self.audio.hop_length
        if clip.size % hop:
            clip = np.pad(clip, (0, hop - clip.size % hop), mode="reflect" if clip.size > 1 else "edge")
        return torch.from_numpy(clip)

    def _audio_tower(self, encoder: nn.Module, clips: list[torch.Tensor]) -> list[TowerOutput]:
        """Audio tower; the DAC front end only ever sees clips of one length together."""
        embeds: list[torch.Tensor | None] = [None] * len(clips)
        by_length: dict[int, list[int]] = {}
        for index, clip in enumerate(clips):
            by_length.setdefault(clip.numel(), []).append(index)
        for indices in by_length.values():
            for start in range(0, len(indices), self.batch_size):
                group = indices[start : start + self.batch_size]
                values = torch.stack([clips[i] for i in group]).unsqueeze(1).to(self.device, self.dtype)
                states, _ = self.audio_front_end(encoder)(values)
                for row, index in enumerate(group):
                    embeds[index] = states[row]
        return encoder_body(encoder, embeds)

    def _video_features(self, encoder: nn.Module, clips: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-frame inputs of the temporal transformer: the vision model on real frames only."""
        embedder = encoder.embedder
        vision = self.vision_model(encoder)
        chunk = max(self.batch_size * 4, 16)

        def run_vision(frames: torch.Tensor) -> torch.Tensor:
            frames = frames.to(self.device, self.dtype)
            return torch.cat([vision(frames[s : s + chunk]) for s in range(0, frames.shape[0], chunk)])

        frames = torch.cat(list(clips))
        cache = self._frame_caches.get(id(encoder))
        logits = cache.run(frames, run_vision) if cache is not None else run_vision(frames)
        features = embedder.data_proj(embedder.proj(F.normalize(logits, dim=-1)))
        return list(torch.split(features, [c.shape[0] for c in clips]))

    def _video_tower(
        self, encoder: nn.Module, clips: list[torch.Tensor], with_frames: bool = False
    ) -> list[TowerOutput] | tuple[list[TowerOutput], list[torch.Tensor]]:
        """Video tower. With `with_frames`, also each frame alone as a one-frame clip (pooled
        states), reusing the vision model's per-frame work."""
        features = self._video_features(encoder, clips)
        outputs = encoder_body(encoder, features)
        if not with_frames:
            return outputs
        singles = [f[i : i + 1] for f in features for i in range(f.shape[0])]
        pooled = [o.pooled for o in encoder_body(encoder, singles)] if singles else []
        per_clip = list(torch.split(torch.stack(pooled), [c.shape[0] for c in clips])) if pooled else []
        return outputs, per_clip

    def _audio_clips(self, clips: Sequence[np.ndarray]) -> list[torch.Tensor]:
        if self.audio_tower is None:
            raise ValueError(f"this {self.kind} checkpoint has no audio tower")
        return [self.audio_inputs(c) for c in clips]

    def _video_clips(self, clips: Sequence[torch.Tensor | np.ndarray]) -> list[torch.Tensor]:
        if self.video_tower is None:
            raise ValueError(f"this {self.kind} checkpoint has no video tower")
        tensors = [torch.as_tensor(c, dtype=torch.float32) for c in clips]
        for t in tensors:
            if t.ndim != 4 or t.shape[1] != 3 or t.shape[0] == 0:
                raise ValueError(
                    f"a video clip must be (frames, 3, H, W) with at least one frame, got {tuple(t.shape)}"
                )
        return tensors

    def _batched(self, lengths: list[int], run) -> list:
        """Run `run(indices)` over length-sorted batches; results back in input order."""
        results: list = [None] * len(lengths)
        with torch.inference_mode():
            for batch in by_length(lengths, self.batch_size):
                for index, value in zip(batch, run(batch)):
                    results[index] = value
        return results

    @serialised
    def audio_tower_outputs(self, clips: Sequence[np.ndarray]) -> list[TowerOutput]:
        tensors = self._audio_clips(clips)
        return self._batched(
            [t.numel() for t in tensors],
            lambda b: self._audio_tower(self.audio_tower, [tensors[i] for i in b]),
        )

    @serialised
    def video_tower_outputs(self, clips: Sequence[torch.Tensor]) -> list[TowerOutput]:
        tensors = self._video_clips(clips)
        return self._batched(
            [t.shape[0] for t in tensors],
            lambda b: self._video_tower(self.video_tower, [tensors[i] for i in b]),
        )
