"""Query video is decoded at the model's input size, not at the file's (issue 27, defect 17): a
4096x2048 clip hands the preprocessor frames of the size it would resize them to anyway, scaled
by FFmpeg while converting, and decoding it stays small in memory; a frame size above the documented cap is refused in one line
(413 over HTTP, before anything is decoded); a normal-size clip (up to Full HD) gives exactly the query it gave before."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pe_search.errors import MediaError
from pe_search.media.frame_pick import window_frame_times
from pe_search.media.probe import probe
from pe_search.media.video import iter_video_frames
from pe_search.models.video_preprocessing import FramePreprocessing
from pe_search.query import inputs
from pe_search.query.inputs import QuerySampling, query_video


def _h264(path: Path, width: int, height: int, seconds: float, fps: int) -> Path:
    """A short test-pattern H.264 clip made by ffmpeg (an encoder other than the code under test)."""
    source = f"testsrc2=size={width}x{height}:rate={fps}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds)]
        + ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("query-video")
    return {
        "large": _h264(root / "large.mp4", 4096, 2048, 1.0, 4),
        "normal": _h264(root / "normal.mp4", 320, 240, 2.0, 10),
    }


@pytest.fixture(scope="module")
def preprocess(tmp_path_factory) -> FramePreprocessing:
    from pe_search.toy.tiny import write_tiny_checkpoint

    directory = write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "av", "audio_video")
    return FramePreprocessing.from_pretrained(directory)


class Spy:
    """Records the frames handed to the preprocessor."""

    def __init__(self, preprocess: FramePreprocessing) -> None:
        self.preprocess, self.shapes = preprocess, []

    def __call__(self, rgb):
        self.shapes.append(rgb.shape)
        return self.preprocess(rgb)

    def __getattr__(self, name):
        return getattr(self.preprocess, name)


def test_a_large_query_video_is_decoded_at_the_model_size(clips, preprocess):
    spy = Spy(preprocess)
    tracemalloc.start()
    try:
        query = query_video(clips["large"], spy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the toy checkpoint resizes every frame to 28 x 28 (its video_preprocessor_config.json)
    assert (preprocess.height, preprocess.width) == (28, 28)
    assert [shape[1:] for shape in spy.shapes] == [(28, 28, 3)]
    assert query.shape[-2:] == (28, 28)
    # one 4096x2048 RGB frame alone is 25 MB; the four frames full size were 100 MB and more
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_normal_size_query_video_gives_the_query_it_gave_before(clips, preprocess):
    """Before: every frame decoded full size, then resized by the preprocessor (as below)."""
    info = probe(clips["normal"])
    sampling = QuerySampling()
    times = window_frame_times(
        0.0,
        min(info.duration, sampling.window),
        frames_per_window=sampling.frames_per_window,
        frame_rate=info.frame_rate,
    )
    full = np.stack([frame.rgb for frame in iter_video_frames(clips["normal"], times)])
    assert full.shape[1:] == (240, 320, 3)
    before = preprocess(np.ascontiguousarray(full)).numpy()
    after = query_video(clips["normal"], preprocess)
    np.testing.assert_array_equal(after, before)  # up to Full HD: decoded and resized as before


def test_a_frame_size_above_the_cap_is_one_line(clips, preprocess, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_QUERY_FRAME_PIXELS", 4096 * 2048 - 1)
    with pytest.raises(MediaError) as error:
        query_video(clips["large"], preprocess)
    message = str(error.value)
    assert "4096x2048" in message and "\n" not in message


def test_the_server_refuses_an_upload_above_the_cap_with_413(clips, tmp_path, monkeypatch):
    from pe_search import Library
    from pe_search.server import uploads
    from pe_search.server.app import create_app
    from pe_search.server.config import ServerConfig

    (tmp_path / "empty").mkdir()
    with Library.open(tmp_path / "lib", model="toy", frames=False, fast=False) as library:
        library.index([tmp_path / "empty"], workers=0, progress=False)
    monkeypatch.setattr(inputs, "MAX_QUERY_FRAME_PIXELS", 4096 * 2048 - 1)
    client = TestClient(create_app(ServerConfig(library=tmp_path / "lib")), base_url="http://127.0.0.1")
    with open(clips["large"], "rb") as handle:
        response = client.post(uploads.UPLOAD_PATH, files={"file": ("large.mp4", handle, "video/mp4")})
    assert response.status_code == 413, response.text
    assert "4096x2048" in response.json()["error"] and "\n" not in response.json()["error"]
