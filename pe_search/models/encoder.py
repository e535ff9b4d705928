"""Every PE-AV / PE-A-Frame embedding, batched and padded, equal to what `forward()` computes.

transformers' `get_*_embeds` helpers are broken in 5.23 (see docs/model-layer.md), so this
module drives the towers' own submodules in the order `forward()` does. Two things differ
from a naive batch, both so that padding never changes a clip's embedding:

- the DAC front end (convolutions at 48 kHz) runs on clips of equal length only: zero padding
  inside its receptive field would change the last frames of a shorter clip;
- the vision tower runs only on real frames; padded frames are masked out of the temporal
  transformer exactly as `forward()` masks them.

The audio and video tower outputs are computed once and reused for the fused audio-video
vector when the fused encoder's towers are tied to them (as in every released checkpoint).
With the speed paths on, the vision model's output per frame is remembered by the frame's
content (`frame_cache`): frames that overlapping windows share run through the ViT once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pe_search.models import fast_paths, loading
from pe_search.models.frame_cache import FrameFeatureCache
from pe_search.models.spaces import EMBEDDINGS, Calibration, Space, logit_parameter_path, spaces_for
from pe_search.models.torch_compat import ensure_torchvision_importable

ensure_torchvision_importable()

from transformers.masking_utils import create_bidirectional_mask  # noqa: E402

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class CheckpointIdentity:
    """Where a checkpoint came from and what it is: content hashes of its config and weights."""

    source: str
    kind: str
    config_sha256: str
    weights_sha256: str
    dim: int


def _heads(model: nn.Module, kind: str) -> dict[str, nn.Module]:
    if kind == "audio_video":
        return {
            "text_audio": model.audio_model.text_audio_head,
            "text_video": model.video_model.text_video_head,
            "text_audio_video": model.text_audio_video_head,
            "audio": model.audio_model.audio_head,
            "video": model.video_model.video_head,
            "audio_video": model.audio_video_head,
            "audio_plus_text": model.audio_plus_text_head,
            "video_plus_text": model.video_plus_text_head,
        }
    if kind == "audio":
        return {"text_audio": model.text_audio_head, "audio": model.audio_head}
    if kind == "audio_frame":
        return {"text_audio_frame": model.text_audio_head, "audio_frame": model.audio_head}
    return {"text_video": model.text_video_head, "video": model.video_head}


def _tied(first: nn.Module, second: nn.Module) -> bool:
    return all(
        a is b or a.data_ptr() == b.data_ptr() for a, b in zip(first.parameters(), second.parameters())
    )


def _by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first, so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class PeEncoder:
    """A loaded PE checkpoint that turns text, audio and video into embeddings.

    Audio clips are mono float32 arrays at `audio.sampling_rate`; video clips are float tensors
    (frames, 3, H, W) already preprocessed by `frame_preprocessing` (see
    `pe_search.models.video_preprocessing`). Every method returns float32 numpy arrays in input order.
    """

    def __init__(
        self,
        model: nn.Module,
        kind: str,
        tokenizer,
        audio: loading.AudioSettings,
        identity: CheckpointIdentity,
        frame_preprocessing=None,
        batch_size: int = 8,
        fast: bool | None = None,
        bf16_vision: bool | None = None,
    ) -> None:
        self.model = model
        self.fast = fast_paths.fast_default() if fast is None else fast
        self.bf16_vision = fast_paths.bf16_default() if bf16_vision is None else bf16_vision
        self.kind = kind
        self.tokenizer = tokenizer
        self.audio = audio
        self.identity = identity
        self.frame_preprocessing = frame_preprocessing
        self.batch_size = batch_size
        self.embeddings: tuple[str, ...] = EMBEDDINGS[kind]
        self.spaces: dict[str, Space] = spaces_for(kind)
        self.heads = _heads(model, kind)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self._set_towers()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        source: str | Path,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 8,
        fast: bool | None = None,
        bf16_vision: bool | None = None,
    ) -> PeEncoder:
        """Load a hub id or a local checkpoint directory (both through `from_pretrained`).

        `fast` (default: on unless PE_SEARCH_FAST=0) runs the speed paths of
        `pe_search.models.fast_paths`; `fast=False` drives the plain transformers modules.
        `bf16_vision` (opt-in, or PE_SEARCH_FAST_BF16=1; only with `fast`) runs the vision
        model under bfloat16 autocast where the hardware has native bf16: ~1.8x on the ViT, not
        exact to 1e-4 and not reliably within cosine 0.9999 (see docs/model-layer.md).
        """
        directory = loading.resolve_checkpoint_dir(source)
        config = loading.json.loads((directory / "config.json").read_text())
        kind = loading.detect_kind(config)
        torch_device = loading.pick_device(device)
        model = loading.load_model(directory, kind, torch_device, loading.pick_dtype(dtype, torch_device))
        frames = None
        if kind in ("audio_video", "video") and (directory / "video_preprocessor_config.json").is_file():
            from pe_search.models.video_preprocessing import FramePreprocessing

            frames = FramePreprocessing.from_config(
                loading.json.loads((directory / "video_preprocessor_config.json").read_text())
            )
        heads = _heads(model, kind)
        dim = next(iter(heads.values())).proj.out_features
        identity = CheckpointIdentity(
            source=str(source),
            kind=kind,
            config_sha256=loading.config_digest(directory),
            weights_sha256=loading.weights_digest(directory),
            dim=dim,
        )
        encoder = cls(
            model,
            kind,
            loading.load_tokenizer(directory),
            loading.load_audio_settings(directory),
            identity,
            frames,
            batch_size,
            fast,
            bf16_vision,
        )
        return encoder

    def _set_towers(self) -> None:
        model, kind = self.model, self.kind
        self.audio_tower = self.video_tower = self.fused = None
        if kind == "audio_video":
            self.text_model = model.text_model
            self.audio_tower = model.audio_model.audio_encoder
            self.video_tower = model.video_model.video_encoder
            self.fused = model.audio_video_encoder
            embedder = self.fused.embedder
            self._fused_audio_tied = _tied(embedder.audio_encoder, self.audio_tower)
            self._fused_video_tied = _tied(embedder.video_encoder, self.video_tower)
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
    def dim(self) -> int:
        return self.identity.dim

    @property
    def frame_seconds(self) -> float:
        """Duration of one audio frame (40 ms for the released checkpoints)."""
        return self.audio.frame_seconds

    def calibration(self, space: str) -> Calibration:
        """The space's logit scale and bias, read from the model's own parameters."""
        spec = self._space(space)
        scale = self.model.get_parameter(logit_parameter_path(self.kind, spec.logit_scale))
        bias = self.model.get_parameter(logit_parameter_path(self.kind, spec.logit_bias))
        return Calibration(float(scale.float().item()), float(bias.float().item()))

    def _space(self, space: str) -> Space:
        if space not in self.spaces:
            raise ValueError(
                f"this {self.kind} checkpoint has no {space!r} space; it has {sorted(self.spaces)}"
            )
        return self.spaces[space]

    def _need(self, embedding: str) -> None:
        if embedding not in self.embeddings:
            raise ValueError(
                f"this {self.kind} checkpoint does not compute {embedding!r} embeddings; it computes "
                f"{', '.join(self.embeddings)}"
            )

    # ------------------------------------------------------------------ text
    def text_states(self, texts: Sequence[str]) -> torch.Tensor:
        """The last text layer's CLS state per text, as `forward()` takes it (hidden_states[-1][:, 0])."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings")
        states = [None] * len(texts)
        lengths = [len(self.tokenizer(t, truncation=True, max_length=512)["input_ids"]) for t in texts]
        with torch.inference_mode():
            for batch in _by_length(lengths, max(self.batch_size, 32)):
                tokens = self.tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=512,
                    return_tensors="pt",
                ).to(self.device)
                output = self.text_model(
                    input_ids=tokens["input_ids"],
                    attention_mask=tokens["attention_mask"],
                    output_hidden_states=True,
                    return_dict=True,
                )
                cls_states = cls_text_states(output)
                for row, index in enumerate(batch):
                    states[index] = cls_states[row]
        return torch.stack(states) if states else torch.empty(0, self.text_model.config.hidden_size)

    def embed_text(
        self, texts: Sequence[str], embeddings: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Text in every text space of the checkpoint (or those named): {embedding: (n, dim)}."""
        names = (
            [e for e in self.embeddings if e.startswith("text_")] if embeddings is None else list(embeddings)
        )
        for name in names:
            self._need(name)
        states = self.text_states(texts)
        with torch.inference_mode():
            return {name: self._to_numpy(self.heads[name](states)) for name in names}

    # ------------------------------------------------------------------ towers
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
            for batch in _by_length(lengths, self.batch_size):
                for index, value in zip(batch, run(batch)):
                    results[index] = value
        return results

    # ------------------------------------------------------------------ media embeddings
    def audio_tower_outputs(self, clips: Sequence[np.ndarray]) -> list[TowerOutput]:
        tensors = self._audio_clips(clips)
        return self._batched(
            [t.numel() for t in tensors],
            lambda b: self._audio_tower(self.audio_tower, [tensors[i] for i in b]),
        )

    def video_tower_outputs(self, clips: Sequence[torch.Tensor]) -> list[TowerOutput]:
        tensors = self._video_clips(clips)
        return self._batched(
            [t.shape[0] for t in tensors],
            lambda b: self._video_tower(self.video_tower, [tensors[i] for i in b]),
        )

    def embed_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """One clip-level vector per clip in the audio space (text-audio, audio-video)."""
        self._need("audio")
        outputs = self.audio_tower_outputs(clips)
        with torch.inference_mode():
            return self._stack(self.heads["audio"], [o.pooled for o in outputs])

    def embed_audio_frames(self, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        """PE-A-Frame: one vector every `frame_seconds` per clip, (frames, dim) each."""
        self._need("audio_frame")
        outputs = self.audio_tower_outputs(clips)
        with torch.inference_mode():
            return [self._to_numpy(self.heads["audio_frame"](o.frames)) for o in outputs]

    def embed_video(self, clips: Sequence[torch.Tensor]) -> np.ndarray:
        """One clip-level vector per clip in the video space."""
        self._need("video")
        outputs = self.video_tower_outputs(clips)
        with torch.inference_mode():
            return self._stack(self.heads["video"], [o.pooled for o in outputs])

    def embed_video_and_frames(self, clips: Sequence[torch.Tensor]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Clip vectors and per-frame vectors together; the vision model runs once per frame."""
        self._need("video")
        tensors = self._video_clips(clips)
        results = self._batched(
            [t.shape[0] for t in tensors],
            lambda b: list(zip(*self._video_tower(self.video_tower, [tensors[i] for i in b], True))),
        )
        with torch.inference_mode():
            clip_vectors = self._stack(self.heads["video"], [r[0].pooled for r in results])
            frames = [self._to_numpy(self.heads["video"](r[1])) for r in results]
        return clip_vectors, frames

    def embed_audio_video(
        self,
        audio_clips: Sequence[np.ndarray],
        video_clips: Sequence[torch.Tensor],
        with_frames: bool = False,
    ) -> dict[str, np.ndarray | list[np.ndarray]]:
        """For clips with both streams: {"audio", "video", "audio_video"} vectors, towers run once.

        With `with_frames`, also "video_frame": each frame alone as a one-frame video, per clip.
        """
        self._need("audio_video")
        if len(audio_clips) != len(video_clips):
            raise ValueError("embed_audio_video needs one video clip per audio clip")
        audio = self._audio_clips(audio_clips)
        video = self._video_clips(video_clips)

        def run(batch: list[int]) -> list[tuple]:
            audio_out = self._audio_tower(self.audio_tower, [audio[i] for i in batch])
            video_out = self._video_tower(self.video_tower, [video[i] for i in batch], with_frames)
            video_out, frames = video_out if with_frames else (video_out, [None] * len(batch))
            embedder = self.fused.embedder
            fused_audio = (
                audio_out
                if self._fused_audio_tied
                else self._audio_tower(embedder.audio_encoder, [audio[i] for i in batch])
            )
            fused_video = (
                video_out
                if self._fused_video_tied
                else self._video_tower(embedder.video_encoder, [video[i] for i in batch])
            )
            embeds = [
                fuse_input(self.fused.embedder, a.frames, v.frames) for a, v in zip(fused_audio, fused_video)
            ]
            fused = encoder_body(self.fused, embeds)
            return [
                (a.pooled, v.pooled, f.pooled, fr) for a, v, f, fr in zip(audio_out, video_out, fused, frames)
            ]

        results = self._batched([a.numel() for a in audio], run)
        with torch.inference_mode():
            out: dict[str, np.ndarray | list[np.ndarray]] = {
                "audio": self._stack(self.heads["audio"], [r[0] for r in results]),
                "video": self._stack(self.heads["video"], [r[1] for r in results]),
                "audio_video": self._stack(self.heads["audio_video"], [r[2] for r in results]),
            }
            if with_frames:
                out["video_frame"] = [self._to_numpy(self.heads["video"](r[3])) for r in results]
        return out

    def embed_audio_plus_text(self, audio_clips: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """Audio + text query vectors, searched against video (concat order: audio CLS, text CLS)."""
        self._need("audio_plus_text")
        if len(audio_clips) != len(texts):
            raise ValueError("embed_audio_plus_text needs one text per audio clip")
        pooled = torch.stack([o.pooled for o in self.audio_tower_outputs(audio_clips)])
        with torch.inference_mode():
            return self._to_numpy(
                self.heads["audio_plus_text"](torch.cat([pooled, self.text_states(texts)], -1))
            )

    def embed_video_plus_text(self, video_clips: Sequence[torch.Tensor], texts: Sequence[str]) -> np.ndarray:
        """Video + text query vectors, searched against audio (concat order: video CLS, text CLS)."""
        self._need("video_plus_text")
        if len(video_clips) != len(texts):
            raise ValueError("embed_video_plus_text needs one text per video clip")
        pooled = torch.stack([o.pooled for o in self.video_tower_outputs(video_clips)])
        with torch.inference_mode():
            return self._to_numpy(
                self.heads["video_plus_text"](torch.cat([pooled, self.text_states(texts)], -1))
            )

    # ------------------------------------------------------------------ helpers
    def _stack(self, head: nn.Module, states: list[torch.Tensor]) -> np.ndarray:
        if not states:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._to_numpy(head(torch.stack(states)))

    @staticmethod
    def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().float().cpu().numpy()
