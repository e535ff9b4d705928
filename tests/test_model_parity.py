"""Every embedding the encoder computes equals what the model's own `forward()` computes.

References run `forward()` on one clip at a time (no padding at all); the encoder runs
mixed-length batches, so these tests also prove padding does not move an embedding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

TOLERANCE = 1e-4
AUDIO_LENGTHS = (48_000, 30_000, 9_601, 1_500)  # 1 s, odd lengths, one shorter than a 40 ms hop
VIDEO_FRAMES = (5, 3, 1, 2)
TEXTS = ["a high beep", "a red circle moving right fast and loud", "noise", "dog bark with music"]


def _audio_clips(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    clips = []
    for index, length in enumerate(AUDIO_LENGTHS):
        t = np.arange(length) / 48_000
        tone = 0.4 * np.sin(2 * np.pi * (220 * (index + 1)) * t)
        clips.append((tone + 0.05 * rng.standard_normal(length)).astype(np.float32))
    return clips


def _video_clips(size: int = 28) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    clips = []
    for index, frames in enumerate(VIDEO_FRAMES):
        clip = torch.rand(frames, 3, size, size, generator=generator) * 0.2 - 0.1
        clip[:, index % 3, : size // (index + 1)] = 0.9  # a coloured band, different per clip
        clips.append(clip)
    return clips


def _extractor_inputs(checkpoint_dir, clip: np.ndarray) -> dict:
    """The reference audio input: transformers' own PeAudioFeatureExtractor for the checkpoint,
    not the encoder's input path (an independent source for every parity test of audio)."""
    from transformers import PeAudioFeatureExtractor

    features = PeAudioFeatureExtractor.from_pretrained(checkpoint_dir)(
        clip, sampling_rate=48_000, return_tensors="pt"
    )
    return {"input_values": features["input_values"], "padding_mask": features["padding_mask"]}


def _forward_one(encoder, **inputs):
    with torch.no_grad():
        return encoder.model(**inputs)


def _tokens(encoder, text: str) -> dict:
    tokens = encoder.tokenizer([text], return_tensors="pt")
    return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}


def _logit_tolerance(scale: float, other: np.ndarray) -> float:
    """How far a logit may move when one side's embedding moves by TOLERANCE per element.

    The fast path's DAC convolutions accumulate in another order; on the tiny random front end
    (whose Snake layers amplify rounding) that moves embeddings by up to ~5e-5, within
    TOLERANCE, and a logit `scale * (a @ b) + bias` by up to `scale * TOLERANCE * |b|_1`.
    """
    return 1e-3 + abs(scale) * TOLERANCE * float(np.abs(other).sum())


def _max_diff(ours: np.ndarray, reference: torch.Tensor) -> float:
    return float(np.abs(ours - reference.float().numpy()).max())


def test_audio_video_checkpoint_every_space_matches_forward(encoders, checkpoint_dirs):
    encoder = encoders["audio_video"]
    audio, video = _audio_clips(), _video_clips()
    ours = encoder.embed_audio_video(audio, video)
    ours.update(encoder.embed_text(TEXTS))
    ours["audio_plus_text"] = encoder.embed_audio_plus_text(audio, TEXTS)
    ours["video_plus_text"] = encoder.embed_video_plus_text(video, TEXTS)
    ours["audio_only"] = encoder.embed_audio(audio)
    ours["video_only"] = encoder.embed_video(video)
    worst: dict[str, float] = {}
    for i in range(len(TEXTS)):
        out = _forward_one(
            encoder,
            **_tokens(encoder, TEXTS[i]),
            **_extractor_inputs(checkpoint_dirs["audio_video"], audio[i]),
            pixel_values_videos=video[i][None],
        )
        pairs = {
            "audio": out.audio_embeds,
            "video": out.video_embeds,
            "audio_video": out.audio_video_embeds,
            "text_audio": out.text_audio_embeds,
            "text_video": out.text_video_embeds,
            "text_audio_video": out.text_audio_video_embeds,
            "audio_plus_text": out.audio_plus_text_embeds,
            "video_plus_text": out.video_plus_text_embeds,
            "audio_only": out.audio_embeds,
            "video_only": out.video_embeds,
        }
        for name, reference in pairs.items():
            worst[name] = max(worst.get(name, 0.0), _max_diff(ours[name][i], reference[0]))
    assert set(worst) >= set(encoder.embeddings) - {"video_frame"}  # see test_per_frame_video_vectors
    assert max(worst.values()) <= TOLERANCE, worst


def test_audio_video_calibration_reproduces_forward_logits(encoders):
    encoder = encoders["audio_video"]
    audio, video = _audio_clips(1)[:2], _video_clips()[:2]
    tokens = encoder.tokenizer(TEXTS[:2], return_tensors="pt", padding=True)
    length = max(len(a) for a in audio)
    values = torch.zeros(2, 1, length + (-length) % encoder.audio.hop_length)
    for i, clip in enumerate(audio):  # equal lengths so forward needs no padding
        values[i, 0, : len(clip)] = encoder.audio_inputs(np.resize(clip, length))[: len(clip)]
    audio = [values[i, 0].numpy() for i in range(2)]
    frames = torch.stack([video[0][:3], video[1][:3]])
    out = _forward_one(encoder, **tokens, input_values=values, pixel_values_videos=frames)
    ours = encoder.embed_audio_video(audio, list(frames))
    ours.update(encoder.embed_text(TEXTS[:2]))
    ours["audio_plus_text"] = encoder.embed_audio_plus_text(audio, TEXTS[:2])
    ours["video_plus_text"] = encoder.embed_video_plus_text(list(frames), TEXTS[:2])
    checks = {
        "text_audio": (ours["audio"] @ ours["text_audio"].T, out.logits_audio_text),
        "text_video": (ours["video"] @ ours["text_video"].T, out.logits_video_text),
        "text_audio_video": (ours["audio_video"] @ ours["text_audio_video"].T, out.logits_audio_video_text),
        "audio_video": (ours["audio"] @ ours["video"].T, out.logits_audio_video),
        "audio_plus_text": (ours["audio_plus_text"] @ ours["video"].T, out.logits_audio_plus_text_video),
        "video_plus_text": (ours["video_plus_text"] @ ours["audio"].T, out.logits_video_plus_text_audio),
    }
    assert set(checks) == set(encoder.spaces)  # video frames are scored with text_video (test_catalogue)
    for space, (dots, logits) in checks.items():
        calibration = encoder.calibration(space)
        np.testing.assert_allclose(calibration.logit(dots), logits.numpy(), atol=1e-3, err_msg=space)
        np.testing.assert_allclose(
            calibration.probability(dots), torch.sigmoid(logits).numpy(), atol=1e-4, err_msg=space
        )


def test_audio_checkpoint_matches_forward(encoders, checkpoint_dirs):
    encoder = encoders["audio"]
    audio = _audio_clips(2)
    clips, texts = encoder.embed_audio(audio), encoder.embed_text(TEXTS)["text_audio"]
    for i in range(len(audio)):
        out = _forward_one(
            encoder, **_tokens(encoder, TEXTS[i]), **_extractor_inputs(checkpoint_dirs["audio"], audio[i])
        )
        assert _max_diff(clips[i], out.audio_embeds[0]) <= TOLERANCE
        assert _max_diff(texts[i], out.text_audio_embeds[0]) <= TOLERANCE
        calibration = encoder.calibration("text_audio")
        logit = calibration.logit(clips[i] @ texts[i])
        assert abs(float(logit) - float(out.logits_audio_text[0, 0])) <= _logit_tolerance(
            calibration.scale, texts[i]
        )


def test_video_checkpoint_matches_forward(encoders):
    encoder = encoders["video"]
    video = _video_clips()
    clips, texts = encoder.embed_video(video), encoder.embed_text(TEXTS)["text_video"]
    for i in range(len(video)):
        out = _forward_one(encoder, **_tokens(encoder, TEXTS[i]), pixel_values_videos=video[i][None])
        assert _max_diff(clips[i], out.video_embeds[0]) <= TOLERANCE
        assert _max_diff(texts[i], out.text_video_embeds[0]) <= TOLERANCE


def test_frame_checkpoint_gives_one_vector_per_40ms_matching_forward(encoders):
    encoder = encoders["audio_frame"]
    audio = _audio_clips(3)
    frames = encoder.embed_audio_frames(audio)
    texts = encoder.embed_text(TEXTS)["text_audio_frame"]
    assert encoder.frame_seconds == pytest.approx(0.04)
    calibration = encoder.calibration("text_audio_frame")
    for i, clip in enumerate(audio):
        assert frames[i].shape == (int(np.ceil(len(clip) / 1920)), encoder.dim)
        out = _forward_one(
            encoder, **_tokens(encoder, TEXTS[i]), input_values=encoder.audio_inputs(clip)[None, None]
        )
        assert _max_diff(frames[i], out.audio_embeds[0]) <= TOLERANCE
        assert _max_diff(texts[i], out.text_audio_embeds[0]) <= TOLERANCE
        np.testing.assert_allclose(
            calibration.logit(frames[i] @ texts[i]),
            out.logits_audio_text[0, 0].numpy(),
            atol=_logit_tolerance(calibration.scale, texts[i]),
        )


def test_text_batch_padding_does_not_change_embeddings(encoders):
    encoder = encoders["audio_video"]
    batched = encoder.embed_text(TEXTS)
    for i, text in enumerate(TEXTS):
        alone = encoder.embed_text([text])
        for name in batched:
            assert np.abs(batched[name][i] - alone[name][0]).max() <= TOLERANCE


def _max_pairwise_cosine(vectors: np.ndarray) -> float:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit.T
    return float(cosines[~np.eye(len(unit), dtype=bool)].max())


def test_random_tiny_checkpoints_carry_signal_in_every_space(encoders):
    """Without re-initialisation the DAC and the class tokens make all inputs embed alike."""
    av = encoders["audio_video"]
    audio, video = _audio_clips(), _video_clips()
    vectors = av.embed_audio_video(audio, video)
    vectors.update(av.embed_text(TEXTS))
    vectors["audio_plus_text"] = av.embed_audio_plus_text(audio, TEXTS)
    vectors["video_plus_text"] = av.embed_video_plus_text(video, TEXTS)
    frame_model = encoders["audio_frame"]
    vectors["audio_frame"] = np.stack([f.mean(0) for f in frame_model.embed_audio_frames(audio)])
    vectors["text_audio_frame"] = frame_model.embed_text(TEXTS)["text_audio_frame"]
    for name, value in vectors.items():
        assert np.all(np.isfinite(value)), name
        assert _max_pairwise_cosine(value) < 0.97, name


@pytest.mark.parametrize("kind", ["audio_video", "video"])
def test_per_frame_video_vectors_are_one_frame_clips(encoders, kind):
    """Frame-level video vectors: each sampled frame embedded as a one-frame video, vision model shared."""
    encoder = encoders[kind]
    video = _video_clips()
    clip_vectors, frames = encoder.embed_video_and_frames(video)
    np.testing.assert_allclose(clip_vectors, encoder.embed_video(video), atol=TOLERANCE)
    if kind == "audio_video":
        together = encoder.embed_audio_video(_audio_clips(), video, with_frames=True)
        for ours, theirs in zip(together["video_frame"], frames, strict=True):
            np.testing.assert_allclose(ours, theirs, atol=TOLERANCE)
    video_model = encoder.model.video_model if kind == "audio_video" else encoder.model
    for clip, vectors in zip(video, frames, strict=True):
        assert vectors.shape == (clip.shape[0], encoder.dim)
        for index in range(clip.shape[0]):
            with torch.no_grad():
                out = video_model(
                    **_tokens(encoder, "noise"), pixel_values_videos=clip[index : index + 1][None]
                )
            assert _max_diff(vectors[index], out.video_embeds[0]) <= TOLERANCE
