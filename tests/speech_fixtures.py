"""Helpers for transcription tests: a tiny random Whisper checkpoint (until the trained toy lands)
and generated speech whose every word's place is known (pe_search.toy.speech)."""

from __future__ import annotations

from pathlib import Path

from pe_search.toy import speech_model

MAX_TOKENS = 16  # a random model talks until its limit: a short one keeps each chunk to seconds


def tiny_whisper(directory: Path, seed: int = 0) -> Path:
    """A seeded random tiny Whisper with its processor, saved as a checkpoint directory."""
    model, processor = speech_model.build(seed)
    model.generation_config.max_length = MAX_TOKENS
    speech_model.save(model, processor, directory)
    return directory
