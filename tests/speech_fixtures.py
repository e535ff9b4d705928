"""Helpers for transcription tests: a tiny random Whisper checkpoint (until the trained toy lands)
and generated speech whose every word's place is known (pe_search.toy.speech)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pe_search.models.torch_compat import ensure_torchvision_importable
from pe_search.toy import speech_model

MAX_TOKENS = 16  # a random model talks until its limit: a short one keeps each chunk to seconds


def tiny_whisper(directory: Path, seed: int = 0) -> Path:
    """A seeded random tiny Whisper with its processor, saved as a checkpoint directory."""
    model, processor = speech_model.build(seed)
    model.generation_config.max_length = MAX_TOKENS
    speech_model.save(model, processor, directory)
    return directory


def pipeline_words(model_dir: Path, audio: np.ndarray, language: str) -> list[tuple[str, float, float]]:
    """transformers' own pipeline on one stretch of sound, as the issue asks (no pe-search code)."""
    ensure_torchvision_importable()
    from transformers import pipeline

    pipe = pipeline("automatic-speech-recognition", model=str(model_dir), device="cpu")
    out = pipe(
        {"raw": audio, "sampling_rate": 16_000},
        return_timestamps="word",
        chunk_length_s=30,
        generate_kwargs={"language": language, "task": "transcribe"},
    )
    return [
        (
            c["text"].strip(),
            c["timestamp"][0],
            c["timestamp"][1] if c["timestamp"][1] is not None else c["timestamp"][0],
        )
        for c in out["chunks"]
        if c["text"].strip()
    ]
