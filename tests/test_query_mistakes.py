"""Query mistakes a user makes get one line that says what to do (issue 27, defect 20 c, d):
`locate` on a library that holds nothing yet says so, not "index it with a frame model"; an audio
query array with an absurd sample rate is refused in one line, not an OverflowError."""

from __future__ import annotations

import pytest

from pe_search import Library
from pe_search.errors import PeSearchError
from testkit import media


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    """(an empty library built with the toy models, frame model included; one with a file)."""
    root = tmp_path_factory.mktemp("query-mistakes")
    (root / "nothing").mkdir()
    (root / "one").mkdir()
    media.write_audio(root / "one" / "tone.wav", media.tone(440.0, 2.0, 48_000), 48_000)
    for name in ("nothing", "one"):
        with Library.open(root / f"lib-{name}", model="toy", fast=False) as library:
            library.index([root / name], workers=0, progress=False)
    return root / "lib-nothing", root / "lib-one"


def test_locate_on_an_empty_library_says_it_is_empty(libraries):
    empty, _ = libraries
    with Library.open(empty, fast=False) as library:
        assert library.models.frames is not None  # it was built with a frame model
        with pytest.raises(PeSearchError) as error:
            library.locate("a high beep")
    message = str(error.value)
    assert "empty" in message and "frame model" not in message and "\n" not in message


@pytest.mark.parametrize("rate", [10**12, 0, -48_000, float("nan"), float("inf"), 0.5])
def test_an_absurd_audio_rate_is_one_line(libraries, rate):
    _, one = libraries
    samples = media.tone(440.0, 1.0, 48_000)[0]
    with Library.open(one, fast=False) as library, pytest.raises(PeSearchError) as error:
        library.search(audio=(samples, rate))
    message = str(error.value)
    assert "rate" in message and "audio" in message and "\n" not in message


@pytest.mark.parametrize("rate", [8_000, 44_100, 192_000])
def test_ordinary_audio_rates_search(libraries, rate):
    _, one = libraries
    samples = media.tone(440.0, 1.0, rate)[0]
    with Library.open(one, fast=False) as library:
        assert [hit.path for hit in library.search(audio=(samples, rate), target="audio")]
