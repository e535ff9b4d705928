"""The selected hit's transcript on the web page (issue 26), in headless Chromium against a live
server: the words shown are the stored transcript's with their times, the words a spoken-phrase
search matched are marked, and clicking a word plays the file from that word's start. The
transcripts are written into a toy library with known word times (tests/spoken_library.py)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from spoken_library import TALK, build

from pe_search.server import ServerConfig, create_app
from testkit.chromium import chromium, wait_for
from testkit.server_live import live_server

SEEK = 0.1  # s: how close to a clicked word's start the player must be
SELECTED = "document.querySelector('#results .hit.selected')"


@pytest.fixture(scope="module")
def spoken_site(tmp_path_factory):
    folder, library = build(tmp_path_factory.mktemp("spoken-site"))
    with live_server(create_app(ServerConfig(library=library), warm_up=True)) as url:
        yield url, folder


@pytest.fixture(scope="module")
def browser(spoken_site):
    with chromium() as driver:
        yield driver


def select(driver, site: str, path, query: str) -> None:
    """Search the folder for `query`, click the hit of `path`, wait until its transcript came."""
    driver.get(f"{site}/?{urlencode({'q': query, 'folder': str(path.parent)})}")
    wait_for(driver, "return document.body.dataset.state === 'done'")
    wait_for(
        driver,
        """const item = [...document.querySelectorAll('#results .hit')]
             .find(i => i.querySelector('.path').textContent === arguments[0]);
           if (!item) return false;
           item.querySelector('.name').click();
           return item.classList.contains('selected') && item.dataset.transcript;""",
        str(path),
    )


def shown_words(driver) -> list[dict]:
    return driver.execute_script(
        f"""return [...{SELECTED}.querySelectorAll('.transcript .word')].map(b => ({{
             text: b.textContent, start: +b.dataset.start, end: +b.dataset.end,
             matched: b.classList.contains('matched'),
             marked: getComputedStyle(b).backgroundColor}}));"""
    )


def test_the_words_shown_are_the_stored_transcript_and_the_matched_ones_are_marked(browser, spoken_site):
    site, folder = spoken_site
    select(browser, site, folder / "talk.wav", "we need more time")
    assert browser.execute_script(f"return {SELECTED}.dataset.transcript") == "done"
    words = shown_words(browser)
    stored = [word for phrase in TALK.phrases for word in phrase.words]
    assert [(w["text"], w["start"], w["end"]) for w in words] == [(w.text, w.start, w.end) for w in stored]
    assert [w["text"] for w in words if w["matched"]] == ["we", "need", "more", "time"]
    plain = {w["marked"] for w in words if not w["matched"]}
    assert len(plain) == 1 and plain.isdisjoint({w["marked"] for w in words if w["matched"]})  # drawn apart


def test_another_search_marks_its_own_words(browser, spoken_site):
    site, folder = spoken_site
    select(browser, site, folder / "talk.wav", '"a dog barks"')  # an exact phrase: every word of it
    assert [w["text"] for w in shown_words(browser) if w["matched"]] == ["a", "dog", "barks"]
    select(browser, site, folder / "talk.wav", "dog barks")  # only the words matched, not the phrase
    assert [w["text"] for w in shown_words(browser) if w["matched"]] == ["dog", "barks"]


def test_clicking_a_word_plays_the_file_from_its_start(browser, spoken_site):
    site, folder = spoken_site
    select(browser, site, folder / "talk.wav", "we need more time")
    wait_for(browser, f"return {SELECTED}.querySelector('audio').readyState >= 1")
    for text in ("barks", "need"):  # forwards past the hit's end, then back inside it
        wait_for(browser, f"return !{SELECTED}.querySelector('audio').seeking")
        start, asked = browser.execute_script(
            f"""const item = {SELECTED}, player = item.querySelector('audio');
               const word = [...item.querySelectorAll('.transcript .word')].find(b => b.textContent === arguments[0]);
               window.seekedAt = null;  // where the player landed once the seek is done
               player.addEventListener('seeked', () => {{ window.seekedAt = player.currentTime; }}, {{once: true}});
               word.click();
               return [+word.dataset.start, player.currentTime];""",
            text,
        )
        landed = wait_for(browser, "return window.seekedAt")
        assert abs(asked - start) <= SEEK and abs(landed - start) <= SEEK, (text, asked, landed, start)
        assert browser.execute_script(f"return {SELECTED}.classList.contains('selected')")


def test_a_partial_transcript_says_why_and_a_file_without_one_shows_none(browser, spoken_site):
    site, folder = spoken_site
    select(browser, site, folder / "cut.wav", "rain falls")
    note = browser.execute_script(f"return {SELECTED}.querySelector('.transcript-note').textContent")
    assert note == "Partial transcript: the audio stream is damaged after 2.0 s"
    select(browser, site, folder / "tone.wav", "tone")
    state = browser.execute_script(
        f"""const item = {SELECTED};
            return [item.dataset.transcript, item.querySelector('.transcript').hidden,
                    item.querySelectorAll('.transcript .word').length];"""
    )
    assert state == ["none", True, 0]
