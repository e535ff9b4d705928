"""Which models a library uses: one rule for every front door (library API, CLI, HTTP server).

The clip model: the one asked for, else the one the library was built with, else the front door's
default. The frame model (PE-A-Frame, 40 ms audio frames): none when frames are turned off; the one
asked for; else the library's (none if it was built without); else the one paired with the clip
model (`toy` -> `toy-frame`), else the front door's default for a new library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pe_search.models.loading import paired_frame_model

DEFAULT_MODEL = "facebook/pe-av-small"
DEFAULT_FRAME_MODEL = "facebook/pe-a-frame-small"


@dataclass(frozen=True)
class ModelChoice:
    model: str | Path
    frame_model: str | Path | None


def choose_models(
    model: str | Path | None,
    frame_model: str | Path | None,
    recorded: tuple[str, ...],
    *,
    frames: bool = True,
    default_model: str | Path | None = DEFAULT_MODEL,
    default_frame_model: str | Path | None = None,
) -> ModelChoice:
    """`recorded`: the model ids the library was built with (empty for a new library)."""
    chosen = model or (recorded[0] if recorded else default_model)
    if chosen is None:
        raise ValueError("no model: the library records none and none was given")
    if not frames:
        return ModelChoice(chosen, None)
    if frame_model is None:
        if recorded:
            frame_model = recorded[1] if len(recorded) > 1 else None
        else:
            frame_model = paired_frame_model(chosen) or default_frame_model
    return ModelChoice(chosen, frame_model)
