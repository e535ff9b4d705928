"""The selected hit's whole file on the web page (issue 23), in headless Chromium against a live
server: its waveform drawn in a canvas from the server's peaks and its event timeline, checked
against the demo's generated long takes (silence with timed sound events: the generator's manifest
says where each file is loud and what sounds when), read back from the page's pixels and layout;
and a library without frame vectors, whose refused events leave one line and the waveform."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

from pe_search.api import Library
from pe_search.server import ServerConfig, create_app
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia, GeneratedFile
from pe_search.toy.media_writer import write_audio
from testkit.chromium import WAIT, chromium, wait_for
from testkit.server_live import live_server

EDGE = 0.08  # s: how far an event's drawn edges may be from the generator's (plus one pixel)
MARGIN = 0.1  # s: columns this close to an event's edge are left out of the loud/silent check


def caption(sound: str) -> str:
    return synth.SOUNDS[sound].captions[0]


@pytest.fixture(scope="module")
def media(demo) -> DemoMedia:
    return DemoMedia.load(Path(demo.root))


@pytest.fixture(scope="module")
def takes(media) -> list[GeneratedFile]:
    found = [f for f in media.files if f.events]
    assert len(found) >= 2, "the demo has its long takes"
    return found


@pytest.fixture(scope="module")
def toy_site(demo, media, takes, tmp_path_factory):
    """A live server on a copy of the demo library whose events use a vocabulary of the toy world's
    sounds (the captions the frame model was trained on) instead of AudioSet's names, which the toy
    models never saw: recorded with the library, as `--vocabulary` does."""
    root = tmp_path_factory.mktemp("toy-site")
    vocabulary = root / "toy-sounds.txt"
    sounds = sorted({event.sound for take in takes for event in take.events})
    vocabulary.write_text("".join(f"{caption(s)}\n" for s in sounds))
    shutil.copytree(demo.library, root / "library")
    with Library.open(root / "library") as library:
        library.update_tags(vocabulary=vocabulary)
    with live_server(create_app(ServerConfig(library=root / "library"), warm_up=True)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(toy_site):
    with chromium() as driver:
        yield driver


def select_file(driver, site: str, path: Path, query: str = "silence") -> None:
    """Search inside the file's folder and click its hit; wait until its waveform and events came."""
    driver.get(f"{site}/?{urlencode({'q': query, 'folder': str(path.parent)})}")
    wait_for(driver, "return document.body.dataset.state === 'done'")
    wait_for(
        driver,
        """const item = [...document.querySelectorAll('#results .hit')]
             .find(i => i.querySelector('.path').textContent === arguments[0]);
           if (!item) return false;
           item.querySelector('.name').click();
           return item.classList.contains('selected') && item.dataset.wave && item.dataset.events;""",
        str(path),
    )


SELECTED = "document.querySelector('#results .hit.selected')"


def test_the_waveform_is_inked_where_the_take_sounds_and_blank_where_it_is_silent(
    browser, toy_site, media, takes
):
    for take in takes:
        select_file(browser, toy_site, media.media_dir / take.path)
        assert browser.execute_script(f"return {SELECTED}.dataset.wave") == "done"
        width, inked = browser.execute_script(
            f"""const canvas = {SELECTED}.querySelector('canvas.wave');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const inked = new Array(canvas.width).fill(false);
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) inked[((i - 3) / 4) % canvas.width] = true;
            return [canvas.width, inked];"""
        )
        assert width > 100
        per_pixel = take.seconds / width
        loud, silent = [], []
        for x in range(width):
            a, b = x * per_pixel, (x + 1) * per_pixel
            if any(e.start + MARGIN <= a and b <= e.end - MARGIN for e in take.events):
                loud.append(x)
            elif all(b <= e.start - MARGIN or a >= e.end + MARGIN for e in take.events):
                silent.append(x)
        assert loud and silent
        assert all(inked[x] for x in loud), (take.path, [x for x in loud if not inked[x]])
        assert not any(inked[x] for x in silent), (take.path, [x for x in silent if inked[x]])


def drawn_events(driver) -> tuple[float, list[dict]]:
    """The selected hit's event rows as drawn: each span's label and its edges in pixels from the
    left of the strip, and the strip's width."""
    return driver.execute_script(
        f"""const strip = {SELECTED}.querySelector('.events');
        const box = strip.getBoundingClientRect();
        return [box.width, [...strip.querySelectorAll('.event-row')].flatMap(row =>
          [...row.querySelectorAll('.event')].map(span => {{
            const r = span.getBoundingClientRect();
            return {{label: row.dataset.label, left: r.left - box.left, right: r.right - box.left,
                     title: span.title}};
          }}))];"""
    )


def test_the_event_timeline_draws_each_generated_event_at_its_time(browser, toy_site, media, takes):
    found, total, misses = 0, 0, []
    for take in takes:
        select_file(browser, toy_site, media.media_dir / take.path)
        assert browser.execute_script(f"return {SELECTED}.dataset.events") == "done"
        width, spans = drawn_events(browser)
        per_pixel = take.seconds / width
        tolerance = per_pixel + EDGE
        for event in take.events:
            total += 1
            label = caption(event.sound)
            mine = [
                (s["left"] * per_pixel, s["right"] * per_pixel, s)
                for s in spans
                if s["label"] == label
                and s["left"] * per_pixel < event.end
                and s["right"] * per_pixel > event.start
            ]
            best = max(mine, key=lambda m: min(m[1], event.end) - max(m[0], event.start), default=None)
            if best and abs(best[0] - event.start) <= tolerance and abs(best[1] - event.end) <= tolerance:
                found += 1
                assert label in best[2]["title"] and "%" in best[2]["title"]
            else:
                misses.append((take.path, event, best))
    assert found >= 0.9 * total, misses


def test_clicking_an_event_plays_the_file_from_its_start(browser, toy_site, media, takes):
    take = takes[0]
    select_file(browser, toy_site, media.media_dir / take.path)
    wait_for(browser, f"return {SELECTED}.querySelector('audio').readyState >= 1")
    event = take.events[-1]  # the later one: far from where the hit's player starts
    clicked = browser.execute_script(
        f"""const item = {SELECTED};
        const row = item.querySelector(`.event-row[data-label="${{arguments[0]}}"]`);
        const span = [...row.querySelectorAll('.event')].find(s => +s.dataset.end > arguments[1] && +s.dataset.start < arguments[2]);
        span.click();
        const player = item.querySelector('audio');
        return {{at: player.currentTime, start: +span.dataset.start,
                 playhead: parseFloat(item.querySelector('.file-playhead').style.left)}};""",
        caption(event.sound),
        event.start,
        event.end,
    )
    assert abs(clicked["start"] - event.start) <= EDGE + 0.04
    assert clicked["at"] == pytest.approx(clicked["start"], abs=1e-3)
    assert clicked["playhead"] == pytest.approx(100 * clicked["start"] / take.seconds, abs=0.5)
    wait_for(browser, f"return !{SELECTED}.querySelector('audio').paused")


@pytest.fixture(scope="module")
def clip_only_site(tmp_path_factory):
    """A library indexed without a frame model: one generated file, loud for a second in the middle."""
    root = tmp_path_factory.mktemp("no-frames")
    (root / "media").mkdir()
    samples = np.zeros(3 * synth.SAMPLE_RATE, np.float32)
    beep = synth.sound("high_beep", 1.0, np.random.default_rng(7)).samples
    samples[synth.SAMPLE_RATE : 2 * synth.SAMPLE_RATE] = beep
    write_audio(root / "media" / "beep.wav", samples, synth.SAMPLE_RATE)
    library = Library.open(root / "library", model="toy", frames=False)
    assert library.index([root / "media"], workers=0, progress=False).files_indexed == 1
    library.close()
    with live_server(create_app(ServerConfig(library=root / "library"))) as url:
        yield url, root / "media" / "beep.wav"


def test_without_frame_vectors_the_events_say_why_in_one_line_and_the_waveform_stays(clip_only_site):
    import httpx

    site, path = clip_only_site
    with chromium() as driver:
        select_file(driver, site, path, query="a high beep")
        state = driver.execute_script(
            f"""const item = {SELECTED};
            return {{wave: item.dataset.wave, events: item.dataset.events,
                     note: item.querySelector('.events-note').textContent,
                     rows: item.querySelectorAll('.event-row').length,
                     state: document.body.dataset.state}};"""
        )
    file_id = httpx.post(f"{site}/api/search", json={"q": "a high beep"}, timeout=WAIT).json()["hits"][0][
        "file_id"
    ]
    refused = httpx.get(f"{site}/api/files/{file_id}/events", timeout=WAIT)
    assert refused.status_code >= 400
    assert state["wave"] == "done" and state["events"] == "error" and state["rows"] == 0
    assert state["note"] == f"Events: {refused.json()['error']}"
    assert "\n" not in state["note"]
    assert state["state"] == "done"
