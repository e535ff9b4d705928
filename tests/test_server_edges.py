"""The HTTP server's edges (issue 27, items 17 and 20): loopback Host names in any case and any
127/8 address, ids and ranges too large for the store or for int(), the curve's unknown ids,
uploads whose length cannot be told, 415s that name the upload (never the temp path), HEAD on the
page, and cross-site requests refused before they reach an expensive or state-changing route."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from pe_search.media import probe as probe_module
from pe_search.server import ServerConfig, create_app
from pe_search.server.config import is_loopback
from pe_search.server.ranges import RangeNotSatisfiable, byte_range
from pe_search.server.served import ServedLibrary
from pe_search.toy.demo_media import DemoMedia

LOCAL = "http://127.0.0.1"
HUGE = "9" * 5000  # past Python's int() digit limit (4300) and any file


@pytest.fixture(scope="module")
def media(demo) -> DemoMedia:
    return DemoMedia.load(Path(demo.root))


@pytest.fixture(scope="module")
def client(demo):
    with TestClient(create_app(ServerConfig(library=Path(demo.library))), base_url=LOCAL) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def a_file(client, media) -> tuple[int, bytes]:
    files = client.get("/api/files", params={"limit": 1000}).json()["files"]
    chosen = next(f for f in files if f["path"].endswith(".mp4"))
    return chosen["id"], Path(chosen["path"]).read_bytes()


# ------------------------------------------------------------------------------------------ Host names
@pytest.mark.parametrize(
    "host", ["127.0.0.2", "127.0.0.2:8765", "127.255.0.1", "LOCALHOST", "LocalHost:8765", "[::1]:8765", "::1"]
)
def test_every_loopback_host_name_is_answered_in_any_case(client, host):
    """`serve --host 127.0.0.2` is accepted as loopback, so requests addressed to it must be answered."""
    assert is_loopback(host.rsplit(":", 1)[0] if host.count(":") == 1 else host.strip("[]").split("]")[0])
    assert client.get("/api/status", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize(
    "host", ["attacker.example", "localhost.attacker.example:8765", "128.0.0.1", "10.0.0.1"]
)
def test_foreign_host_names_are_still_421(client, host):
    assert client.get("/api/status", headers={"Host": host}).status_code == 421, host


# ------------------------------------------------------------------------------------------ ids, ranges
@pytest.mark.parametrize(
    "path",
    [
        "/media/9223372036854775808",  # int64 max + 1
        "/media/99999999999999999999",
        "/api/files/99999999999999999999",
        "/api/files/99999999999999999999/poster",
        "/api/files/99999999999999999999/curve?q=a+hiss",
        "/media/-9223372036854775809",
    ],
)
def test_ids_past_int64_are_404(client, path):
    answer = client.get(path)
    assert answer.status_code == 404, (path, answer.status_code, answer.text)
    assert answer.json()["status"] == 404


def test_ids_past_int64_in_bodies_are_404(client):
    located = client.post("/api/locate", json={"q": "a hiss", "file_id": 2**64})
    assert located.status_code == 404, located.text
    liked = client.post("/api/search", json={"like": {"file_id": 2**64, "start": 0, "end": 1}})
    assert liked.status_code == 404, liked.text


def test_a_5000_digit_range_start_is_416_and_a_5000_digit_end_is_the_whole_file(client, a_file):
    file_id, data = a_file
    past = client.get(f"/media/{file_id}", headers={"Range": f"bytes={HUGE}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"
    to_end = client.get(f"/media/{file_id}", headers={"Range": f"bytes=0-{HUGE}"})
    assert to_end.status_code == 206 and to_end.content == data
    suffix = client.get(f"/media/{file_id}", headers={"Range": f"bytes=-{HUGE}"})
    assert suffix.status_code == 206 and suffix.content == data


@pytest.mark.parametrize(
    "header, size, expected",
    [
        (f"bytes={HUGE}-", 100, None),
        (f"bytes=0-{HUGE}", 100, (0, 99)),
        (f"bytes=-{HUGE}", 100, (0, 99)),
        ("bytes=00000000000000000000000000005-9", 100, (5, 9)),
        ("bytes=99-", 100, (99, 99)),
        ("bytes=100-", 100, None),
    ],
)
def test_byte_range_of_long_numbers(header, size, expected):
    if expected is None:
        with pytest.raises(RangeNotSatisfiable):
            byte_range(header, size)
    else:
        assert byte_range(header, size) == expected


# ------------------------------------------------------------------------------------------ curve
def test_curve_of_a_file_gone_between_the_check_and_the_query_is_404(client, a_file, monkeypatch):
    """Another process removes the file after the route found its record: the query then finds
    no such id, and says so as the other routes do (404), not as a bad query (400)."""
    file_id, _ = a_file
    real = ServedLibrary.file

    def stale(self, wanted):  # the record as it was a moment ago, for an id the store no longer has
        return real(self, file_id)

    monkeypatch.setattr(ServedLibrary, "file", stale)
    answer = client.get("/api/files/424242/curve", params={"q": "a hiss"})
    assert answer.status_code == 404, answer.text
    assert "424242" in answer.json()["error"]


# ------------------------------------------------------------------------------------------ uploads
def test_an_upload_of_unknown_duration_is_refused(demo, media, monkeypatch):
    """A stream whose container states no duration cannot be checked against the cap: refused."""
    sound = media.media_dir / next(f.path for f in media.files if f.path.endswith(".wav") and f.sounds)
    real_probe = probe_module.probe

    def no_duration(path):
        info = real_probe(path)
        return type(info)(**{**info.__dict__, "duration": None})

    monkeypatch.setattr("pe_search.server.uploads.probe", no_duration)
    config = ServerConfig(library=Path(demo.library), max_upload_seconds=1000.0)
    with TestClient(create_app(config), base_url=LOCAL) as c:
        answer = c.post("/api/search/upload", files={"file": (sound.name, sound.read_bytes())})
    assert answer.status_code in (413, 422), answer.text
    error = answer.json()["error"]
    assert sound.name in error and "duration" in error.lower()


def test_a_415_names_the_upload_not_the_temp_path(client):
    """A float WAV with NaN samples probes as a sound, then fails when the query decodes it: the
    media layer names the file it read (the server's temp file); the client must see its own name."""
    samples = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
    samples[100:200] = np.nan
    data = io.BytesIO()
    sf.write(data, samples, 16000, format="WAV", subtype="FLOAT")
    answer = client.post("/api/search/upload", files={"file": ("nan.wav", data.getvalue())})
    assert answer.status_code == 415, answer.text
    error = answer.json()["error"]
    assert error.startswith("nan.wav: ") and "NaN" in error
    assert "pe-search-upload-" not in error and tempfile.gettempdir() not in error, error


# ------------------------------------------------------------------------------------------ HEAD
def test_head_on_the_page_and_media(client, a_file):
    page = client.get("/")
    head = client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(page.content)
    file_id, data = a_file
    media_head = client.head(f"/media/{file_id}")
    assert media_head.status_code == 200 and int(media_head.headers["content-length"]) == len(data)


# ------------------------------------------------------------------------------------------ cross-site
EXPENSIVE = [
    ("post", "/api/search", {"json": {"q": "a hiss"}}),
    ("post", "/api/locate", {"json": {"q": "a hiss"}}),
    ("post", "/api/search/upload", {"files": {"file": ("a.wav", b"RIFF")}}),
    ("post", "/api/session", {}),
    ("get", "/api/files/1/curve?q=a+hiss", {}),
    ("get", "/api/files/1/poster", {}),
    ("get", "/api/files/1/events", {}),
    ("get", "/api/files/1/peaks", {}),
]


@pytest.mark.parametrize("method, path, kwargs", EXPENSIVE)
@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port on localhost is the same site, not the same origin
        {"Origin": "https://attacker.example"},
        {"Origin": "http://127.0.0.1:3000"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_requests_are_403(client, method, path, kwargs, headers):
    answer = getattr(client, method)(path, headers=headers, **kwargs)
    assert answer.status_code == 403, (path, headers, answer.status_code, answer.text)
    assert "cross-site" in answer.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts: no browser headers
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1"},  # the page's own fetch
        {"Origin": "http://127.0.0.1"},
        {"Origin": "HTTP://127.0.0.1"},
        {"Sec-Fetch-Site": "none"},  # typed in the address bar
    ],
)
def test_the_pages_own_requests_and_plain_clients_pass(client, headers):
    answer = client.post("/api/search", json={"q": "a hiss", "k": 1}, headers=headers)
    assert answer.status_code == 200, (headers, answer.text)


def test_a_link_from_another_site_still_opens_the_page_and_plays_media(client, a_file):
    file_id, _ = a_file
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert client.get("/", headers=cross).status_code == 200
    assert client.get(f"/media/{file_id}", headers=cross).status_code == 200
