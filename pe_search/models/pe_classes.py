"""transformers' PE model classes, by checkpoint kind: imported only where a whole model is built.

Importing them pulls in the video tower's libraries (timm, torchvision) and PE-V's config, about
a second of start-up: a text query needs none of it (`text_encoder.py` loads the text tower
alone), so `loading.py` imports this module only when it builds a whole model.
"""

from __future__ import annotations

from pe_search.models.torch_compat import ensure_torchvision_importable

ensure_torchvision_importable()

from transformers import (  # noqa: E402
    PeAudioFrameLevelModel,
    PeAudioModel,
    PeAudioVideoModel,
    PeVideoModel,
)

from pe_search.models.docstring_lint import quiet_docstring_lint  # noqa: E402

quiet_docstring_lint()


class PeAudioVideoModelLoadable(PeAudioVideoModel):
    """PeAudioVideoModel whose saved checkpoints load back.

    Upstream ties every tensor of the fused encoder's video tower to the video model's, except
    rotary buffers; timm's PE rope keeps its frequencies in a *buffer* named `bands`, which the
    pattern sweeps in, so `from_pretrained` fails with "`bands` is not an nn.Parameter". Here the
    pattern leaves `rope.bands` out as well; everything else is the upstream class.
    """

    _tied_weights_keys = {
        **{
            key: value
            for key, value in PeAudioVideoModel._tied_weights_keys.items()
            if not key.startswith(r"audio_video_encoder\.embedder\.video_encoder")
        },
        r"audio_video_encoder\.embedder\.video_encoder\.(?!rotary_emb|.*\.rope\.pos_embed|.*\.rope\.bands)": (
            r"video_model\.video_encoder\.(?!rotary_emb|.*\.rope\.pos_embed|.*\.rope\.bands)"
        ),
    }


MODEL_CLASSES = {
    "audio_video": PeAudioVideoModelLoadable,
    "audio": PeAudioModel,
    "video": PeVideoModel,
    "audio_frame": PeAudioFrameLevelModel,
}
