"""The README's runnable library example runs as written, against the demo's library."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pe_search import Library
from pe_search.toy.demo_media import DemoMedia
from testkit import media

README = Path(__file__).resolve().parent.parent / "README.md"


def _library_example() -> str:
    section = README.read_text().split("## Library API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_library_example_runs_and_finds_what_it_says(demo, monkeypatch):
    monkeypatch.chdir(Path(demo.root).parent)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_library_example(), "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert any(name in lines[0] for name in ("chirp-up", "green-circle-growing")), lines
    assert "yellow-square-flashing" in lines[3], lines
    start, end, probability = map(float, lines[4].split())
    beep = next(e for e in DemoMedia.load(Path(demo.root)).events if e.sound == "high_beep")
    assert abs(start - beep.start) <= 0.08 and abs(end - beep.end) <= 0.08 and probability > 0.3
    assert int(lines[5].split()[0]) > 0


def _new_library_example() -> str:
    section = README.read_text().split("A new library of your own media", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _hub_snapshot(cache: Path, repo_id: str, source: Path) -> None:
    """`source` laid out as huggingface_hub's cache holds `repo_id` at one revision."""
    revision = "0" * 40
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(source, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


def test_the_new_library_example_runs_as_a_script_without_a_main_guard(checkpoint_dirs, tmp_path):
    """Issue 27, defect 18: `python script.py` with the README's text, exactly. Spawned decode
    workers used to re-run the script, index again inside themselves and die."""
    example = _new_library_example()
    assert "__main__" not in example
    cache = tmp_path / "hf-cache"  # tiny checkpoints under the README's hub ids, offline
    ids = dict(re.findall(r'\b(model|frame_model)="([^"]+)"', example))
    _hub_snapshot(cache, ids["model"], checkpoint_dirs["audio_video"])
    _hub_snapshot(cache, ids["frame_model"], checkpoint_dirs["audio_frame"])
    footage = tmp_path / "home" / "Footage"
    footage.mkdir(parents=True)
    for number in range(4):  # more files than this process decodes while the worker starts
        media.write_audio(footage / f"tone{number}.wav", media.tone(300 + 150 * number, 1.5, 48_000), 48_000)
    frames = [(media.moving_square_frame(5 * i), i / 10) for i in range(12)]
    media.write_video(footage / "walk.mp4", frames, audio=media.tone(330, 1.2, 48_000))
    script = tmp_path / "script.py"
    script.write_text(example)
    environment = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "PE_SEARCH_COMPILE": "0",
    }
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "files_indexed=5" in run.stdout.splitlines()[0], run.stdout
    with Library.open(tmp_path / "pe-library") as library:
        assert library.status().media_by_status == {"indexed": 5}
