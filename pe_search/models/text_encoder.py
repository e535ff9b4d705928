"""A checkpoint's text side loaded alone: its text tower (ModernBERT), tokenizer and text heads.

A text query needs nothing else, yet loading the whole PE model builds the audio, video and fused
towers and imports their libraries (timm, torchvision's models, PE-V's config): most of the
seconds `pe-search search "..."` took from process start (issue 24, item 5). Here the text
tower is built from the checkpoint's own `text_config` through transformers' ModernBERT, and only
its tensors and the text heads' are read from the safetensors files. The vectors are those of
the whole encoder (`PeEncoder.embed_text`, the same `towers.text_states`); the checkpoint's
identity (config and weights digests) is computed exactly as for the whole model, so a library
still refuses another model's text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pe_search.errors import ModelLoadError
from pe_search.models import loading
from pe_search.models.encoder import CheckpointIdentity
from pe_search.models.identity import ModelIdentity
from pe_search.models.model_set import identity_of, load_pair
from pe_search.models.serial import EncoderLock, serialised
from pe_search.models.spaces import HEAD_PATHS, TEXT_MODEL_PATH, text_embeddings
from pe_search.models.text_side import TextSide
from pe_search.models.towers import text_states


def _text_config(config: dict):
    """The text tower's transformers config, as the PE config class builds it: the class's
    defaults for the text sub-config under the checkpoint's own `text_config`."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    spec = CONFIG_MAPPING[config["model_type"]].sub_configs_defaults["text_config"]
    fields = {**spec.init_kwargs, **(config.get("text_config") or {})}
    return AutoConfig.for_model(fields.pop("model_type", spec.model_type), **fields)


def _tensors(directory: Path, prefixes: Sequence[str]) -> dict[str, torch.Tensor]:
    """Every tensor of the checkpoint's safetensors files under one of `prefixes`, by full name;
    nothing else is read."""
    from safetensors import safe_open

    found: dict[str, torch.Tensor] = {}
    for file in loading.weights_files(directory):
        with safe_open(str(file), "pt") as weights:
            for key in weights.keys():  # noqa: SIM118 (safe_open is not a mapping)
                if key.startswith(tuple(prefixes)):
                    found[key] = weights.get_tensor(key)
    return found


def _under(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}


# Where the text tower's tensors may sit: the model's own, else a tied copy a save left behind.
_TEXT_PREFIXES = (f"{TEXT_MODEL_PATH}.", f"audio_model.{TEXT_MODEL_PATH}.", f"video_model.{TEXT_MODEL_PATH}.")


def _text_model(directory: Path, config: dict, tensors: dict, dtype: torch.dtype) -> nn.Module:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    from pe_search.models.docstring_lint import quiet_docstring_lint

    quiet_docstring_lint()
    state = next((found for p in _TEXT_PREFIXES if (found := _under(tensors, p))), None)
    if state is None:
        raise ModelLoadError(f"the checkpoint in {directory} holds no text tower ({TEXT_MODEL_PATH}.*)")
    text_config = _text_config(config)
    model_class = MODEL_MAPPING[type(text_config)]  # the class AutoModel.from_config builds (ModernBERT)
    model, info = model_class.from_pretrained(
        None, config=text_config, state_dict=state, dtype=dtype, output_loading_info=True
    )
    missing = [*info.get("missing_keys", ()), *info.get("mismatched_keys", ())]
    if missing:
        raise ModelLoadError(
            f"the text tower in {directory} does not load: {len(missing)} tensors missing or of "
            f"another shape (first: {sorted(map(str, missing))[0]})"
        )
    return model.eval()


def _head(path: str, tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> nn.Module:
    """A contrastive head (layer norm, then a projection without bias), as transformers' PE
    classes declare it (the four of them are the same module)."""
    from transformers.models.pe_audio.modeling_pe_audio import PeAudioContrastiveHead

    state = _under(tensors, f"{path}.")
    out_dim, in_dim = state["proj.weight"].shape
    head = PeAudioContrastiveHead(in_dim, out_dim)
    head.load_state_dict(state, strict=True)
    return head.to(dtype).eval()


class TextEncoder:
    """One checkpoint's text tower and text heads: `embed_text` as `PeEncoder.embed_text`."""

    def __init__(
        self,
        text_model: nn.Module,
        tokenizer,
        heads: dict[str, nn.Module],
        identity: CheckpointIdentity,
        batch_size: int = 8,
    ) -> None:
        self.text_model = text_model
        self.tokenizer = tokenizer
        self.heads = heads
        self.identity = identity
        self.batch_size = batch_size
        self.calls = EncoderLock()  # one caller at a time, as the whole encoder (models/serial.py)

    @property
    def kind(self) -> str:
        return self.identity.kind

    @property
    def dim(self) -> int:
        return self.identity.dim

    @property
    def embeddings(self) -> tuple[str, ...]:
        return tuple(self.heads)

    @classmethod
    def from_pretrained(
        cls,
        source: str | Path,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 8,
    ) -> TextEncoder:
        """Load the text side of a hub id, a local checkpoint directory or a shipped toy."""
        directory = loading.resolve_checkpoint_dir(source)
        config = json.loads((directory / "config.json").read_text())
        kind = loading.detect_kind(config)
        torch_device = loading.pick_device(device)
        torch_dtype = loading.pick_dtype(dtype, torch_device)
        paths = {e: HEAD_PATHS[kind][e] for e in text_embeddings(kind)}
        tensors = _tensors(directory, [*_TEXT_PREFIXES, *(f"{p}." for p in paths.values())])
        try:
            with loading.quiet_loading():
                text_model = _text_model(directory, config, tensors, torch_dtype)
            heads = {e: _head(path, tensors, torch_dtype).to(torch_device) for e, path in paths.items()}
        except (KeyError, OSError, ValueError, RuntimeError) as error:
            if isinstance(error, ModelLoadError):
                raise
            raise ModelLoadError(
                f"cannot load the text side of {directory}: {error}".splitlines()[0]
            ) from None
        identity = CheckpointIdentity(
            source=str(source),
            kind=kind,
            config_sha256=loading.config_digest(directory),
            weights_sha256=loading.weights_digest(directory),
            dim=next(iter(heads.values())).proj.out_features,
            directory=directory,
        )
        return cls(
            text_model.to(torch_device), loading.load_tokenizer(directory), heads, identity, batch_size
        )

    @serialised
    def embed_text(
        self, texts: Sequence[str], embeddings: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Text in every text space of the checkpoint (or those named): {embedding: (n, dim)}."""
        names = list(self.embeddings if embeddings is None else embeddings)
        for name in names:
            if name not in self.heads:
                raise ValueError(
                    f"this {self.kind} checkpoint does not compute {name!r} from text; it computes "
                    f"{', '.join(self.heads)}"
                )
        states = text_states(self.tokenizer, self.text_model, texts, self.batch_size)
        with torch.inference_mode():
            return {name: self.heads[name](states).detach().float().cpu().numpy() for name in names}

    def embed_one(self, text: str, embedding: str) -> np.ndarray:
        return self.embed_text([text], [embedding])[embedding][0]


@dataclass
class TextModels(TextSide):
    """The text side of a library's models (the clip model's, and the frame model's if any): what
    a text query embeds with, in place of the whole `ModelSet`."""

    clip: TextEncoder
    frames: TextEncoder | None = None

    @classmethod
    def load(
        cls,
        model: str | Path,
        frame_model: str | Path | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 8,
    ) -> TextModels:
        """The text sides of `model` and `frame_model`, checked as `ModelSet.load` checks a pair."""
        clip, frames, _ = load_pair(
            lambda source: TextEncoder.from_pretrained(
                source, device=device, dtype=dtype, batch_size=batch_size
            ),
            model,
            frame_model,
        )
        return cls(clip, frames)

    @property
    def encoders(self) -> list[TextEncoder]:
        return [e for e in (self.clip, self.frames) if e is not None]

    def identity(self) -> ModelIdentity:
        """The models' identity as a library records it (without calibration, which `difference`
        does not compare)."""
        return identity_of([e.identity for e in self.encoders], self.clip.dim)
