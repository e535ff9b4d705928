"""The shipped toy PE-AV and PE-A-Frame: they load like any checkpoint and retrieve held-out media.

Held-out means generated here with seeds training never used (other pitches, positions, colours
within a class, flash timings, lengths); a hit is right when its class matches the query's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pe_search.toy import TOY_DIR, evaluate, synth, toy_model_dir

SEED = 424_242


@pytest.fixture(scope="module")
def av_encoder():
    from pe_search.models.encoder import PeEncoder

    return PeEncoder.from_pretrained(toy_model_dir("audio_video"))


@pytest.fixture(scope="module")
def frame_encoder():
    from pe_search.models.encoder import PeEncoder

    return PeEncoder.from_pretrained(toy_model_dir("audio_frame"))


def test_toy_checkpoints_are_in_the_hub_layout_and_small():
    for kind in ("audio_video", "audio_frame"):
        directory = toy_model_dir(kind)
        names = {p.name for p in directory.iterdir()}
        expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
        expected.add("preprocessor_config.json")
        if kind == "audio_video":
            expected.add("video_preprocessor_config.json")
        assert expected <= names, f"{directory} lacks {expected - names}"
    total = sum(p.stat().st_size for p in TOY_DIR.rglob("*") if p.is_file())
    assert total <= 10 * 1024 * 1024, f"the toy checkpoints take {total / 2**20:.1f} MiB"


def test_toy_checkpoints_load_with_the_real_audio_front_end_settings(av_encoder, frame_encoder):
    assert av_encoder.kind == "audio_video"
    assert frame_encoder.kind == "audio_frame"
    assert type(av_encoder.model).__name__.startswith("PeAudioVideoModel")
    assert type(frame_encoder.model).__name__ == "PeAudioFrameLevelModel"
    for encoder in (av_encoder, frame_encoder):
        assert (encoder.audio.sampling_rate, encoder.audio.hop_length) == (48_000, 1920)
        assert encoder.frame_seconds == pytest.approx(0.04)
    with pytest.raises(ValueError):
        toy_model_dir("video")


def test_toy_embeddings_equal_forward(av_encoder):
    clip = synth.scene("yellow_square_flashing", 2.3, fps=8, seed=SEED)
    frames = av_encoder.frame_preprocessing(clip.frames)
    text = "a yellow square flashing with clicks"
    ours = av_encoder.embed_audio_video([clip.audio], [frames])
    ours.update(av_encoder.embed_text([text]))
    tokens = av_encoder.tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        out = av_encoder.model(
            input_ids=tokens["input_ids"],
            attention_mask=tokens["attention_mask"],
            input_values=av_encoder.audio_inputs(clip.audio)[None, None],
            pixel_values_videos=frames[None],
        )
    for name, reference in (
        ("audio", out.audio_embeds),
        ("video", out.video_embeds),
        ("audio_video", out.audio_video_embeds),
        ("text_audio", out.text_audio_embeds),
        ("text_video", out.text_video_embeds),
        ("text_audio_video", out.text_audio_video_embeds),
    ):
        assert np.abs(ours[name] - reference.numpy()).max() < 1e-4, name


def test_text_finds_held_out_sounds_and_pictures(av_encoder):
    """Canonical caption of every class -> its best clip among 2 held-out clips per class."""
    clips = evaluate.heldout_scenes(2, SEED, seconds=(1.5, 4.0))
    media = av_encoder.embed_audio_video(
        [c.audio for c in clips], [av_encoder.frame_preprocessing(c.frames) for c in clips]
    )
    scenes = [c.scene for c in clips]
    for space, table, classes, target in (
        ("text_audio", synth.SOUNDS, [synth.SCENES[s].sound for s in scenes], "audio"),
        ("text_video", synth.PICTURES, [synth.SCENES[s].picture for s in scenes], "video"),
        ("text_audio_video", synth.SCENES, scenes, "audio_video"),
    ):
        names = list(table)
        query = av_encoder.embed_text([synth.caption(n) for n in names], [space])[space]
        accuracy = evaluate.recall_at_1(query @ media[target].T, names, classes)
        assert accuracy >= 0.9, f"{space}: top-1 accuracy {accuracy:.2f}"
        p = av_encoder.calibration(space).probability(query @ media[target].T)
        match = np.array([[n == c for c in classes] for n in names])
        assert p[match].mean() > 0.5 > p[~match].mean(), space


def test_audio_finds_the_held_out_video_it_belongs_with(av_encoder):
    gallery = evaluate.heldout_scenes(1, SEED + 1, seconds=(1.5, 4.0))
    queries = evaluate.heldout_scenes(1, SEED + 2, seconds=(1.5, 4.0))
    video = av_encoder.embed_video([av_encoder.frame_preprocessing(c.frames) for c in gallery])
    audio = av_encoder.embed_audio([c.audio for c in queries])
    accuracy = evaluate.recall_at_1(audio @ video.T, [c.scene for c in queries], [c.scene for c in gallery])
    assert accuracy >= 0.9


@pytest.mark.parametrize(
    ("event", "start", "end"), [("high_beep", 1.23, 2.61), ("white_noise", 3.05, 3.9), ("chirp_up", 0.6, 2.2)]
)
def test_frame_probabilities_mark_exactly_the_event(frame_encoder, event, start, end):
    clip = synth.event_clip(event, 5.0, start, end, seed=SEED)
    frames = frame_encoder.embed_audio_frames([clip.samples])[0]
    text = frame_encoder.embed_text([synth.caption(event)])["text_audio_frame"][0]
    probability = frame_encoder.calibration("text_audio_frame").probability(frames @ text)
    found = evaluate.spans(probability, 0.3, frame_encoder.frame_seconds)
    assert len(found) == 1, found
    assert abs(found[0].start - clip.start) <= 0.08
    assert abs(found[0].end - clip.end) <= 0.08


def test_spans_are_runs_above_the_threshold():
    p = np.array([0.1, 0.5, 0.6, 0.2, 0.31, 0.0, 0.9])
    assert evaluate.spans(p, 0.3, 0.04) == [
        evaluate.Span(0.04, 0.12),
        evaluate.Span(0.16, 0.2),
        evaluate.Span(0.24, 0.28),
    ]


def test_generators_are_seeded_and_shaped():
    a = synth.scene("red_circle_flashing", 1.5, fps=10, size=48, seed=3)
    b = synth.scene("red_circle_flashing", 1.5, fps=10, size=48, seed=3)
    assert a.audio.dtype == np.float32 and a.audio.shape == (72_000,)
    assert a.frames.dtype == np.uint8 and a.frames.shape == (15, 48, 48, 3) and a.fps == 10
    assert np.array_equal(a.audio, b.audio) and np.array_equal(a.frames, b.frames)
    for name in synth.SOUNDS:
        samples = synth.sound(name, 0.5, seed=1).samples
        assert samples.dtype == np.float32 and samples.shape == (24_000,) and np.abs(samples).max() <= 1
    for name in synth.PICTURES:
        assert synth.picture(name, 1.0, fps=4, size=32, seed=1).shape == (4, 32, 32, 3)
    words = set(synth.vocabulary())
    for table in (synth.SOUNDS, synth.PICTURES, synth.SCENES):
        for item in table.values():
            assert set(" ".join(item.captions).split()) <= words


def test_training_script_runs_end_to_end(tmp_path):
    from pe_search.models.encoder import PeEncoder
    from pe_search.toy import train

    train.main(
        ["--out", str(tmp_path), "--steps", "2", "--frame-steps", "2", "--pool", "1", "--frame-pool", "2"]
        + ["--max-seconds", "4", "--no-validate"]
    )
    for name, kind in (("pe-av-toy", "audio_video"), ("pe-a-frame-toy", "audio_frame")):
        encoder = PeEncoder.from_pretrained(tmp_path / name)
        assert encoder.kind == kind
        vectors = encoder.embed_text(["a high beep"])
        assert all(np.isfinite(v).all() for v in vectors.values())
