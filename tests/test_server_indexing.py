"""Search while indexing: a real server answers a stream of searches while `pe-search index` (a
separate process, toy model) adds files to the same library. No request fails, and the files the
writer commits show up without a restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pe_search import crash_points
from pe_search.server import ServerConfig, create_app
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia
from testkit.server_live import live_server

FIRST = ("sounds/low-tone.wav", "sounds/mid-tone.flac")
LATER = (
    "sounds/chirp-up.m4a",
    "sounds/white-noise.wav",
    "sounds/high-beep.m4a",
    "pictures/blue-square-still.webm",
)
PE_SEARCH = [sys.executable, "-m", "pe_search"]


def copy(media: DemoMedia, names: tuple[str, ...], folder: Path) -> Path:
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media.media_dir / name, target)
    return folder


def index(folder: Path, library: Path) -> list[str]:
    return [*PE_SEARCH, "index", str(folder), "--library", str(library), "--model", "toy", "--workers", "0"]


def _stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP), as /proc says."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_searches_keep_answering_while_index_adds_files(demo, tmp_path):
    media = DemoMedia.load(Path(demo.root))
    library = tmp_path / "library"
    subprocess.run(index(copy(media, FIRST, tmp_path / "first"), library), check=True, capture_output=True)
    later = copy(media, LATER, tmp_path / "later")
    chirp = synth.caption("chirp_up")

    with (
        live_server(create_app(ServerConfig(library=library), warm_up=True)) as site,
        httpx.Client(base_url=site, timeout=120) as client,
    ):
        assert client.get("/api/files").json()["total"] == len(FIRST)
        # The writer stops itself just after its 2nd commit (pe_search/crash_points.py) and waits
        # there: the searches below meet a run certainly under way, however loaded the machine.
        environment = {**os.environ, crash_points.ENV: "file-committed:2", crash_points.SIGNAL_ENV: "STOP"}
        writer = subprocess.Popen(
            index(later, library), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment
        )
        answers, totals, paused = [], [], []

        def search_and_list() -> None:
            answers.append(client.post("/api/search", json={"q": chirp, "target": "audio", "k": 3}))
            listed = client.get("/api/files")
            answers.append(listed)
            if listed.status_code == 200:
                totals.append(listed.json()["total"])

        while writer.poll() is None and not _stopped(writer.pid):
            search_and_list()
        assert writer.poll() is None, "the writer should have stopped after its second commit"
        for _ in range(3):
            search_and_list()
            paused.append(totals[-1])
        writer.send_signal(signal.SIGCONT)
        while writer.poll() is None:
            search_and_list()
        _, errors = writer.communicate()
        assert writer.returncode == 0, errors.decode()[-2000:]
        failed = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 200]
        assert not failed
        assert paused == [len(FIRST) + 2] * 3  # mid-run: the two committed files, no partial one
        assert totals == sorted(totals)  # files only appear, one commit after another

        final = client.get("/api/files").json()["total"]
        assert final == len(FIRST) + len(LATER)
        hits = client.post("/api/search", json={"q": chirp, "target": "audio", "k": 3}).json()["hits"]
        assert Path(hits[0]["path"]).name == "chirp-up.m4a"  # a file the running server never saw at start
        assert client.get(f"/media/{hits[0]['file_id']}").status_code == 200


@pytest.fixture(autouse=True)
def _quiet_inductor(monkeypatch, tmp_path):
    monkeypatch.setenv("PE_SEARCH_FAST", "0")  # the writer process needs no compile step for this test
