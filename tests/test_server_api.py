"""The HTTP API on the demo library: every endpoint, and every refusal (bad inputs, unknown ids,
path tricks, uploads past the caps or not media, tokens, byte ranges). Expected answers come from
the demo's generator labels (its manifest) and from the files' own bytes."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pe_search.api import Library
from pe_search.server import ServerConfig, create_app
from pe_search.server.uploads import leftover_uploads
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia

LOCAL = "http://127.0.0.1"
EDGE = 0.08  # s: the demo's localisation tolerance


@pytest.fixture(scope="module")
def media(demo) -> DemoMedia:
    return DemoMedia.load(Path(demo.root))


@pytest.fixture(scope="module")
def client(demo):
    with TestClient(create_app(ServerConfig(library=Path(demo.library))), base_url=LOCAL) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def ids(client, media) -> dict[str, int]:
    """Relative path in the demo folder -> file id, from the file list."""
    files = client.get("/api/files", params={"limit": 1000}).json()["files"]
    return {str(Path(f["path"]).relative_to(media.media_dir.resolve())): f["id"] for f in files}


def generated(media: DemoMedia, path: str):
    return media.by_path(path)


# ------------------------------------------------------------------------------------------ the spec
def test_openapi_lists_every_endpoint_and_docs_render(client):
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/search",
        "/api/search/upload",
        "/api/locate",
        "/api/files",
        "/api/files/{file_id}",
        "/api/files/{file_id}/curve",
        "/api/files/{file_id}/poster",
        "/api/status",
        "/media/{file_id}",
    ):
        assert path in spec["paths"], path
    assert "SearchRequest" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    page = client.get("/")
    assert page.status_code == 200 and 'id="q"' in page.text
    assert client.get("/static/app.js").status_code == 200


# ------------------------------------------------------------------------------------------ search
def test_text_search_finds_the_generating_class_first(client, media):
    body = client.post("/api/search", json={"q": synth.caption("chirp_up"), "target": "audio", "k": 3}).json()
    hits = body["hits"]
    assert hits and "chirp_up" in generated(media, hits[0]["path"]).sounds
    first = hits[0]
    assert first["media_url"] == f"/media/{first['file_id']}" and first["file_id"] == first["media_id"]
    assert 0 <= first["probability"] <= 1 and first["start"] < first["end"]
    assert body["query"]["target"] == "audio"


def test_text_mode_finds_a_file_by_its_name_and_says_why(client, media):
    wanted = media.files[0]
    words = Path(wanted.path).stem.replace("-", " ").replace("_", " ")
    body = client.post("/api/search", json={"q": words, "mode": "text", "k": 50}).json()
    found = [h for h in body["hits"] if media.by_path(h["path"]) == wanted]
    assert found, [h["path"] for h in body["hits"]]
    hit = found[0]
    assert hit["why"]["mode"] == "text" and hit["why"]["text_field"] == "name"
    assert client.post("/api/search", json={"q": words, "mode": "sql"}).status_code == 422


def test_http_search_answers_as_the_library_api_does(client, demo):
    text = synth.caption("yellow-square-flashing") if "yellow-square-flashing" in synth.SCENES else "a hiss"
    hits = client.post("/api/search", json={"q": text, "k": 5}).json()["hits"]
    with Library.open(demo.library) as library:
        direct = library.search(text, k=5)
    assert [(h["path"], h["start"], round(h["score"], 5)) for h in hits] == [
        (h.path, h.start, round(h.score, 5)) for h in direct
    ]


def test_picture_search_and_filters(client, media):
    picture = next(f.picture for f in media.files if f.picture)
    hits = client.post("/api/search", json={"q": synth.caption(picture), "target": "video", "k": 5}).json()[
        "hits"
    ]
    assert hits and generated(media, hits[0]["path"]).picture == picture
    assert hits[0]["poster_url"].startswith(f"/api/files/{hits[0]['file_id']}/poster")

    videos = client.post("/api/search", json={"q": "a hiss", "kind": ["video"], "k": 20}).json()["hits"]
    assert videos and all(generated(media, h["path"]).picture is not None for h in videos)
    folder = str((media.media_dir / "sounds").resolve())
    under = client.post("/api/search", json={"q": "a hiss", "folder": folder, "k": 20}).json()["hits"]
    assert under and all(h["path"].startswith(folder) for h in under)
    short = min(f.seconds for f in media.files)
    tiny = client.post("/api/search", json={"q": "a hiss", "max_duration": short - 0.01}).json()["hits"]
    assert tiny == []
    future = client.post("/api/search", json={"q": "a hiss", "modified_after": "2100-01-01"}).json()["hits"]
    assert future == []


def test_search_paging_continues_where_the_first_page_ended(client):
    both = client.post("/api/search", json={"q": "a hiss", "k": 4}).json()["hits"]
    second = client.post("/api/search", json={"q": "a hiss", "k": 2, "offset": 2}).json()["hits"]
    assert [h["path"] for h in second] == [h["path"] for h in both[2:4]]


def test_search_with_a_stored_segment(client, media, ids):
    scene = next(f for f in media.files if f.scene)
    end = client.get(f"/api/files/{ids[scene.path]}").json()["duration"]  # its one window: the whole file
    body = client.post(
        "/api/search", json={"like": {"file_id": ids[scene.path], "start": 0, "end": end}, "target": "audio"}
    )
    assert body.status_code == 200, body.text
    hits = body.json()["hits"]
    assert hits and all(h["file_id"] != ids[scene.path] for h in hits)


def test_upload_search_finds_the_scene_of_a_held_out_sound_and_leaves_nothing_behind(client, media, demo):
    right = {q.query for q in demo.queries if q.route == "audio -> video" and q.right}
    name, path = next((n, p) for n, p in media.query_sounds.items() if p.name in right)
    before = set(leftover_uploads())
    with open(path, "rb") as handle:
        answer = client.post(
            "/api/search/upload", files={"file": (path.name, handle)}, data={"target": "video", "k": "3"}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["query"]["use"] == "audio"
    assert generated(media, body["hits"][0]["path"]).picture == synth.SCENES[name].picture
    assert set(leftover_uploads()) == before


# ------------------------------------------------------------------------------------------ locate, curve
def long_take(media: DemoMedia):
    return next(f for f in media.files if f.events)


def test_locate_in_one_file_and_across_the_library(client, media, ids):
    take = long_take(media)
    event = take.events[0]
    spans = client.post(
        "/api/locate", json={"q": synth.caption(event.sound), "file_id": ids[take.path]}
    ).json()["spans"]
    best = max(spans, key=lambda s: min(s["end"], event.end) - max(s["start"], event.start))
    assert abs(best["start"] - event.start) <= EDGE and abs(best["end"] - event.end) <= EDGE
    assert best["file_id"] == ids[take.path]
    everywhere = client.post("/api/locate", json={"q": synth.caption(event.sound)}).json()["spans"]
    assert any(s["file_id"] == ids[take.path] for s in everywhere)


def test_curve_is_high_inside_the_event_and_low_outside(client, media, ids):
    take = long_take(media)
    event = take.events[0]
    curve = client.get(f"/api/files/{ids[take.path]}/curve", params={"q": synth.caption(event.sound)}).json()
    assert curve["space"] == "audio_frame"
    starts, probabilities = np.array(curve["starts"]), np.array(curve["probabilities"])
    assert np.allclose(np.diff(starts), 0.04, atol=1e-3)
    inside = (starts >= event.start + EDGE) & (starts + 0.04 <= event.end - EDGE)
    outside = (starts + 0.04 < event.start - EDGE) | (starts > event.end + EDGE)
    assert probabilities[inside].mean() > 0.5 > probabilities[outside].mean()
    assert any(abs(s["start"] - event.start) <= EDGE for s in curve["spans"])
    assert curve["duration"] == pytest.approx(take.seconds, abs=0.1)


# ------------------------------------------------------------------------------------------ files, status
def test_file_list_pages_and_filters(client, media):
    everything = client.get("/api/files", params={"limit": 1000}).json()
    assert everything["total"] == len(media.files) == len(everything["files"])
    page = client.get("/api/files", params={"limit": 5, "offset": 5}).json()
    assert page["total"] == len(media.files)
    assert [f["id"] for f in page["files"]] == [f["id"] for f in everything["files"][5:10]]
    videos = client.get("/api/files", params={"kind": "video", "limit": 1000}).json()
    assert videos["total"] == sum(1 for f in media.files if f.picture)
    one = everything["files"][0]
    assert client.get(f"/api/files/{one['id']}").json() == one


def test_status_reports_the_library(client, media):
    status = client.get("/api/status").json()
    assert status["media"]["indexed"] == len(media.files)
    assert status["spaces"]["audio"]["vectors"] > 0
    assert status["frames"]["audio_frame"]["frames"] > 0
    assert status["token_required"] is False and status["uploads"]["max_bytes"] > 0


def test_status_shows_what_the_cli_shows(client, demo):
    """One report behind both front doors: the server's status holds every field of the CLI's
    `status --json` with the same values (the server adds its own upload limits and token flag)."""
    from pe_search.cli.main import cli

    result = CliRunner().invoke(cli, ["status", "--library", str(demo.library), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    served = client.get("/api/status").json()
    assert set(shown) | {"uploads", "token_required"} == set(served)
    assert {key: served[key] for key in shown if key != "library"} == {
        key: value for key, value in shown.items() if key != "library"
    }


# ------------------------------------------------------------------------------------------ media, ranges
@pytest.fixture(scope="module")
def a_file(client, media, ids) -> tuple[int, bytes]:
    path = next(f.path for f in media.files if f.path.endswith(".mp4"))
    return ids[path], (media.media_dir / path).read_bytes()


def test_whole_file_and_head(client, a_file):
    file_id, data = a_file
    whole = client.get(f"/media/{file_id}")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    head = client.head(f"/media/{file_id}")
    assert (
        head.status_code == 200 and int(head.headers["content-length"]) == len(data) and head.content == b""
    )


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=0-99", 0, 99),  # first bytes
        ("bytes=1000-1999", 1000, 1999),  # middle
        ("bytes={end9}-{end}", -10, -1),  # last bytes, explicit
        ("bytes=1000-", 1000, -1),  # open-ended
        ("bytes=-50", -50, -1),  # suffix
        ("bytes=0-{past}", 0, -1),  # past the end: clamped
    ],
)
def test_byte_ranges(client, a_file, header, first, last):
    file_id, data = a_file
    size = len(data)
    header = header.format(end9=size - 10, end=size - 1, past=size + 500)
    answer = client.get(f"/media/{file_id}", headers={"Range": header})
    first, last = first % size, last % size
    assert answer.status_code == 206
    assert answer.content == data[first : last + 1]
    assert answer.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert int(answer.headers["content-length"]) == last - first + 1


@pytest.mark.parametrize(
    "header", ["bytes={size}-", "bytes=500-100", "bytes=-0", "items=0-9", "bytes=0-1,5-9", "bytes=-"]
)
def test_unsatisfiable_ranges_are_416(client, a_file, header):
    file_id, data = a_file
    answer = client.get(f"/media/{file_id}", headers={"Range": header.format(size=len(data))})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{len(data)}"
    assert answer.json()["status"] == 416


@pytest.mark.parametrize(
    "path",
    [
        "/media/999999",
        "/media/0",
        "/media/-1",
        "/api/files/999999",
        "/api/files/999999/poster",
        "/static/../pyproject.toml",
        "/static/%2e%2e/%2e%2e/api.py",
        "/static/..%2f..%2fapi.py",
        "/media/..%2f..%2fetc%2fpasswd",
        "/media/%2Fetc%2Fpasswd",
        "/media/1/../../etc/passwd",
        "/static/",
        "/media/",
    ],
)
def test_unknown_ids_and_path_tricks_are_refused(client, path):
    answer = client.get(path)
    assert answer.status_code in (404, 422), (path, answer.status_code)
    assert "root:" not in answer.text and "def " not in answer.text
    assert answer.headers["content-type"].startswith("application/json")


def test_curve_of_an_unknown_file_is_404(client):
    answer = client.get("/api/files/424242/curve", params={"q": "a hiss"})
    assert answer.status_code == 404 and "424242" in answer.json()["error"]


def test_poster_is_a_jpeg_of_the_video_and_audio_has_none(client, media, ids):
    scene = next(f for f in media.files if f.path.endswith(".mp4"))
    answer = client.get(f"/api/files/{ids[scene.path]}/poster", params={"t": 1.0})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    with av.open(io.BytesIO(answer.content)) as still:
        frame = next(still.decode(video=0)).to_ndarray(format="rgb24")
    with av.open(str(media.media_dir / scene.path)) as source:
        shown = [f for f in source.decode(video=0) if f.time <= 1.0][-1].to_ndarray(format="rgb24")
    assert frame.shape == shown.shape
    difference = np.abs(frame.astype(float) - shown.astype(float)).mean()
    assert difference < 6, difference  # the frame on screen at 1 s, up to JPEG's loss
    sound = next(f.path for f in media.files if f.picture is None)
    assert client.get(f"/api/files/{ids[sound]}/poster").status_code == 404


def test_symbolic_links_and_vanished_files_are_not_served(tmp_path):
    from pe_search.models.identity import ModelIdentity
    from pe_search.store import LibraryStore, MediaRecord

    outside = tmp_path / "secret.txt"
    outside.write_text("not media")
    real = tmp_path / "media" / "real.wav"
    real.parent.mkdir()
    real.write_bytes(b"RIFF" + b"\0" * 100)
    link = tmp_path / "media" / "link.wav"
    link.symlink_to(outside)
    later = tmp_path / "media" / "later.wav"
    later.write_bytes(b"RIFF")
    gone = tmp_path / "media" / "gone.wav"
    folder = tmp_path / "media" / "folder.wav"
    folder.mkdir()
    identity = ModelIdentity(("toy",), "c", "w", 8, {})
    ids = {}
    with LibraryStore.open(tmp_path / "lib", identity) as store, store.write() as tx:
        for path in (real, link, later, gone, folder):
            ids[path.name] = tx.upsert_media(MediaRecord(path=str(path), size=1, mtime=0.0, status="indexed"))
    later.unlink()
    later.symlink_to(outside)  # replaced by a link after it was indexed
    with TestClient(create_app(ServerConfig(library=tmp_path / "lib")), base_url=LOCAL) as test_client:
        assert test_client.get(f"/media/{ids['real.wav']}").content == real.read_bytes()
        for name in ("link.wav", "later.wav", "gone.wav", "folder.wav"):
            answer = test_client.get(f"/media/{ids[name]}")
            assert answer.status_code == 404, name
            assert "not media" not in answer.text


# ------------------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    "body, field",
    [
        ({"q": "a hiss", "k": 0}, "k"),
        ({"q": "a hiss", "k": 100000}, "k"),
        ({"q": "a hiss", "offset": -1}, "offset"),
        ({"q": "a hiss", "target": "sideways"}, "target"),
        ({"q": "a hiss", "min_prob": 2}, "min_prob"),
        ({"q": "a hiss", "kind": ["picture"]}, "kind.0"),
        ({"q": "a hiss", "modified_after": "yesterday"}, "modified_after"),
        ({"q": "a hiss", "min_duration": -3}, "min_duration"),
        ({"like": {"file_id": 1}}, "like.start"),
    ],
)
def test_bad_inputs_are_422_naming_the_field(client, body, field):
    answer = client.post("/api/search", json=body)
    assert answer.status_code == 422
    assert answer.json()["field"] == field


def test_query_mistakes_are_one_json_line(client):
    empty = client.post("/api/search", json={"q": "   "})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    nothing = client.post("/api/search", json={})
    assert nothing.status_code == 400 and "no query" in nothing.json()["error"]
    unknown_like = client.post("/api/search", json={"like": {"file_id": 99999, "start": 0, "end": 1}})
    assert unknown_like.status_code == 404
    not_json = client.post("/api/search", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    assert client.get("/api/nowhere").json()["status"] == 404
    bad_threshold = client.post("/api/locate", json={"q": "a hiss", "threshold": 1.5})
    assert bad_threshold.status_code == 422 and bad_threshold.json()["field"] == "threshold"
    missing_q = client.get("/api/files/1/curve")
    assert missing_q.status_code == 422 and missing_q.json()["field"] == "q"


def test_a_bug_is_a_json_500_without_a_traceback(demo, monkeypatch):
    app = create_app(ServerConfig(library=Path(demo.library)))

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Library, "search", broken)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as test_client:
        answer = test_client.post("/api/search", json={"q": "a hiss"})
    assert answer.status_code == 500
    assert "Traceback" not in answer.text and "secret internals" not in answer.text
    assert answer.json()["error"].startswith("internal error")


# ------------------------------------------------------------------------------------------ uploads
def test_upload_refusals(demo, media, tmp_path):
    sound = media.media_dir / next(f.path for f in media.files if f.path.endswith(".wav") and f.sounds)
    config = ServerConfig(library=Path(demo.library), max_upload_bytes=4096, max_upload_seconds=1.0)
    before = set(leftover_uploads())
    with TestClient(create_app(config), base_url=LOCAL) as small:
        big = small.post("/api/search/upload", files={"file": ("big.wav", b"\0" * 200_000)})
        assert big.status_code == 413 and "limit" in big.json()["error"]

        def chunks():
            yield b"--x\r\n"

        unsized = small.post(
            "/api/search/upload",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert unsized.status_code == 411
    with TestClient(
        create_app(ServerConfig(library=Path(demo.library), max_upload_seconds=1.0)), base_url=LOCAL
    ) as c:
        long = c.post("/api/search/upload", files={"file": (sound.name, sound.read_bytes())})
        assert long.status_code == 413 and "longer" in long.json()["error"]
        text = c.post(
            "/api/search/upload", files={"file": ("notes.wav", b"hello, this is not a sound\n" * 50)}
        )
        assert text.status_code == 415 and "notes.wav" in text.json()["error"]
        empty = c.post("/api/search/upload", files={"file": ("empty.wav", b"")})
        assert empty.status_code == 422
        missing = c.post("/api/search/upload", data={"target": "video"})
        assert missing.status_code == 422 and missing.json()["field"] == "file"
        bad_target = c.post(
            "/api/search/upload", files={"file": (sound.name, b"x")}, data={"target": "sideways"}
        )
        assert bad_target.status_code == 422 and bad_target.json()["field"] == "target"
    assert set(leftover_uploads()) == before


# ------------------------------------------------------------------------------------------ access
def test_token_is_required_off_loopback(demo):
    config = ServerConfig(library=Path(demo.library), token="s3cret", loopback_only=False)
    with TestClient(create_app(config), base_url="http://192.0.2.10") as remote:
        for path in ("/api/status", "/api/files", "/media/1", "/api/files/1/poster"):
            missing = remote.get(path)
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer", path
        wrong = remote.get("/api/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "wrong token" in wrong.json()["error"]
        basic = remote.get("/api/status", headers={"Authorization": "Basic czNjcmV0"})
        assert basic.status_code == 401
        searched = remote.post("/api/search", json={"q": "a hiss"})
        assert searched.status_code == 401
        right = remote.get("/api/status", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200 and right.json()["token_required"] is True
        assert remote.get("/").status_code == 200  # the page shell: no data, asks for the token
        assert remote.post("/api/session", headers={"Authorization": "Bearer nope"}).status_code == 401
        signed_in = remote.post("/api/session", headers={"Authorization": "Bearer s3cret"})
        assert signed_in.status_code == 204 and "httponly" in signed_in.headers["set-cookie"].lower()
        assert remote.get("/media/1").status_code == 200  # the cookie, as <video> requests carry it
        remote.cookies.clear()
        assert remote.get("/media/1").status_code == 401


def test_loopback_server_answers_only_loopback_host_names(client):
    assert client.get("/api/status", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/api/status", headers={"Host": "localhost"}).status_code == 200
    rebound = client.get("/api/status", headers={"Host": "attacker.example:8765"})
    assert rebound.status_code == 421


def test_serve_refuses_a_public_address_without_a_token(demo, monkeypatch):
    from pe_search.cli.main import cli

    monkeypatch.delenv("PE_SEARCH_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--library", demo.library, "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "--token" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(cli, ["serve", "--library", os.fspath(Path(demo.library).parent / "nope")])
    assert missing.exit_code == 1 and "error:" in missing.output


# ------------------------------------------------------------------------------------------ threads
class _WatchedLock:
    """A lock that sets `queued` when a thread has to wait for it, so a test can hold the first
    thread until another is certainly queued behind it, with no timer."""

    def __init__(self, queued: threading.Event) -> None:
        self.real, self.queued = threading.RLock(), queued

    def __enter__(self) -> None:
        if not self.real.acquire(blocking=False):
            self.queued.set()
            self.real.acquire()

    def __exit__(self, *_) -> None:
        self.real.release()


def _held_load(monkeypatch, other: threading.Event) -> list:
    """ModelSet.load counted, the first call held until another thread queued on a lock or got
    into a load of its own (the defect); returns the list of loads."""
    from pe_search.models.model_set import ModelSet

    real_load = ModelSet.load.__func__
    loads = []

    def held_load(cls, *args, **kwargs):
        loads.append(threading.get_ident())
        if len(loads) > 1:
            other.set()
        other.wait()
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(ModelSet, "load", classmethod(held_load))
    return loads


def test_two_first_requests_load_the_models_once(demo, monkeypatch):
    other = threading.Event()
    loads = _held_load(monkeypatch, other)
    app = create_app(ServerConfig(library=Path(demo.library)))
    app.state.served.query_lock = _WatchedLock(other)
    app.state.served.library._opening = _WatchedLock(other)
    with TestClient(app, base_url=LOCAL) as fresh:
        answers = []
        threads = [
            threading.Thread(target=lambda: answers.append(fresh.post("/api/search", json={"q": "a hiss"})))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [a.status_code for a in answers] == [200, 200]
    assert len(loads) == 1


def test_library_loads_its_models_once_across_threads(demo, monkeypatch):
    """Forced: the first load is held until another thread is queued on the Library's lock."""
    other = threading.Event()
    loads = _held_load(monkeypatch, other)
    library = Library.open(demo.library)
    library._opening = _WatchedLock(other)
    got = []
    threads = [threading.Thread(target=lambda: got.append(library.models)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    library.close()
    assert len(loads) == 1 and len({id(m) for m in got}) == 1


def test_serve_command_starts_a_server_that_answers(demo):
    import subprocess
    import sys

    import httpx

    from testkit.server_live import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pe_search",
            "serve",
            "--library",
            demo.library,
            "--port",
            str(port),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "pe-search serve did not start"
                time.sleep(0.5)
        assert answer.status_code == 200 and answer.json()["library"] == str(Path(demo.library).resolve())
        hits = httpx.post(f"http://127.0.0.1:{port}/api/search", json={"q": "a hiss"}, timeout=60).json()[
            "hits"
        ]
        assert hits
    finally:
        server.terminate()
        printed, _ = server.communicate(timeout=30)
    started = json.loads(printed)
    assert started["url"] == f"http://127.0.0.1:{port}/" and started["token_required"] is False
