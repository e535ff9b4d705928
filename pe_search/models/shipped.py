"""The toy checkpoints shipped with pe-search, by name: the one place that knows "toy" and "toy-frame".

Their files live in the `pe_search.toy` package (its `checkpoints/` folder, shipped in the wheel); the
model layer names them here so that loading a model never imports the toy world, which sits above the
models (it trains and evaluates them).
"""

from __future__ import annotations

from pathlib import Path

TOY_MODEL = "toy"
"""`--model toy`: the toy PE-AV (clip-level audio, video and text)."""
TOY_FRAME_MODEL = "toy-frame"
"""The toy PE-A-Frame (frame-level audio for locating sounds), paired with `TOY_MODEL`."""

TOY_DIR = Path(__file__).resolve().parents[1] / "toy" / "checkpoints"
PE_AV_TOY_DIR = TOY_DIR / "pe-av-toy"
PE_A_FRAME_TOY_DIR = TOY_DIR / "pe-a-frame-toy"
TOY_MODEL_DIRS = {"audio_video": PE_AV_TOY_DIR, "audio_frame": PE_A_FRAME_TOY_DIR}
TOY_MODELS = {TOY_MODEL: "audio_video", TOY_FRAME_MODEL: "audio_frame"}
"""Model name -> the kind of toy checkpoint it names."""


def toy_model_dir(kind: str = "audio_video") -> Path:
    """The shipped toy checkpoint of `kind`: "audio_video" (PE-AV) or "audio_frame" (PE-A-Frame)."""
    try:
        return TOY_MODEL_DIRS[kind]
    except KeyError:
        raise ValueError(
            f"no toy model of kind {kind!r}; expected one of {', '.join(TOY_MODEL_DIRS)}"
        ) from None

TOY_SPEECH_MODEL = "toy"
"""`--transcribe toy`: the toy Whisper (knows only the toy world's words; issue 26)."""
TOY_SPEECH_DIR = TOY_DIR / "whisper-toy"
