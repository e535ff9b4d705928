"""FramePreprocessing must equal transformers' PeVideoVideoProcessor built from the same config."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pe_search.errors import ModelLoadError
from pe_search.models.torch_compat import ensure_torchvision_importable
from pe_search.models.video_preprocessing import FramePreprocessing

ensure_torchvision_importable()

from transformers import PeVideoVideoProcessor  # noqa: E402

PE = {  # as the PE checkpoints ship video_preprocessor_config.json (PE-Core L: 336 px)
    "video_processor_type": "PeVideoVideoProcessor",
    "do_resize": True,
    "size": {"height": 336, "width": 336},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "do_convert_rgb": True,
}
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
CONFIGS = {
    "pe-core-l-336": PE,
    "224-clip-stats": {
        **PE,
        "size": {"height": 224, "width": 224},
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
    },
    "shortest-edge-and-crop": {
        **PE,
        "size": {"shortest_edge": 224},
        "do_center_crop": True,
        "crop_size": 224,
    },
    "shortest-and-longest-edge": {**PE, "size": {"shortest_edge": 100, "longest_edge": 150}},
    "max-height-width": {**PE, "size": {"max_height": 100, "max_width": 90}},
    "int-size-bicubic": {**PE, "size": 160, "resample": 3},
    "nearest": {**PE, "size": {"height": 64, "width": 48}, "resample": 0},
    "rescale-only": {**PE, "size": {"height": 64, "width": 48}, "do_normalize": False},
    "crop-larger-than-frame": {**PE, "size": {"shortest_edge": 64}, "do_center_crop": True, "crop_size": 80},
}


def frames(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Noise plus a hard-edged gradient: resizing it without antialias, or with other rounding, shows."""
    rng = np.random.default_rng(seed)
    t, h, w, _ = shape
    ramp = np.linspace(0, 255, w, dtype=np.float64)[None, None, :, None] * np.ones((t, h, 1, 3))
    noise = rng.integers(0, 256, size=shape)
    return np.where(noise % 3 == 0, noise, ramp).astype(np.uint8)


def reference(config: dict, video: np.ndarray) -> torch.Tensor:
    processor = PeVideoVideoProcessor.from_dict(config)
    return processor(video, do_sample_frames=False, return_tensors="pt")["pixel_values_videos"][0]


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("shape", [(3, 240, 320, 3), (2, 500, 180, 3), (2, 336, 336, 3)])
def test_matches_the_transformers_processor(name, shape):
    config, video = CONFIGS[name], frames(shape)
    expected = reference(config, video)
    got = FramePreprocessing.from_config(config)(video)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert (got - expected).abs().max().item() <= 1e-5
    assert got.shape[-2:] == FramePreprocessing.from_config(config).output_size(*shape[1:3])


def test_matches_on_the_float_resize_path(monkeypatch):
    """Without AVX2 (and on GPUs) torchvision resizes uint8 in float32 and rounds; so must we."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    video = frames((2, 240, 320, 3), seed=1)
    expected = reference(PE, video)
    assert (FramePreprocessing.from_config(PE)(video) - expected).abs().max().item() <= 1e-5


def test_resize_is_antialiased_and_normalised():
    """What the parity test pins down, checked directly: downscaling averages (antialias) rather than
    samples, and the output is (x / 255 - 0.5) / 0.5, channels first."""
    stripes = np.zeros((1, 1008, 1008, 3), dtype=np.uint8)
    stripes[:, :, ::2] = 255  # one-pixel stripes, shrunk 3x: sampling gives +-1, averaging about 0
    out = FramePreprocessing.from_config(PE)(stripes)
    assert out.shape == (1, 3, 336, 336)
    assert out[..., 2:-2].abs().max().item() < 0.2
    flat = FramePreprocessing.from_config({**PE, "do_resize": False})(np.full((1, 4, 4, 3), 51, np.uint8))
    assert torch.allclose(flat, torch.full((1, 3, 4, 4), (51 / 255 - 0.5) / 0.5))


def test_config_parsing():
    pe = FramePreprocessing.from_config(PE)
    assert (pe.height, pe.width, pe.resample, pe.mean, pe.std) == (
        336,
        336,
        "bilinear",
        (0.5,) * 3,
        (0.5,) * 3,
    )
    assert pe.do_resize and pe.do_rescale and pe.do_normalize and not pe.do_center_crop
    edge = FramePreprocessing.from_config({**PE, "size": 224, "default_to_square": False})
    assert (edge.height, edge.shortest_edge, edge.output_size(480, 640)) == (None, 224, (224, 298))
    with pytest.raises(ValueError, match="resample"):
        FramePreprocessing.from_config({**PE, "resample": 1})  # LANCZOS: no torch equivalent
    with pytest.raises(ValueError, match="uint8"):
        pe(np.zeros((2, 8, 8, 3), np.float32))


def test_from_pretrained_reads_a_checkpoint_directory_or_file(tmp_path):
    (tmp_path / "video_preprocessor_config.json").write_text(
        json.dumps({**PE, "size": {"height": 224, "width": 224}})
    )
    assert FramePreprocessing.from_pretrained(tmp_path).height == 224
    assert FramePreprocessing.from_pretrained(tmp_path / "video_preprocessor_config.json").height == 224
    # transformers gives a nested processor_config.json priority; so do we.
    (tmp_path / "processor_config.json").write_text(json.dumps({"video_processor": {**PE}}))
    assert FramePreprocessing.from_pretrained(tmp_path).height == 336


def test_from_pretrained_without_a_config_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no video preprocessor config"):
        FramePreprocessing.from_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="no video preprocessor config"):
        FramePreprocessing.from_pretrained("facebook/not-cached-offline")  # the hub is offline in tests
