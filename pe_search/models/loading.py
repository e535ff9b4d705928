"""Find a PE checkpoint (hub id or local directory), detect its kind, and load it.

A hub id is first resolved to a local snapshot directory; from there a hub checkpoint and a
saved directory take the same path through `from_pretrained`. transformers' PE classes live in
`pe_classes.py`, imported only when a whole model is loaded (a text query loads less:
`text_encoder.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pe_search.errors import ModelLoadError, Option
from pe_search.media.rate import PE_HOP_SAMPLES, SAMPLE_RATE
from pe_search.models.shipped import TOY_FRAME_MODEL, TOY_MODEL, TOY_MODELS, toy_model_dir

if TYPE_CHECKING:  # torch is imported where a model is loaded: a text query run by
    import torch  # onnxruntime never imports it (text_graph.py)

log = logging.getLogger(__name__)

CHECKPOINT_FILES = [
    "config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
]


@dataclass(frozen=True)
class AudioSettings:
    sampling_rate: int
    hop_length: int  # samples per output frame (1920 at 48 kHz: 40 ms)

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sampling_rate


def paired_frame_model(model: str | Path | None) -> str | None:
    """The frame model that comes with `model`: "toy-frame" for the toy PE-AV, else None."""
    return TOY_FRAME_MODEL if str(model) == TOY_MODEL else None


def resolve_checkpoint_dir(source: str | Path) -> Path:
    """The local directory holding `source`: the directory itself, the hub id's cached snapshot,
    or one of the toy checkpoints shipped with pe-search ("toy", "toy-frame")."""
    if str(source) in TOY_MODELS:
        return toy_model_dir(TOY_MODELS[str(source)])
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{path} has no config.json",
                "point {0} at a PE checkpoint directory",
                options=(Option("model"),),
            )
        return path
    text = str(source)
    if path.exists() or text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise ModelLoadError(
            f"no PE checkpoint at {text!r}: give a Hugging Face id such as facebook/pe-av-small "
            "or a directory with config.json and model.safetensors"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(text, allow_patterns=CHECKPOINT_FILES))
    except (OSError, HfHubHTTPError, ValueError) as error:
        with contextlib.suppress(OSError, HfHubHTTPError, ValueError):
            return Path(snapshot_download(text, allow_patterns=CHECKPOINT_FILES, local_files_only=True))
        raise ModelLoadError(
            f"{text} is not in the local Hugging Face cache and the hub cannot be reached "
            f"({type(error).__name__}); download it where there is network "
            f"(`hf download {text}`) or give the checkpoint's directory instead of the id",
            value=text,
        ) from None


def detect_kind(config: dict) -> str:
    """Which PE model a config.json describes."""
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    if model_type == "pe_audio_video":
        return "audio_video"
    if model_type == "pe_video":
        return "video"
    if model_type == "pe_audio":
        return "audio_frame" if any("FrameLevel" in name for name in architectures) else "audio"
    raise ModelLoadError(
        f"config.json has model_type {model_type!r}; expected a PE checkpoint (pe_audio_video, pe_audio, pe_video)"
    )


SHA256_NAME = re.compile(r"[0-9a-f]{64}")


def file_sha256(file: Path) -> str:
    """The sha256 of a file's bytes. In the hub cache an LFS file's blob is named by exactly that,
    so the name is taken instead of reading gigabytes; a blob named otherwise (git's sha1 of a
    header and the bytes, for small files) is read."""
    resolved = file.resolve()
    if resolved.parent.name == "blobs" and SHA256_NAME.fullmatch(resolved.name):
        return resolved.name
    digest = hashlib.sha256()
    with open(resolved, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def weights_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.safetensors"))


def weights_digest(directory: Path) -> str:
    """The weights' identity: the sha256 of each weights file's sha256 (hex, in name order).

    The same bytes give the same identity wherever they sit: in the hub cache (where the blob's
    name is its sha256) and in a plain directory (`hf download --local-dir`, a copy, a save)."""
    return hashlib.sha256("".join(file_sha256(f) for f in weights_files(directory)).encode()).hexdigest()


def former_weights_digests(directory: Path) -> tuple[str, ...]:
    """The identities releases before this one recorded for these weights, so their libraries
    open after an upgrade. From a directory they hashed the files' bytes one after another (for
    one file: its sha256, known without reading when it sits in the hub cache); from the hub cache
    the blob names, which is today's form."""
    files = weights_files(directory)
    if len(files) == 1:
        return (file_sha256(files[0]),)
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    return (digest.hexdigest(),)


def config_digest(directory: Path) -> str:
    config = json.loads((directory / "config.json").read_text())
    config.pop("transformers_version", None)
    config.pop("architectures", None)
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


# transformers builds models on the meta device inside process-wide context managers and flips
# global logging settings: two threads loading at once get "Cannot copy out of meta tensor".
_LOADING = threading.Lock()


@contextlib.contextmanager
def quiet_loading():
    """Hold the process's one model load at a time, with transformers' logging and progress bars
    quiet while it runs (a whole model here, or a text tower in `text_encoder.py`)."""
    import transformers

    with _LOADING:
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        try:
            yield
        finally:
            transformers.logging.set_verbosity(verbosity)
            transformers.logging.enable_progress_bar()


def load_model(directory: Path, kind: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    from pe_search.models.pe_classes import MODEL_CLASSES  # the whole model's classes (timm and all)

    with quiet_loading():
        try:
            model = MODEL_CLASSES[kind].from_pretrained(directory, dtype=dtype)
        except (OSError, ValueError, RuntimeError) as error:
            raise ModelLoadError(
                f"cannot load the checkpoint in {directory}: {error}".splitlines()[0]
            ) from None
    return model.to(device).eval()


def load_tokenizer(directory: Path):
    """The checkpoint's tokenizer. AutoTokenizer would build the whole PE config to learn the
    model type (for PE-AV: PE-V's config, which imports timm and torchvision); it is given a bare
    config with what it reads from one instead: the model type and any tokenizer class."""
    from transformers import AutoTokenizer, PreTrainedConfig

    recorded = json.loads((directory / "config.json").read_text())
    config = PreTrainedConfig(tokenizer_class=recorded.get("tokenizer_class"))
    config.model_type = recorded.get("model_type", "")
    try:
        return AutoTokenizer.from_pretrained(directory, config=config)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot load the tokenizer in {directory}: {error}".splitlines()[0]) from None


def load_audio_settings(directory: Path) -> AudioSettings:
    file = directory / "preprocessor_config.json"
    config = json.loads(file.read_text()) if file.is_file() else {}
    return AudioSettings(
        int(config.get("sampling_rate", SAMPLE_RATE)), int(config.get("hop_length", PE_HOP_SAMPLES))
    )


DEVICE_TYPES = ("cpu", "cuda", "mps")  # the torch device types pe-search runs on


def pick_device(device: str | torch.device | None) -> torch.device:
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        chosen = None
    if chosen is None or chosen.type not in DEVICE_TYPES:
        raise ModelLoadError(
            "{0} is not a device pe-search can use",
            "use {1} or {2} (cuda:N for one GPU)",
            options=(Option("device", str(device)), Option("device", "cpu"), Option("device", "cuda")),
            value=device,
        )
    device = chosen
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(
            "{0} was asked for but this machine has no Metal GPU",
            "use {1}",
            options=(Option("device", "mps"), Option("device", "cpu")),
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            "{0} was asked for but no CUDA GPU is visible",
            "use {1}",
            options=(Option("device", "cuda"), Option("device", "cpu")),
        )
    return device


FULL_PRECISION = (None, "float32", "fp32")  # what `dtype` may be for float32 (the default)


def pick_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    import torch

    if dtype in FULL_PRECISION:
        return torch.float32
    if dtype in ("bfloat16", "bf16", torch.bfloat16):
        return torch.bfloat16
    if isinstance(dtype, torch.dtype):
        return dtype
    raise ModelLoadError(f"unknown precision {dtype!r}: use float32 or bfloat16")
