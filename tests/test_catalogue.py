"""The space catalogue: video frames are calibrated as transformers' forward() calibrates a one-frame
video, and everything derived from the catalogue picks up a space added to it (the walk-through of
docs/architecture.md, "Adding an embedding space")."""

from __future__ import annotations

import shutil
from dataclasses import replace

import click
import numpy as np
import pydantic
import pytest
import torch
from click.testing import CliRunner

from pe_search import Library
from pe_search.cli.search import query_option
from pe_search.media.video import iter_video_frames
from pe_search.models.catalogue import CATALOGUE, Reach, Score, StoredSpace
from pe_search.models.encoder import PeEncoder
from pe_search.query.curve import CURVE_SPACES
from pe_search.query.parameters import target_parameter
from pe_search.query.request import check_target
from pe_search.query.routes import ROUTES, QueryError, Route, routes_of
from pe_search.server.schemas import choice_type
from testkit import media

TEXT = "a red circle moving right"
FRAMES = 4


@pytest.fixture(scope="module")
def distinct_dirs(checkpoint_dirs, tmp_path_factory):
    """The tiny checkpoints with a different logit scale and bias for every score (the tiny
    factory gives them all the same, which would let any score pass for any other)."""
    from safetensors.torch import load_file, save_file

    dirs = {}
    for kind in ("audio_video", "video"):
        target = tmp_path_factory.mktemp("distinct") / kind
        shutil.copytree(checkpoint_dirs[kind], target)
        weights = load_file(target / "model.safetensors")
        names = sorted(n for n in weights if n.endswith(("logit_scale", "logit_bias")))
        for index, name in enumerate(names):
            # small scales: probabilities away from 0 and 1, where a wrong calibration shows
            value = 0.02 * (1 + index) if name.endswith("scale") else 0.05 * index
            weights[name] = torch.full_like(weights[name], value)
        save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
        dirs[kind] = target
    return dirs


def _one_frame_logits(encoder, frames: torch.Tensor) -> list[float]:
    """transformers' own logit for TEXT against each frame as a one-frame video."""
    video_model = encoder.model.video_model if encoder.kind == "audio_video" else encoder.model
    tokens = encoder.tokenizer([TEXT], return_tensors="pt")
    logits = []
    for frame in frames:
        with torch.no_grad():
            out = video_model(
                input_ids=tokens["input_ids"],
                attention_mask=tokens["attention_mask"],
                pixel_values_videos=frame[None, None],
            )
        logits.append(float(out.logits_video_text[0, 0]))
    return logits


@pytest.mark.parametrize("kind", ["audio_video", "video"])
def test_video_frames_are_calibrated_as_forward_calibrates_a_one_frame_video(distinct_dirs, kind):
    encoder = PeEncoder.from_pretrained(distinct_dirs[kind])
    scales = {name: encoder.calibration(name).scale for name in encoder.spaces}
    assert len(set(scales.values())) == len(scales)  # every score tells itself apart
    reach = CATALOGUE.spaces["video_frame"].reach("text")
    generator = torch.Generator().manual_seed(1)
    clip = torch.rand(5, 3, 28, 28, generator=generator) * 0.2 - 0.1
    clip[2:, 0, :10] = 0.9  # frames that differ, so the logits differ
    _, (frames,) = encoder.embed_video_and_frames([clip])
    text = encoder.embed_text([TEXT], [reach.embedding])[reach.embedding][0]
    logits = encoder.calibration(reach.calibration).logit(frames @ text)
    expected = _one_frame_logits(encoder, clip)
    assert np.ptp(expected) > 0.01  # not a constant: the calibration is really tested
    np.testing.assert_allclose(logits, expected, atol=1e-3)
    # One space, one calibration: the route and the curve score video frames with the same reach.
    route = ROUTES[("text", "video_frame")]
    assert (route.embedding, route.calibration) == (reach.embedding, reach.calibration)
    assert dict(CURVE_SPACES)["video_frame"] == reach


def test_a_video_files_curve_is_forwards_probability_per_sampled_frame(tmp_path, distinct_dirs):
    folder = tmp_path / "media"
    folder.mkdir()
    path = folder / "silent.webm"
    media.write_video(path, [(media.moving_square_frame(3 * j), j / 10) for j in range(12)])
    with Library.open(tmp_path / "lib", model=distinct_dirs["audio_video"], frames=False) as library:
        library.index([folder], workers=0, progress=False, frames_per_window=FRAMES, frame_codes="f32")
        (media_id,) = [m.id for m in library.store.iter_media()]
        curve = library.curve(TEXT, media_id)
        encoder = library.models.clip
    assert curve.space == "video_frame" and len(curve.starts) == FRAMES
    rgb = np.stack([f.rgb for f in iter_video_frames(path, [float(t) for t in curve.starts])])
    expected = torch.sigmoid(torch.tensor(_one_frame_logits(encoder, encoder.frame_preprocessing(rgb))))
    assert expected.min() > 0.01 and expected.max() < 0.99 and np.ptp(expected.numpy()) > 1e-3
    np.testing.assert_allclose(curve.probabilities, expected.numpy(), atol=1e-4)


# ------------------------------------------------------------------ walk-through: a new space
SKETCH_SCORE = Score(
    "text_sketch",
    "text_sketch",
    "sketch",
    "sketch_model.text_sketch_logit_scale",
    "sketch_model.text_sketch_logit_bias",
    "text -> drawings",
)
SKETCH = StoredSpace(
    "sketch",
    "clip",
    ("sketch",),
    (Reach("text", "text_sketch", "text_sketch"),),
    "a hypothetical drawing space",
    default_for=("text",),
    moments="sketch_stroke",
)
SKETCH_STROKE = StoredSpace(
    "sketch_stroke",
    "frame",
    ("sketch",),
    (Reach("text", "text_sketch", "text_sketch"),),
    "one stroke of a drawing",
    same_space_as="sketch",
    proposer="sketch",
    curve=True,
)


@pytest.fixture
def catalogue():
    """The product's catalogue plus a sketch model: its embeddings, a clip space and a frame space."""
    with_model = replace(
        CATALOGUE,
        embeddings={**CATALOGUE.embeddings, "sketch": ("text_sketch", "sketch", "sketch_stroke")},
        query_inputs={**CATALOGUE.query_inputs, "text_sketch": ("text",)},
    )
    return with_model.with_space(SKETCH, SKETCH_SCORE).with_space(SKETCH_STROKE)


def test_a_space_added_to_a_catalogue_reaches_routes_and_tables(catalogue):
    routes = routes_of(catalogue)
    assert routes[("text", "sketch")] == Route("text", "sketch", "text_sketch", "text_sketch")
    assert catalogue.default_targets()["text"] == ("audio", "video", "sketch")
    assert catalogue.frame_proposers()["sketch_stroke"] == "sketch"
    assert [name for name, _ in catalogue.curve_spaces()] == ["audio_frame", "video_frame", "sketch_stroke"]
    found = catalogue.moment("sketch", Reach("text", "text_sketch", "text_sketch"))
    assert found == ("sketch_stroke", Reach("text", "text_sketch", "text_sketch"))
    assert catalogue.scores_for("sketch") == {"text_sketch": SKETCH_SCORE}
    assert catalogue.targets == ("audio", "video", "audio_video", "sketch")
    # the product's catalogue is untouched
    assert "sketch" not in CATALOGUE.spaces and ("text", "sketch") not in ROUTES


def test_a_space_added_to_a_catalogue_reaches_validation_cli_and_http(catalogue):
    check_target("sketch", catalogue)
    with pytest.raises(QueryError, match="target is one of audio, video or audio_video"):
        check_target("sketch")
    parameter = target_parameter(catalogue)

    @click.command()
    @query_option("--target", parameter=parameter)
    def command(target):
        click.echo(target)

    (option,) = [p for p in command.params if p.name == "target"]
    assert "sketch" in option.type.choices
    assert CliRunner().invoke(command, ["--target", "sketch"]).output == "sketch\n"
    model = pydantic.create_model("Request", target=(choice_type(parameter.choices) | None, None))
    assert model(target="sketch").target == "sketch"
    with pytest.raises(pydantic.ValidationError):
        pydantic.create_model("Request", target=(choice_type(target_parameter(CATALOGUE).choices), None))(
            target="sketch"
        )


def test_the_http_api_words_a_missing_query_with_its_own_field_names():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from pe_search.query.routes import query_kind
    from pe_search.server.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/ask")
    def ask() -> None:
        query_kind(None, None, None)

    answer = TestClient(app).get("/ask")
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert message.startswith("no query given: pass q (words)") and "like" in message
    assert "text" not in message and "--" not in message and "TEXT" not in message


def test_a_video_query_is_sampled_as_the_librarys_windows():
    from pe_search.query.inputs import QuerySampling, query_video

    assert QuerySampling.of(None) == QuerySampling()
    recorded = {"window": 5.0, "hop": 2.5, "fps": None, "frames_per_window": 4}
    assert QuerySampling.of(recorded) == QuerySampling(5.0, 4, None)
    by_rate = QuerySampling.of({**recorded, "fps": 2.0, "frames_per_window": None})
    assert by_rate == QuerySampling(5.0, None, 2.0)
    frames = np.arange(100, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)

    def shown(picked: np.ndarray) -> torch.Tensor:  # which frame each picked frame is
        return torch.from_numpy(picked[:, 0, 0, 0].copy())

    # 10 fps for 10 s; the library's 5 s window holds frames 0..49, spread as PE's sampler spreads 4
    assert query_video((frames, 10.0), shown, QuerySampling.of(recorded)).tolist() == [0, 16, 32, 49]
    # every 1/2 s of the first 5 s
    assert query_video((frames, 10.0), shown, by_rate).tolist() == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
