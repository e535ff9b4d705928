"""The served-path check (issue 27, item 4): a file is served only while its recorded path leads
to a regular file with no symbolic link anywhere on the way, a folder replaced by a link included,
not only the last component; and a suffix range longer than the file is the whole file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from pe_search.models.identity import ModelIdentity
from pe_search.server import ServerConfig, create_app
from pe_search.server.routes.media import _open_recorded
from pe_search.store import LibraryStore, MediaRecord

LOCAL = "http://127.0.0.1"
SECRET = b"outside the library: never served"
CONTENT = b"RIFF" + bytes(range(256)) * 4


@pytest.fixture
def tree(tmp_path):
    """media/sub/deep/a.wav and media/top.wav, and a secret file outside with the same layout."""
    root = tmp_path.resolve()
    (root / "media" / "sub" / "deep").mkdir(parents=True)
    (root / "media" / "sub" / "deep" / "a.wav").write_bytes(CONTENT)
    (root / "media" / "top.wav").write_bytes(CONTENT)
    (root / "outside" / "deep").mkdir(parents=True)
    (root / "outside" / "deep" / "a.wav").write_bytes(SECRET)
    return root


def _replace_by_link(folder: Path, target: Path) -> None:
    os.rename(folder, folder.with_name(folder.name + ".moved"))
    folder.symlink_to(target, target_is_directory=True)


def test_a_regular_file_opens_with_its_size(tree):
    path = tree / "media" / "sub" / "deep" / "a.wav"
    handle, size = _open_recorded(str(path))
    with handle:
        assert size == len(CONTENT) and handle.read() == CONTENT


def test_a_folder_on_the_path_replaced_by_a_link_is_refused(tree):
    path = tree / "media" / "sub" / "deep" / "a.wav"
    _replace_by_link(tree / "media" / "sub", tree / "outside")  # media/sub -> outside
    assert path.read_bytes() == SECRET  # the recorded path now reaches the outside file
    with pytest.raises(HTTPException) as refused:
        _open_recorded(str(path))
    assert refused.value.status_code == 404 and "symbolic link" in refused.value.detail


def test_the_top_media_folder_replaced_by_a_link_is_refused(tree):
    (tree / "elsewhere").mkdir()
    (tree / "elsewhere" / "top.wav").write_bytes(SECRET)
    _replace_by_link(tree / "media", tree / "elsewhere")
    with pytest.raises(HTTPException) as refused:
        _open_recorded(str(tree / "media" / "top.wav"))
    assert refused.value.status_code == 404


def test_a_link_to_a_file_inside_the_library_is_refused_too(tree):
    link = tree / "media" / "link.wav"
    link.symlink_to(tree / "media" / "top.wav")
    with pytest.raises(HTTPException) as refused:
        _open_recorded(str(link))
    assert refused.value.status_code == 404


@pytest.mark.parametrize("what", ["gone", "folder", "fifo"])
def test_what_is_not_a_regular_file_is_404(tree, what):
    path = tree / "media" / "x.wav"
    if what == "folder":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
        # opening a FIFO for reading blocks until a writer comes: keep one open beside it
        writer = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(HTTPException) as refused:
            _open_recorded(str(path))
        assert refused.value.status_code == 404
    finally:
        if what == "fifo":
            os.close(writer)


@pytest.fixture
def client(tree):
    identity = ModelIdentity(("toy",), "c", "w", 8, {})
    ids = {}
    with LibraryStore.open(tree / "lib", identity) as store, store.write() as tx:
        for path in (tree / "media" / "sub" / "deep" / "a.wav", tree / "media" / "top.wav"):
            ids[path.name] = tx.upsert_media(MediaRecord(path=str(path), size=1, mtime=0.0, status="indexed"))
    with TestClient(create_app(ServerConfig(library=tree / "lib")), base_url=LOCAL) as test_client:
        yield test_client, ids


def test_over_http_a_linked_folder_is_404_and_leaks_nothing(tree, client):
    test_client, ids = client
    assert test_client.get(f"/media/{ids['a.wav']}").content == CONTENT
    _replace_by_link(tree / "media" / "sub", tree / "outside")
    answer = test_client.get(f"/media/{ids['a.wav']}")
    assert answer.status_code == 404 and SECRET.decode() not in answer.text
    assert test_client.get(f"/media/{ids['top.wav']}").content == CONTENT  # the rest is still served


@pytest.mark.parametrize("suffix", [len(CONTENT), len(CONTENT) + 1, 10 * len(CONTENT)])
def test_over_http_a_suffix_range_as_long_as_the_file_or_longer_is_the_whole_file(client, suffix):
    test_client, ids = client
    answer = test_client.get(f"/media/{ids['top.wav']}", headers={"Range": f"bytes=-{suffix}"})
    assert answer.status_code == 206
    assert answer.content == CONTENT
    assert answer.headers["content-range"] == f"bytes 0-{len(CONTENT) - 1}/{len(CONTENT)}"
    assert int(answer.headers["content-length"]) == len(CONTENT)


def test_a_link_that_appears_after_the_path_check_is_not_followed(tree, monkeypatch):
    """The path check and the open are two steps: a link swapped in between must still not be
    followed (O_NOFOLLOW on the last component). The race is forced by letting the check pass."""
    link = tree / "media" / "raced.wav"
    link.symlink_to(tree / "outside" / "deep" / "a.wav")
    monkeypatch.setattr(os.path, "realpath", os.path.normpath)  # the check saw no link
    with pytest.raises(HTTPException) as refused:
        _open_recorded(str(link))
    assert refused.value.status_code == 404
    assert refused.value.detail == "the file is no longer where the library recorded it"


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    "what, detail",
    [
        ("gone", "the file is no longer where the library recorded it"),
        ("folder", "the recorded path is not a regular file"),
        ("link", "the file's recorded path now goes through a symbolic link: not served"),
    ],
)
def test_each_refusal_says_why_and_leaves_no_descriptor_open(tree, what, detail):
    path = tree / "media" / "x.wav"
    if what == "folder":
        path.mkdir()
    elif what == "link":
        path.symlink_to(tree / "media" / "top.wav")
    before = _open_descriptors()
    for _ in range(3):
        with pytest.raises(HTTPException) as refused:
            _open_recorded(str(path))
        assert refused.value.status_code == 404 and refused.value.detail == detail
    assert _open_descriptors() == before


@pytest.mark.parametrize(
    "start, length", [(0, len(CONTENT)), (5, 100), (1000, 28), (1027, 1), (10, 8), (3, 0)]
)
def test_chunks_stream_exactly_the_range_in_small_pieces(tree, monkeypatch, start, length):
    from pe_search.server.routes import media as media_routes

    monkeypatch.setattr(media_routes, "CHUNK", 7)
    handle, _ = _open_recorded(str(tree / "media" / "top.wav"))
    pieces = list(media_routes._chunks(handle, start, length))
    assert b"".join(pieces) == CONTENT[start : start + length]
    assert all(len(piece) <= 7 for piece in pieces) and all(pieces)
    assert handle.closed


def test_chunks_of_a_file_cut_short_since_stop_at_its_end(tree, monkeypatch):
    from pe_search.server.routes import media as media_routes

    monkeypatch.setattr(media_routes, "CHUNK", 64)
    path = tree / "media" / "top.wav"
    handle, size = _open_recorded(str(path))
    os.truncate(path, 100)  # cut after it was opened and sized
    assert b"".join(media_routes._chunks(handle, 50, size - 50)) == CONTENT[50:100]


@pytest.mark.parametrize(
    "name, wanted",
    [
        ("a.mp4", {"video/mp4"}),
        ("a.m4a", {"audio/mp4", "audio/x-m4a", "audio/m4a"}),
        ("A.FLAC", {"audio/flac", "audio/x-flac"}),  # by suffix, in any case
        ("a.mkv", {"video/x-matroska"}),
        ("a.WEBM", {"video/webm"}),
        ("a.wav", {"audio/x-wav", "audio/wav", "audio/vnd.wave"}),
        ("a.weird", {"application/octet-stream"}),  # unknown: bytes, never a guess
        ("notes.txt.gz", {"text/plain"}),  # the type, not the encoding
    ],
)
def test_the_content_type_follows_the_suffix(name, wanted):
    from pe_search.server.routes.media import _content_type

    assert _content_type(f"/m/{name}") in wanted


@pytest.mark.parametrize(
    "name, wanted",
    [
        ("a.m4a", "audio/mp4"),
        ("A.FLAC", "audio/flac"),
        ("a.mkv", "video/x-matroska"),
        ("a.webm", "video/webm"),
        ("a.weird", "application/octet-stream"),
    ],
)
def test_the_content_type_without_a_system_mime_table(monkeypatch, name, wanted):
    """Where the system's MIME table lacks a media suffix, the route's own table answers."""
    import mimetypes

    from pe_search.server.routes.media import _content_type

    monkeypatch.setattr(mimetypes, "guess_type", lambda path: (None, None))
    assert _content_type(f"/m/{name}") == wanted
