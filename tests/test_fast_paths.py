"""The encoder's speed paths (`pe_search.models.fast_paths`) against `forward()` and the plain path.

Audio (channels-last DAC, fused Snake, compiled or eager): every embedding within TOLERANCE
(1e-4, the model-layer tests' bar) of `forward()`. Video's vision model under bfloat16 autocast
is the one reduced-precision path, opt-in because it does not reliably keep cosine 0.9999
(`bench/bench_encoder.py` measures it on the realistic-size model: 0.9995-0.99999). The tiny test
ViT and fused encoder (2 layers, 32 wide, unit-gain random weights) amplify rounding more
(measured down to 0.9984 for the fused vector), so here bf16 is held to TINY_BF16_COSINE
(distinct inputs embed at cosine < 0.97, so a broken path still fails), and the default float32
vision path to TOLERANCE.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from test_model_parity import _audio_clips, _video_clips
from transformers.models.pe_audio.modeling_pe_audio import PeAudioEncoderEmbedder, Snake1d

from pe_search.models import fast_paths
from pe_search.models.encoder import PeEncoder
from pe_search.models.fast_paths import FastAudioFrontEnd, FastVisionModel, PlainVisionModel

TOLERANCE = 1e-4
TINY_BF16_COSINE = 0.995


@pytest.fixture(scope="session")
def plain_encoders(checkpoint_dirs) -> dict:
    return {kind: PeEncoder.from_pretrained(path, fast=False) for kind, path in checkpoint_dirs.items()}


@pytest.fixture(scope="session")
def bf16_encoders(checkpoint_dirs) -> dict:
    """Video-capable encoders with the opt-in bf16 vision path on."""
    return {
        kind: PeEncoder.from_pretrained(checkpoint_dirs[kind], bf16_vision=True)
        for kind in ("video", "audio_video")
    }


def _cosines(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    ours, theirs = np.atleast_2d(ours).astype(np.float64), np.atleast_2d(theirs).astype(np.float64)
    return (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)


def _forward_audio(encoder, clip) -> np.ndarray:
    model = encoder.model.audio_model if encoder.kind == "audio_video" else encoder.model
    with torch.no_grad():
        outputs = model.audio_encoder(input_values=encoder.audio_inputs(clip)[None, None])
        states = outputs.last_hidden_state if encoder.kind == "audio_frame" else outputs.pooler_output
        return model.audio_head(states)[0].numpy()


def test_fast_is_the_default_and_the_switch_gives_the_plain_modules(bf16_encoders, plain_encoders):
    fast, plain = bf16_encoders["audio_video"], plain_encoders["audio_video"]
    assert fast.fast and not plain.fast
    assert isinstance(fast.audio_front_end(fast.audio_tower), FastAudioFrontEnd)
    assert type(plain.audio_front_end(plain.audio_tower)) is PeAudioEncoderEmbedder
    assert plain.audio_front_end(plain.audio_tower) is plain.audio_tower.embedder
    expected = FastVisionModel if fast_paths.native_bf16(torch.device("cpu")) else PlainVisionModel
    assert type(fast.vision_model(fast.video_tower)) is expected
    assert type(plain.vision_model(plain.video_tower)) is PlainVisionModel


def test_environment_switches(checkpoint_dirs, monkeypatch):
    monkeypatch.delenv("PE_SEARCH_FAST", raising=False)
    monkeypatch.delenv("PE_SEARCH_FAST_BF16", raising=False)
    encoder = PeEncoder.from_pretrained(checkpoint_dirs["video"])
    assert encoder.fast and not encoder.bf16_vision  # the defaults
    assert type(encoder.vision_model(encoder.video_tower)) is PlainVisionModel
    monkeypatch.setenv("PE_SEARCH_FAST", "0")
    assert not PeEncoder.from_pretrained(checkpoint_dirs["audio"]).fast
    monkeypatch.setenv("PE_SEARCH_FAST", "1")
    monkeypatch.setenv("PE_SEARCH_FAST_BF16", "1")
    encoder = PeEncoder.from_pretrained(checkpoint_dirs["video"])
    assert encoder.fast and encoder.bf16_vision
    expected = FastVisionModel if fast_paths.native_bf16(torch.device("cpu")) else PlainVisionModel
    assert type(encoder.vision_model(encoder.video_tower)) is expected


def test_plain_path_runs_the_snake_modules_and_the_fast_path_does_not(encoders, plain_encoders, monkeypatch):
    calls = []
    original = Snake1d.forward
    monkeypatch.setattr(Snake1d, "forward", lambda self, x: calls.append(1) or original(self, x))
    clip = _audio_clips()[:1]
    encoders["audio"].embed_audio(clip)
    assert calls == []
    plain_encoders["audio"].embed_audio(clip)
    assert len(calls) > 10


@pytest.mark.parametrize("kind", ["audio", "audio_frame", "audio_video"])
def test_fast_audio_matches_forward_in_mixed_length_batches(encoders, plain_encoders, kind):
    encoder, plain = encoders[kind], plain_encoders[kind]
    assert isinstance(encoder.audio_front_end(encoder.audio_tower), FastAudioFrontEnd)
    audio = _audio_clips(5)
    if kind == "audio_frame":
        ours, theirs = encoder.embed_audio_frames(audio), plain.embed_audio_frames(audio)
    else:
        ours, theirs = list(encoder.embed_audio(audio)), list(plain.embed_audio(audio))
    for clip, mine, reference in zip(audio, ours, theirs, strict=True):
        assert np.abs(mine - _forward_audio(encoder, clip)).max() <= TOLERANCE
        assert np.abs(mine - reference).max() <= TOLERANCE


def test_eager_front_end_and_fallback_after_a_compile_failure_match_forward(encoders, monkeypatch, caplog):
    encoder = encoders["audio"]
    tower = encoder.audio_tower
    audio = _audio_clips(6)
    eager = FastAudioFrontEnd(tower.embedder, compile=False).eval()
    failing = FastAudioFrontEnd(tower.embedder, compile=True).eval()

    def broken(values):
        raise RuntimeError("no C++ compiler")

    failing.compiled = broken
    plain_front_end = encoder.audio_front_end
    for front_end in (eager, failing):
        monkeypatch.setattr(
            encoder, "audio_front_end", lambda e, f=front_end: f if e is tower else plain_front_end(e)
        )
        with caplog.at_level(logging.WARNING, logger="pe_search.models.fast_paths"):
            vectors = encoder.embed_audio(audio)
        for clip, vector in zip(audio, vectors, strict=True):
            assert np.abs(vector - _forward_audio(encoder, clip)).max() <= TOLERANCE
    assert failing.compiled is None
    assert "running it eagerly" in caplog.text


def test_snake_variants_equal_upstream():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 1, 300, generator=generator) * 5
    alpha = torch.rand(1, 8, 1, 1, generator=generator) + 0.5
    inverse = (alpha + 1e-9).reciprocal()
    upstream = Snake1d(8)
    with torch.no_grad():
        upstream.alpha.copy_(alpha[..., 0])
        expected = upstream(x.squeeze(2)).unsqueeze(2)
    torch.testing.assert_close(fast_paths.snake_in_place(x, alpha, inverse), expected)
    torch.testing.assert_close(fast_paths.snake_reference(x, alpha, inverse), expected)


@pytest.mark.parametrize("kind", ["video", "audio_video"])
def test_fast_video_stays_within_the_cosine_bar_and_float32_switch_is_exact(
    bf16_encoders, checkpoint_dirs, kind
):
    encoder = bf16_encoders[kind]
    video, audio = _video_clips(), _audio_clips()
    exact = PeEncoder.from_pretrained(checkpoint_dirs[kind], bf16_vision=False)
    video_model = encoder.model.video_model if kind == "audio_video" else encoder.model
    forward = []
    for clip in video:
        with torch.no_grad():
            out = video_model.video_encoder(pixel_values_videos=clip[None])
            forward.append(video_model.video_head(out.pooler_output)[0].numpy())
    forward = np.stack(forward)
    fast_clips, fast_frames = encoder.embed_video_and_frames(video)
    exact_clips, exact_frames = exact.embed_video_and_frames(video)
    assert np.abs(exact_clips - forward).max() <= TOLERANCE
    assert _cosines(fast_clips, forward).min() >= TINY_BF16_COSINE
    for ours, theirs in zip(fast_frames, exact_frames, strict=True):
        assert _cosines(ours, theirs).min() >= TINY_BF16_COSINE
    if kind == "audio_video":
        ours, theirs = encoder.embed_audio_video(audio, video), exact.embed_audio_video(audio, video)
        assert np.abs(ours["audio"] - theirs["audio"]).max() <= TOLERANCE
        assert _cosines(ours["audio_video"], theirs["audio_video"]).min() >= TINY_BF16_COSINE


def test_compiled_kernels_are_cached_in_the_user_cache_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "pe-search" / "inductor"
    assert fast_paths.persistent_compile_cache() == expected
    assert expected.is_dir() and os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(expected)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert fast_paths.persistent_compile_cache() == tmp_path / "mine"  # an explicit choice stays
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert fast_paths.persistent_compile_cache() is None  # inductor keeps its own default
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ
