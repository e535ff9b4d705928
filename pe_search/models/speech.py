"""The transcription model (issue 26): a Whisper-family checkpoint run through transformers'
automatic-speech-recognition pipeline, with word timestamps and 30 s chunks.

`SpeechSource` is what a run was given (a hub id, a directory, or "toy"): small and picklable, so a
decode/encode stage in another process (a Ray actor) loads the same model; `load_speech_model`
loads it once per process and device. `SpeechModel.transcribe` hears the pieces of a file that the
speech gate let through and returns its words in the file's time (each piece's words shifted by
where the piece starts). Its weights identity is the one the PE models use (`loading.weights_digest`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pe_search.errors import ModelLoadError, Option, PeSearchError
from pe_search.models.loading import pick_device, weights_digest
from pe_search.models.serial import EncoderLock, serialised
from pe_search.models.shipped import TOY_SPEECH_DIR, TOY_SPEECH_MODEL
from pe_search.models.torch_compat import ensure_torchvision_importable

SAMPLE_RATE = 16_000  # what Whisper's feature extractor takes
CHUNK_SECONDS = 30.0  # the pipeline's chunk_length_s
SPEECH_MODEL_TYPES = ("whisper",)  # word times come from Whisper's cross-attention alignment heads
SPEECH_FILES = [
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "special_tokens_map.json",
    "normalizer.json",
    "preprocessor_config.json",
]
TRANSCRIBE = Option("transcribe")


class NotASpeechModel(ModelLoadError):
    """The checkpoint given to transcribe with is not a Whisper-family speech model."""


class UnknownLanguage(PeSearchError, ValueError):
    """A language code the transcription model does not know."""


@dataclass(frozen=True)
class SpeechPiece:
    """A stretch of a file's sound the gate let through: mono float32 at 16 kHz from `start` s."""

    start: float
    audio: np.ndarray

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True)
class HeardWord:
    """A word as the model wrote it (leading space stripped), in seconds from the file's start."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Heard:
    """What the model heard in one file: its language and its words in time order."""

    language: str | None
    words: tuple[HeardWord, ...]


@dataclass(frozen=True)
class SpeechSource:
    """What a run was given to transcribe with (hub id, directory or "toy") and the language (None:
    detected per file); another process loads the same model from it."""

    model: str
    language: str | None = None

    def load(self, device: str | None = None) -> SpeechModel:
        return load_speech_model(self.model, device)


_CACHE: dict[tuple[str, str], SpeechModel] = {}
_CACHE_LOCK = threading.Lock()


def load_speech_model(model: str | Path, device: str | None = None) -> SpeechModel:
    """The speech model `model` names, loaded once per process and device."""
    chosen = str(pick_device(device))
    key = (str(model), chosen)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SpeechModel(str(model), resolve_speech_dir(model), chosen)
        return _CACHE[key]


def resolve_speech_dir(model: str | Path) -> Path:
    """The local directory of a speech checkpoint: "toy", a directory, or a hub id's snapshot;
    NotASpeechModel when what is there is not a Whisper-family checkpoint."""
    if str(model) == TOY_SPEECH_MODEL:
        directory = TOY_SPEECH_DIR
        if not (directory / "config.json").is_file():
            raise ModelLoadError(
                f"the toy speech model is not in this installation ({directory})",
                "give a Whisper checkpoint (a hub id such as openai/whisper-small, or its directory) to {0}",
                options=(TRANSCRIBE,),
            )
    else:
        path = Path(model).expanduser()
        text = str(model)
        if path.is_dir():
            directory = path
        elif path.exists() or text.startswith((".", "/", "~")) or text.count("/") != 1:
            raise ModelLoadError(
                f"no speech checkpoint at {text!r}",
                "give {0} a Hugging Face id such as openai/whisper-small or a Whisper checkpoint directory",
                options=(TRANSCRIBE,),
                value=text,
            )
        else:
            directory = _snapshot(text)
    config_file = directory / "config.json"
    model_type = json.loads(config_file.read_text()).get("model_type") if config_file.is_file() else None
    if model_type not in SPEECH_MODEL_TYPES:
        found = f"model_type {model_type!r}" if config_file.is_file() else "no config.json"
        raise NotASpeechModel(
            f"{model} is not a speech model ({found})",
            "give {0} a Whisper-family checkpoint (model_type 'whisper'), such as openai/whisper-small",
            options=(TRANSCRIBE,),
            value=str(model),
        )
    return directory


def _snapshot(hub_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    errors = (OSError, HfHubHTTPError, ValueError)
    try:
        return Path(snapshot_download(hub_id, allow_patterns=SPEECH_FILES))
    except errors as error:
        try:
            return Path(snapshot_download(hub_id, allow_patterns=SPEECH_FILES, local_files_only=True))
        except errors:
            raise ModelLoadError(
                f"{hub_id} is not in the local Hugging Face cache and the hub cannot be reached "
                f"({type(error).__name__}); download it where there is network (`hf download {hub_id}`) "
                "or give its directory",
                value=hub_id,
            ) from None


class SpeechModel:
    """A loaded Whisper-family pipeline. One call at a time (`calls`), as the encoders."""

    def __init__(self, source: str, directory: Path, device: str = "cpu") -> None:
        self.source = source
        self.directory = directory
        self.device = device
        self.weights_digest = weights_digest(directory)
        self.calls = EncoderLock()
        generation = directory / "generation_config.json"
        settings = json.loads(generation.read_text()) if generation.is_file() else {}
        self.multilingual = bool(settings.get("is_multilingual", False))
        codes = [token.strip("<|>") for token in (settings.get("lang_to_id") or {})]
        self.languages: tuple[str, ...] = tuple(codes) if self.multilingual and codes else ("en",)

    @cached_property
    def pipeline(self):
        """transformers' ASR pipeline over the checkpoint (loaded on first use)."""
        ensure_torchvision_importable()
        import transformers
        from transformers import pipeline

        from pe_search.models.loading import _LOADING

        with _LOADING:
            verbosity = transformers.logging.get_verbosity()
            transformers.logging.set_verbosity_error()
            try:
                return pipeline("automatic-speech-recognition", model=str(self.directory), device=self.device)
            except (OSError, ValueError, RuntimeError, KeyError) as error:
                raise NotASpeechModel(
                    f"cannot load {self.source} as a speech model: {error}".splitlines()[0],
                    "give {0} a Whisper-family checkpoint",
                    options=(TRANSCRIBE,),
                    value=self.source,
                ) from None
            finally:
                transformers.logging.set_verbosity(verbosity)

    def check_language(self, language: str | None) -> str | None:
        """`language` as the model knows it (lowercased), or UnknownLanguage naming the codes it knows."""
        if language is None:
            return None
        code = language.strip().lower()
        if code not in self.languages:
            known = ", ".join(self.languages[:40]) + (" ..." if len(self.languages) > 40 else "")
            raise UnknownLanguage(
                f"{self.source} does not know the language {language!r}",
                f"give {{0}} one of the codes it knows: {known} (or leave it out to detect it)",
                options=(Option("language"),),
                value=language,
            )
        return code

    @serialised
    def detect_language(self, audio: np.ndarray) -> str:
        """The language the model hears in the first 30 s of `audio` (16 kHz mono)."""
        if not self.multilingual:
            return self.languages[0]
        import torch

        pipe = self.pipeline
        features = pipe.feature_extractor(
            audio[: int(CHUNK_SECONDS * SAMPLE_RATE)], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features.to(pipe.model.device, pipe.model.dtype)
        with torch.no_grad():
            token = int(pipe.model.detect_language(features)[0])
        return pipe.tokenizer.convert_ids_to_tokens(token).strip("<|>")

    @serialised
    def transcribe(self, pieces: Sequence[SpeechPiece], language: str | None = None) -> Heard:
        """Every piece through the pipeline (word timestamps, 30 s chunks), in the file's time.

        `language`: the file's language if known; else it is detected on the first piece."""
        if not pieces:
            return Heard(language, ())
        if language is None:
            language = self.detect_language(pieces[0].audio)
        kwargs = {"language": language, "task": "transcribe"} if self.multilingual else {}
        words: list[HeardWord] = []
        for piece in pieces:
            # in the file's time; a time past the piece (a model that runs on) is held at its end
            words += [
                HeardWord(text, min(piece.start + start, piece.end), min(piece.start + end, piece.end))
                for text, start, end in self.hear(piece.audio, kwargs)
            ]
        return Heard(language, tuple(words))

    def hear(self, audio: np.ndarray, generate_kwargs: dict) -> list[tuple[str, float, float]]:
        """The pipeline's words of one stretch of sound, in seconds from its start."""
        out = self.pipeline(
            {"raw": np.asarray(audio, np.float32), "sampling_rate": SAMPLE_RATE},
            return_timestamps="word",
            chunk_length_s=CHUNK_SECONDS,
            generate_kwargs=dict(generate_kwargs),
        )
        words = []
        for chunk in out.get("chunks", []):
            text = chunk["text"].strip()
            start, end = chunk["timestamp"]
            if not text or start is None:
                continue
            words.append((text, float(start), float(end if end is not None else start)))
        return words
