"""The toy world and the toy models shipped with pe-search.

Real PE-AV weights cannot be downloaded everywhere, and random weights rank at random, so the
project trains tiny models of the real classes (`PeAudioVideoModel`, `PeAudioFrameLevelModel`)
on generated media and ships them here, for `pe-search demo` and the end-to-end tests:

- `synth`: seeded generators of the sounds, pictures, scenes and captions they know (the face of
  `vocabulary`, `sounds` and `pictures`);
- `train`: the training script (`python -m pe_search.toy.train --out DIR`), with `train_model`
  (settings, the models, their forward with gradients, the losses) and `train_data` (what they see);
- `evaluate`: held-out checks through `PeEncoder`;
- `front_end`: the designed (frozen) DAC front end of their audio towers;
- `tiny`: tiny random checkpoints in the hub's layout (the toy's starting point, and the tests');
- `speech`, `speech_model`, `train_speech`, `speech_eval`: the toy speech model (a tiny Whisper
  trained on espeak-ng speech of the toy vocabulary, shipped as `checkpoints/whisper-toy`), so
  transformers' ASR pipeline can time words without a download (issue 26).

Importing this package is cheap: it only names the checkpoint directories (`models.shipped` knows them).
"""

from __future__ import annotations

from pe_search.models.shipped import (
    PE_A_FRAME_TOY_DIR,
    PE_AV_TOY_DIR,
    TOY_DIR,
    TOY_MODEL_DIRS,
    toy_model_dir,
)

__all__ = ["PE_AV_TOY_DIR", "PE_A_FRAME_TOY_DIR", "TOY_DIR", "TOY_MODEL_DIRS", "toy_model_dir"]
