"""Every PE-AV / PE-A-Frame embedding, equal to what `forward()` computes.

`PeTowers` (towers.py) runs the towers batched and padded; this module loads a checkpoint and
projects tower states through the checkpoint's heads into its embedding spaces. The audio and
video tower outputs are computed once and reused for the fused audio-video vector when the
fused encoder's towers are tied to them (as in every released checkpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pe_search.models import loading
from pe_search.models.serial import serialised
from pe_search.models.spaces import (
    EMBEDDINGS,
    HEAD_PATHS,
    Calibration,
    Space,
    logit_parameter_path,
    spaces_for,
)
from pe_search.models.towers import PeTowers, encoder_body, fuse_input, text_states

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointIdentity:
    """Where a checkpoint came from and what it is: content hashes of its config and weights."""

    source: str
    kind: str
    config_sha256: str
    weights_sha256: str
    dim: int
    directory: Path | None = field(default=None, compare=False)  # where the files were read

    def former_weights_sha256(self) -> tuple[str, ...]:
        """The older forms of `weights_sha256` (`loading.former_weights_digests`)."""
        return () if self.directory is None else loading.former_weights_digests(self.directory)


def _heads(model: nn.Module, kind: str) -> dict[str, nn.Module]:
    return {embedding: model.get_submodule(path) for embedding, path in HEAD_PATHS[kind].items()}


class PeEncoder(PeTowers):
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
        self.tokenizer = tokenizer
        self.identity = identity
        self.frame_preprocessing = frame_preprocessing
        self.embeddings: tuple[str, ...] = EMBEDDINGS[kind]
        self.spaces: dict[str, Space] = spaces_for(kind)
        self.heads = _heads(model, kind)
        super().__init__(model, kind, audio, batch_size, fast, bf16_vision)

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
            directory=directory,
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

    @property
    def dim(self) -> int:
        return self.identity.dim

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
    @serialised
    def text_states(self, texts: Sequence[str]) -> torch.Tensor:
        """The last text layer's CLS state per text, as `forward()` takes it (hidden_states[-1][:, 0])."""
        return text_states(self.tokenizer, self.text_model, texts, self.batch_size)

    @serialised
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

    # ------------------------------------------------------------------ media embeddings
    @serialised
    def embed_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """One clip-level vector per clip in the audio space (text-audio, audio-video)."""
        self._need("audio")
        outputs = self.audio_tower_outputs(clips)
        with torch.inference_mode():
            return self._stack(self.heads["audio"], [o.pooled for o in outputs])

    @serialised
    def embed_audio_frames(self, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        """PE-A-Frame: one vector every `frame_seconds` per clip, (frames, dim) each."""
        self._need("audio_frame")
        outputs = self.audio_tower_outputs(clips)
        with torch.inference_mode():
            return [self._to_numpy(self.heads["audio_frame"](o.frames)) for o in outputs]

    @serialised
    def embed_video(self, clips: Sequence[torch.Tensor]) -> np.ndarray:
        """One clip-level vector per clip in the video space."""
        self._need("video")
        outputs = self.video_tower_outputs(clips)
        with torch.inference_mode():
            return self._stack(self.heads["video"], [o.pooled for o in outputs])

    @serialised
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

    @serialised
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

    @serialised
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

    @serialised
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
