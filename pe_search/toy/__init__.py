"""The toy world and the toy models shipped with pe-search.

Real PE-AV weights cannot be downloaded everywhere, and random weights rank at random, so the
project trains tiny models of the real classes (`PeAudioVideoModel`, `PeAudioFrameLevelModel`)
on generated media and ships them here, for `pe-search demo` and the end-to-end tests:

- `synth`: seeded generators of the sounds, pictures, scenes and captions they know;
- `train`: the training script (`python -m pe_search.toy.train --out DIR`);
- `evaluate`: held-out checks through `PeEncoder`;
- `front_end`: the designed (frozen) DAC front end of their audio towers.

Importing this package is cheap: it only names the checkpoint directories.
"""

from __future__ import annotations

from pathlib import Path

TOY_DIR = Path(__file__).resolve().parent / "checkpoints"
PE_AV_TOY_DIR = TOY_DIR / "pe-av-toy"
PE_A_FRAME_TOY_DIR = TOY_DIR / "pe-a-frame-toy"
TOY_MODEL_DIRS = {"audio_video": PE_AV_TOY_DIR, "audio_frame": PE_A_FRAME_TOY_DIR}


def toy_model_dir(kind: str = "audio_video") -> Path:
    """The shipped toy checkpoint of `kind`: "audio_video" (PE-AV) or "audio_frame" (PE-A-Frame)."""
    try:
        return TOY_MODEL_DIRS[kind]
    except KeyError:
        raise ValueError(
            f"no toy model of kind {kind!r}; expected one of {', '.join(TOY_MODEL_DIRS)}"
        ) from None


__all__ = ["PE_AV_TOY_DIR", "PE_A_FRAME_TOY_DIR", "TOY_DIR", "TOY_MODEL_DIRS", "toy_model_dir"]
