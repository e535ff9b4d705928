"""Tags on the web page (issue 23) in headless Chromium against a live server on a copy of the demo
library tagged with a vocabulary of the toy world's sounds (each named by its first caption) under
made-up broader groups: the tag browser's tree and counts, a click that filters the results (by a
label, and by a group: its narrower labels included), the clear button, the chips on every hit and
the facets beside them. Which files a tag must bring back comes from the demo's manifest (the
class that generated each file), never from the tags under test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from pe_search.api import Library
from pe_search.server import ServerConfig, create_app
from pe_search.toy.demo_media import DemoMedia
from pe_search.toy.vocabulary import SOUNDS
from testkit.chromium import WAIT, chromium
from testkit.server_live import live_server

LABEL = {name: sound.captions[0] for name, sound in SOUNDS.items()}  # class -> its tag
GROUPS = {"Tonal": ("low_tone", "mid_tone", "high_beep"), "Noisy": ("white_noise", "brown_noise")}
UNHEARD = "thunder"  # a label no toy sound is: no file has it


@pytest.fixture(scope="module")
def media(demo) -> DemoMedia:
    return DemoMedia.load(Path(demo.root))


@pytest.fixture(scope="module")
def tagged_site(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("tagged")
    parent = {LABEL[c]: group for group, classes in GROUPS.items() for c in classes}
    labels = [{"name": group, "parents": []} for group in GROUPS]
    labels += [
        {"name": label, "parents": [parent[label]] if label in parent else []} for label in LABEL.values()
    ]
    labels.append({"name": UNHEARD, "parents": []})
    vocabulary = root / "toy-tree.json"
    vocabulary.write_text(json.dumps({"labels": labels}))
    shutil.copytree(demo.library, root / "library")
    with Library.open(root / "library") as library:
        library.update_tags(vocabulary=vocabulary)
    with live_server(create_app(ServerConfig(library=root / "library"), warm_up=True)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tagged_site):
    with chromium() as driver:
        yield driver


def single_class_files(media: DemoMedia, classes) -> set[str]:
    """Absolute paths of the generated files made of one sound class, of one of `classes`."""
    return {
        str((media.media_dir / f.path).resolve())
        for f in media.files
        if len(set(f.sounds)) == 1 and f.sounds[0] in classes
    }


def wait_for_state(driver, state: str) -> None:
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return document.body.dataset.state") == state
    )


def shown(driver) -> list[dict]:
    return driver.execute_script(
        """return [...document.querySelectorAll('#results .hit')].map(item => ({
          path: item.querySelector('.path').textContent,
          chips: [...item.querySelectorAll('.hit-tags .chip')].map(chip => chip.dataset.tag)}));"""
    )


def click_tag_in_tree(driver, name: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#tag-tree button.chip[data-tag="{name}"]').click()


def check_filtered(driver, media: DemoMedia, tag: str, classes) -> list[dict]:
    """The results after a tag click: every file made of one of `classes` alone, and no file made
    of another class alone (a mixture, the long takes, is the model's call either way)."""
    wait_for_state(driver, "done")
    assert parse_qs(urlparse(driver.current_url).query)["tag"] == [tag]
    assert driver.find_element(By.ID, "tag-filter").is_displayed()
    assert driver.find_element(By.ID, "tag-filter-name").text == tag
    hits = shown(driver)
    paths = {str(Path(h["path"]).resolve()) for h in hits}
    every_single = single_class_files(media, SOUNDS)
    assert single_class_files(media, classes) <= paths
    assert not (paths & every_single) - single_class_files(media, classes)
    return hits


def test_the_tag_browser_filters_by_a_label_and_by_a_broader_group(browser, tagged_site, media):
    browser.get(f"{tagged_site}/")
    WebDriverWait(browser, WAIT).until(
        lambda d: d.execute_script("return document.body.dataset.tags") == "ready"
    )
    roots = browser.execute_script(
        "return [...document.querySelectorAll('#tag-tree > li > button.chip')].map(b => b.dataset.tag)"
    )
    assert {"Tonal", "Noisy"} <= set(roots)
    assert LABEL["high_beep"] not in roots  # under Tonal: shown when Tonal is opened
    assert UNHEARD not in roots  # no file has it: hidden until asked for
    browser.find_element(By.ID, "tag-empty").click()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#tag-tree button.chip[data-tag="{UNHEARD}"]')
    )
    browser.find_element(By.ID, "tag-empty").click()

    click_tag_in_tree(browser, "Tonal")  # a group: the files of its three classes
    check_filtered(browser, media, "Tonal", GROUPS["Tonal"])

    toggle = browser.find_element(By.CSS_SELECTOR, 'button.twisty[aria-label="Narrower tags of Tonal"]')
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    click_tag_in_tree(browser, LABEL["high_beep"])
    check_filtered(browser, media, LABEL["high_beep"], ("high_beep",))

    browser.find_element(By.ID, "tag-clear").click()
    wait_for_state(browser, "empty")  # nothing typed and no tag: the welcome again
    assert "tag" not in parse_qs(urlparse(browser.current_url).query)
    assert not browser.find_element(By.ID, "tag-filter").is_displayed()


def test_chips_and_facets_show_the_tags_and_a_click_on_either_filters(browser, tagged_site, media):
    browser.get(f"{tagged_site}/")
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("a tone", Keys.ENTER)
    wait_for_state(browser, "done")
    hits = shown(browser)
    truth = {str((media.media_dir / f.path).resolve()): f.sounds for f in media.files}
    single = [h for h in hits if len(set(truth[str(Path(h["path"]).resolve())])) == 1]
    audible = [h for h in single if truth[str(Path(h["path"]).resolve())][0] in LABEL]
    assert audible, "the query finds files with sound"
    right = [h for h in audible if h["chips"][:1] == [LABEL[truth[str(Path(h["path"]).resolve())][0]]]]
    assert len(right) >= 0.9 * len(audible), audible

    answer = httpx.post(f"{tagged_site}/api/search", json={"q": "a tone"}, timeout=WAIT).json()
    facets = browser.execute_script(
        "return [...document.querySelectorAll('#facet-list .chip')].map(b => [b.dataset.tag, b.textContent])"
    )
    assert facets == [[f["label"], f"{f['label']} ({f['count']})"] for f in answer["facets"]["tags"]]
    assert browser.find_element(By.ID, "facets").is_displayed()

    browser.find_element(By.CSS_SELECTOR, f'#facet-list .chip[data-tag="{LABEL["low_tone"]}"]').click()
    check_filtered(browser, media, LABEL["low_tone"], ("low_tone",))
    assert parse_qs(urlparse(browser.current_url).query)["q"] == ["a tone"]  # the words stay

    chip = browser.find_element(By.CSS_SELECTOR, f'#results .hit-tags .chip[data-tag="{LABEL["low_tone"]}"]')
    assert chip.get_attribute("aria-pressed") == "true"
    browser.find_element(By.ID, "tag-clear").click()
    wait_for_state(browser, "done")  # the words alone again
    assert "tag" not in parse_qs(urlparse(browser.current_url).query)
    assert len(shown(browser)) >= len(hits)
