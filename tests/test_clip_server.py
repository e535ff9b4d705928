"""The trimmed-clip endpoint (issue 22, part 3) on the demo library: the bytes of the span as a
file (soundfile compares its samples with the source's), the refusals, and the cross-site rule."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from pe_search.server import ServerConfig, create_app
from pe_search.server.urls import clip_url

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(demo):
    with TestClient(create_app(ServerConfig(library=Path(demo.library))), base_url=LOCAL) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def files(client) -> dict[str, dict]:
    return {Path(f["path"]).name: f for f in client.get("/api/files", params={"limit": 1000}).json()["files"]}


def test_a_wav_span_comes_back_with_the_sources_samples(client, files):
    wav = next(f for name, f in files.items() if name.endswith(".wav") and f["duration"] > 3)
    answer = client.get(clip_url(wav["id"], 1.25, 2.5))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-clip-method"] == "samples"
    assert "attachment" in answer.headers["content-disposition"]
    source, rate = sf.read(wav["path"], dtype="float32")
    cut, cut_rate = sf.read(io.BytesIO(answer.content), dtype="float32")
    assert cut_rate == rate
    assert (cut == source[round(1.25 * rate) : round(2.5 * rate)]).all()


def test_a_video_span_decodes_and_lasts_the_span(client, files):
    mp4 = next(f for name, f in files.items() if name.endswith(".mp4"))
    answer = client.get(clip_url(mp4["id"], 0.5, 2.0))
    assert answer.status_code == 200, answer.text
    with av.open(io.BytesIO(answer.content)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        rate = float(container.streams.video[0].average_rate)
        assert abs(container.duration / av.time_base - 1.5) <= 1 / rate + 1e-6
    assert frames > 0


def test_past_the_end_is_clamped_and_said_and_mistakes_are_json(client, files):
    wav = next(f for name, f in files.items() if name.endswith(".wav"))
    late = client.get(clip_url(wav["id"], wav["duration"] - 0.5, wav["duration"] + 5))
    assert late.status_code == 200 and "clamped" in late.headers["x-clip-note"]
    assert client.get(clip_url(wav["id"], 2.0, 1.0)).json()["status"] == 400
    assert client.get(clip_url(wav["id"], wav["duration"] + 1, wav["duration"] + 2)).status_code == 400
    assert client.get(clip_url(999_999, 0.0, 1.0)).status_code == 404


def test_only_the_page_itself_may_ask_for_a_clip(client, files):
    wav = next(f for name, f in files.items() if name.endswith(".wav"))
    url = clip_url(wav["id"], 0.0, 1.0)
    assert client.get(url, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get(url, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert client.get(url, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert client.get(url, headers={"Sec-Fetch-Site": "none"}).status_code == 200  # typed in, a drag-out
