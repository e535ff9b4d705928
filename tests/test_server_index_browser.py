"""The page's Index control in headless Chromium (issue 25, item 3): shown only when the server may
index, it starts a run, shows its progress from the event stream, and a file the run indexes
appears in the shown results without the page reloading."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from served_indexing import FIRST, LATER, build_library, no_compile_step, serving, write_sounds

from pe_search.toy import synth
from testkit.chromium import WAIT, chromium


@pytest.fixture(scope="module", autouse=True)
def _no_compile_step():
    with no_compile_step():
        yield


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def hit_names(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#results .hit .name')].map(n => n.textContent)"
    )


def test_the_page_indexes_and_a_new_hit_appears_without_a_reload(browser, tmp_path):
    library = build_library(tmp_path)
    incoming = write_sounds(LATER, tmp_path / "incoming")
    with serving(library, (incoming,)) as site:
        query = urlencode({"q": synth.caption("chirp_up"), "target": "audio"})
        browser.get(f"{site}/?{query}")
        WebDriverWait(browser, WAIT).until(
            lambda d: d.execute_script("return document.body.dataset.state") in ("done", "none")
        )
        assert set(hit_names(browser)) <= {Path(name).name for name in FIRST}  # only what the library holds
        panel = browser.find_element(By.ID, "indexing")
        WebDriverWait(browser, WAIT).until(lambda d: panel.is_displayed())
        assert browser.find_element(By.ID, "index-folders").text == str(incoming)
        browser.execute_script(
            """window.notReloaded = true; window.seen = [];
            const panel = document.querySelector('#indexing');
            new MutationObserver(() => window.seen.push([panel.dataset.status, document.querySelector('#index-state').textContent]))
              .observe(panel, {attributes: true, childList: true, subtree: true, characterData: true});"""
        )
        browser.find_element(By.ID, "index-go").click()
        WebDriverWait(browser, WAIT).until(lambda d: "chirp-up.wav" in hit_names(d))
        WebDriverWait(browser, WAIT).until(lambda d: panel.get_attribute("data-status") == "done")
        assert browser.execute_script("return window.notReloaded") is True
        assert hit_names(browser)[0] == "chirp-up.wav"
        seen = browser.execute_script("return window.seen")
        statuses = [status for status, _ in seen]
        assert "running" in statuses and statuses[-1] == "done"
        texts = [text for _, text in seen]
        assert any(f"of {len(LATER)} files" in text for text in texts), texts  # the live count
        assert browser.find_element(By.ID, "index-state").text.startswith(f"Indexed {len(LATER)} new files")
        assert panel.get_attribute("data-done") == str(len(LATER))
        assert browser.find_element(By.ID, "index-go").is_enabled()
        browser.get("about:blank")  # the page's event stream closes before the server stops


def test_the_control_is_hidden_when_the_server_may_not_index(browser, tmp_path):
    library = build_library(tmp_path)
    with serving(library) as site:
        browser.get(f"{site}/")
        WebDriverWait(browser, WAIT).until(
            lambda d: d.execute_script("return document.body.dataset.indexing") == "off"
        )
        assert browser.execute_script("return document.querySelector('#indexing').hidden") is True


def test_behind_a_token_the_control_appears_after_one_sign_in(browser, tmp_path):
    library = build_library(tmp_path)
    incoming = write_sounds(LATER, tmp_path / "incoming")
    with serving(library, (incoming,), token="s3cret") as site:
        browser.get(f"{site}/")  # the welcome's status and the Index control both meet a 401 at once
        dialog = browser.find_element(By.ID, "token-dialog")
        WebDriverWait(browser, WAIT).until(lambda d: dialog.is_displayed())
        browser.find_element(By.ID, "token").send_keys("s3cret")
        browser.find_element(By.ID, "token-ok").click()
        WebDriverWait(browser, WAIT).until(
            lambda d: d.execute_script("return document.body.dataset.indexing") == "on"
        )
        assert not dialog.is_displayed()
        browser.find_element(By.ID, "index-go").click()  # its event stream goes with the cookie
        panel = browser.find_element(By.ID, "indexing")
        WebDriverWait(browser, WAIT).until(lambda d: panel.get_attribute("data-status") == "done")
        assert panel.get_attribute("data-done") == str(len(LATER))
        WebDriverWait(browser, WAIT).until(
            lambda d: d.find_element(By.ID, "state").text.startswith(
                f"{len(FIRST) + len(LATER)} files indexed"
            )
        )  # the welcome's count, asked again at the end of the run
        browser.get("about:blank")


def test_the_panel_says_which_speech_model_its_runs_transcribe_with(browser, tmp_path):
    library = build_library(tmp_path)
    incoming = write_sounds(LATER, tmp_path / "incoming")
    speech = tmp_path / "models" / "whisper-small-en"  # named only: the page shows the server's setting
    with serving(library, (incoming,), transcribe=str(speech)) as site:
        browser.get(f"{site}/")
        panel = browser.find_element(By.ID, "indexing")
        WebDriverWait(browser, WAIT).until(lambda d: panel.is_displayed())
        shown = browser.find_element(By.ID, "index-folders").text
        assert shown == f"{incoming} · transcribing speech (whisper-small-en)"
        browser.get("about:blank")
