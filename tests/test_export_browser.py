"""The web page's Export menu in headless Chromium (Debian's chromium + chromedriver, driven by
selenium, as tests/test_server_browser.py): after a text search on the demo library, Download
saves a file that OpenTimelineIO reads back, with a clip for each hit shown, each referencing
the hit's file."""

from __future__ import annotations

from pathlib import Path

import httpx
import opentimelineio as otio
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from testkit.chromium import WAIT, chromium


@pytest.fixture(scope="module")
def browser(site, downloads):
    with chromium(downloads) as driver:
        yield driver


def _finished(folder: Path, name: str) -> Path | None:
    path = folder / name
    return path if path.exists() and not list(folder.glob("*.crdownload")) else None


@pytest.mark.parametrize("format_name", ["otio", "xml"])
def test_the_export_menu_downloads_a_file_otio_reads(browser, site, downloads, format_name):
    browser.get(f"{site}/")
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("a rising chirp", Keys.ENTER)
    WebDriverWait(browser, WAIT).until(
        lambda d: d.execute_script("return document.body.dataset.state") == "done"
    )
    menu = browser.find_element(By.ID, "export")
    assert menu.is_displayed()
    shown = httpx.post(f"{site}/api/search", json={"q": "a rising chirp"}, timeout=WAIT).json()["hits"]
    Select(browser.find_element(By.ID, "export-format")).select_by_value(format_name)
    browser.find_element(By.ID, "export-go").click()
    saved = WebDriverWait(browser, WAIT).until(lambda _d: _finished(downloads, f"pe-search.{format_name}"))
    timeline = otio.adapters.read_from_file(str(saved))
    urls = sorted(clip.media_reference.target_url for clip in timeline.find_clips())
    assert urls == sorted(Path(hit["path"]).as_uri() for hit in shown)
    saved.unlink()


def test_the_export_menu_is_hidden_without_results(browser, site):
    browser.get(f"{site}/")
    WebDriverWait(browser, WAIT).until(
        lambda d: d.execute_script("return document.body.dataset.state") == "empty"
    )
    assert not browser.find_element(By.ID, "export").is_displayed()


def test_the_export_endpoint_answers_mistakes_in_json(site):
    nothing = httpx.post(f"{site}/api/export", json={"format": "otio"}, timeout=WAIT)
    assert nothing.status_code == 422 and "search or locate" in nothing.json()["error"]
    mixed = httpx.post(
        f"{site}/api/export", json={"search": {"q": "a rising chirp"}, "format": "vtt"}, timeout=WAIT
    )
    assert mixed.status_code == 400 and "one file" in mixed.json()["error"]
    located = httpx.post(
        f"{site}/api/export",
        json={"locate": {"q": "a high beep", "threshold": 0.05}, "format": "csv"},
        timeout=WAIT,
    )
    assert located.status_code == 200 and located.headers["content-disposition"].endswith('"pe-search.csv"')
    header, *rows = located.text.splitlines()
    assert header == "path,timecode_in,timecode_out,start,end,probability,space,query" and rows
