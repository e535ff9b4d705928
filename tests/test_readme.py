"""The README's runnable library example runs as written, against the demo's library."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from pe_search.toy.demo_media import DemoMedia

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
