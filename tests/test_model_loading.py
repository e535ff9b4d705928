"""Loading: hub ids and directories take one path; save/load round trips; clear offline errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from pe_search.errors import ModelLoadError
from pe_search.models.encoder import PeEncoder
from pe_search.models.loading import detect_kind
from pe_search.models.spaces import SPACES, Calibration, spaces_for

AUDIO = [np.sin(np.arange(24_000) / 48_000 * 2 * np.pi * 440).astype(np.float32)]
TEXTS = ["a high beep", "noise"]


def _fake_hub_snapshot(cache, repo_id: str, source) -> None:
    """Lay `source` out as huggingface_hub's cache does for `repo_id` at one revision."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(source, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


def test_hub_id_in_cache_loads_through_the_same_path_as_its_directory(checkpoint_dirs, tmp_path):
    _fake_hub_snapshot(tmp_path / "hf-cache", "acme/pe-av-tiny", checkpoint_dirs["audio_video"])
    from_hub = PeEncoder.from_pretrained("acme/pe-av-tiny")
    from_dir = PeEncoder.from_pretrained(checkpoint_dirs["audio_video"])
    assert from_hub.kind == from_dir.kind == "audio_video"
    assert from_hub.identity.weights_sha256 == from_dir.identity.weights_sha256
    np.testing.assert_array_equal(from_hub.embed_audio(AUDIO), from_dir.embed_audio(AUDIO))


def test_hub_id_missing_offline_is_one_clear_error(tmp_path):
    with pytest.raises(ModelLoadError) as error:
        PeEncoder.from_pretrained("facebook/pe-av-small")
    message = str(error.value)
    assert "facebook/pe-av-small" in message and "checkpoint's directory" in message and "\n" not in message


@pytest.mark.parametrize("source", ["./no/such/dir", "/definitely/missing", "not-a-repo-id"])
def test_missing_directory_is_one_clear_error(source):
    with pytest.raises(ModelLoadError, match="no PE checkpoint"):
        PeEncoder.from_pretrained(source)


def test_directory_without_config_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        PeEncoder.from_pretrained(tmp_path / "empty")


@pytest.mark.parametrize("kind", ["audio_video", "audio", "video", "audio_frame"])
def test_saved_checkpoint_loads_back_with_identical_embeddings(encoders, checkpoint_dirs, tmp_path, kind):
    """Upstream, a saved PeAudioVideoModel fails to load ("`bands` is not an nn.Parameter")."""
    encoder = encoders[kind]
    saved = tmp_path / "saved"
    encoder.model.save_pretrained(saved)
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
    ):
        if (checkpoint_dirs[kind] / name).exists():
            shutil.copy(checkpoint_dirs[kind] / name, saved / name)
    reloaded = PeEncoder.from_pretrained(saved)
    assert reloaded.kind == kind
    assert reloaded.identity.weights_sha256 != ""
    texts_before, texts_after = encoder.embed_text(TEXTS), reloaded.embed_text(TEXTS)
    for name in texts_before:
        np.testing.assert_allclose(texts_after[name], texts_before[name], atol=1e-6)
    if encoder.audio_tower is not None:
        if kind == "audio_frame":
            np.testing.assert_allclose(
                reloaded.embed_audio_frames(AUDIO)[0], encoder.embed_audio_frames(AUDIO)[0], atol=1e-6
            )
        else:
            np.testing.assert_allclose(reloaded.embed_audio(AUDIO), encoder.embed_audio(AUDIO), atol=1e-6)
    if kind == "audio_video":
        model = reloaded.model
        assert (
            model.audio_video_encoder.embedder.audio_encoder.output.weight
            is model.audio_model.audio_encoder.output.weight
        )


def test_kind_is_detected_from_the_config():
    assert detect_kind({"model_type": "pe_audio_video"}) == "audio_video"
    assert detect_kind({"model_type": "pe_video"}) == "video"
    assert detect_kind({"model_type": "pe_audio", "architectures": ["PeAudioModel"]}) == "audio"
    assert (
        detect_kind({"model_type": "pe_audio", "architectures": ["PeAudioFrameLevelModel"]}) == "audio_frame"
    )
    with pytest.raises(ModelLoadError):
        detect_kind({"model_type": "bert"})


def test_spaces_follow_the_checkpoint_kind():
    assert set(spaces_for("audio_video")) == set(SPACES) - {"text_audio_frame"}
    assert set(spaces_for("audio")) == {"text_audio"}
    assert set(spaces_for("video")) == {"text_video"}  # video frames are scored in it (test_catalogue)
    assert set(spaces_for("audio_frame")) == {"text_audio_frame"}


def test_calibration_is_the_models_sigmoid_and_inverts():
    calibration = Calibration(scale=12.5, bias=-7.0)
    dots = np.array([-3.0, 0.0, 0.3, 0.56, 5.0, 80.0, -80.0])
    expected = torch.sigmoid(torch.tensor(dots * 12.5 - 7.0, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(calibration.probability(dots), expected, rtol=1e-12)
    cut = calibration.score_for_probability(0.3)
    assert calibration.probability(cut) == pytest.approx(0.3)


def test_bfloat16_is_opt_in_and_close(checkpoint_dirs, encoders):
    bf16 = PeEncoder.from_pretrained(checkpoint_dirs["audio_video"], dtype="bfloat16")
    assert bf16.dtype == torch.bfloat16 and encoders["audio_video"].dtype == torch.float32
    ours, reference = (
        bf16.embed_text(TEXTS)["text_audio"],
        encoders["audio_video"].embed_text(TEXTS)["text_audio"],
    )
    cosine = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() > 0.98


def test_cuda_asked_without_a_gpu_is_a_clear_error(checkpoint_dirs):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelLoadError, match="--device cpu"):
        PeEncoder.from_pretrained(checkpoint_dirs["audio"], device="cuda")
