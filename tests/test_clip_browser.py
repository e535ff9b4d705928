"""Trimmed clips and "more like this" on the web page, in headless Chromium (Debian's chromium +
chromedriver, driven by selenium) against a real server on the demo library: a hit's download
link saves a clip that PyAV decodes and that Chromium plays; the drag carries a DownloadURL; the
"More like this" button and a range dragged across a hit's strip search with that range."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_server_browser import search_by_typing, wait_for_state

from testkit.chromium import WAIT, chromium


@pytest.fixture(scope="module")
def browser(site, downloads):
    with chromium(downloads) as driver:
        yield driver


def _first_hit(driver, site: str, text: str):
    search_by_typing(driver, site, text)
    assert wait_for_state(driver, "done", "none", "error") == "done"
    return driver.find_element(By.CSS_SELECTOR, "#results .hit")


def _finished(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if not p.name.endswith(".crdownload")]


def test_the_download_link_of_a_hit_saves_a_playable_clip(browser, site, downloads):
    hit = _first_hit(browser, site, "a rising chirp")
    start, end = float(hit.get_attribute("data-start")), float(hit.get_attribute("data-end"))
    link = hit.find_element(By.CSS_SELECTOR, ".clip-link")
    link.click()
    WebDriverWait(browser, WAIT).until(lambda _: _finished(downloads))
    (saved,) = _finished(downloads)
    assert saved.name == link.get_attribute("download")
    with av.open(str(saved)) as container:
        frames = sum(1 for _ in container.decode(*container.streams))
        assert abs(container.duration / av.time_base - (end - start)) <= 0.05
    assert frames > 0
    # Chromium plays the same bytes: metadata, then data enough to play
    played = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const player = document.createElement(arguments[1] ? 'video' : 'audio');
        player.muted = true;
        player.addEventListener('canplay', () => player.play().then(
            () => done({duration: player.duration, error: null}), (e) => done({error: String(e)})));
        player.addEventListener('error', () => done({error: 'cannot play: ' + player.error.code}));
        player.src = arguments[0];""",
        link.get_attribute("href"),
        saved.suffix in (".mp4", ".webm"),
    )
    assert played["error"] is None, played
    assert abs(played["duration"] - (end - start)) <= 0.05


def test_dragging_a_hit_out_carries_the_clip_as_a_download_url(browser, site):
    hit = _first_hit(browser, site, "a low tone")
    carried = browser.execute_script(
        """const link = arguments[0].querySelector('.clip-link');
        const data = new DataTransfer();
        link.dispatchEvent(new DragEvent('dragstart', {dataTransfer: data, bubbles: true}));
        return {url: data.getData('DownloadURL'), href: link.href};""",
        hit,
    )
    kind, name, url = carried["url"].split(":", 2)
    assert "/" in kind and url == carried["href"] and "/clip?" in url and name.endswith(Path(name).suffix)


def test_more_like_this_and_a_range_on_the_strip_search_with_that_range(browser, site):
    hit = _first_hit(browser, site, "a rising chirp")
    name = hit.find_element(By.CSS_SELECTOR, ".name").text
    hit.find_element(By.CSS_SELECTOR, ".more-like").click()
    assert wait_for_state(browser, "done", "none", "error") in ("done", "none")
    assert name in browser.find_element(By.ID, "state").text
    hit = _first_hit(browser, site, "a rising chirp")
    strip = hit.find_element(By.CSS_SELECTOR, ".timeline")
    width = strip.size["width"]
    ActionChains(browser).move_to_element_with_offset(strip, -width // 4, 0).click_and_hold().move_by_offset(
        width // 3, 0
    ).release().perform()
    # the release started the range's search at once (the page shows "loading" until it answers)
    state = wait_for_state(browser, "done", "none", "error")
    said = browser.find_element(By.ID, "state").text
    assert state in ("done", "none") and "looking like" in said and name in said, said
