"""The default frame code (sq8) gives exactly the spans float32 gives, at any threshold.

The references are the frame model's own forward() on each audio chunk the indexer cuts (the
chunk length is a recorded setting, 1 s here so files span several chunks), thresholded between
two neighbouring frame logits: the hardest cuts there are, since a random model's neighbouring
logits are closer than sq8's error. Without re-encoding, the same sq8 blocks do move frames
across such cuts (asserted, so the test shows what the re-encoding buys).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from pe_search import Library
from pe_search.media.audio import read_audio
from pe_search.query.frames import APPROXIMATE_NOTE
from testkit import media

TEXT = "a dog barks twice"
CHUNK = 1.0  # seconds of audio per frame-model call at index time
HOP = 1920  # samples per 40 ms frame at 48 kHz


@pytest.fixture(scope="module")
def built(tmp_path_factory, checkpoint_dirs):
    root = tmp_path_factory.mktemp("exact")
    folder = root / "media"
    folder.mkdir()
    media.write_audio(
        folder / "bursts.wav", media.tone_bursts([(0.3, 0.6, 440), (1.4, 0.7, 880)], 2.5, 48_000), 48_000
    )
    media.write_audio(
        folder / "noise.wav", media.noise(1.7, 48_000, seed=3) + media.tone(330, 1.7, 48_000), 48_000
    )
    library = Library.open(
        root / "lib", model=checkpoint_dirs["audio"], frame_model=checkpoint_dirs["audio_frame"]
    )
    summary = library.index([folder], workers=0, progress=False, frame_chunk=CHUNK)
    assert summary.files_indexed == 2 and not summary.failed
    assert library.store.index_settings()["frame_codes"] == "sq8"
    yield library, folder
    library.close()


def _frame_logits(library, path) -> np.ndarray:
    """The frame model's logits for TEXT at every 40 ms frame, chunk by chunk as indexed."""
    encoder = library.models.frames
    audio = read_audio(path)
    tokens = encoder.tokenizer([TEXT], return_tensors="pt")
    chunk = int(CHUNK * 48_000)
    logits = []
    for start in range(0, len(audio), chunk):
        piece = audio[start : start + chunk]
        with torch.no_grad():
            out = encoder.model(**tokens, input_values=encoder.audio_inputs(piece)[None, None])
        logits.append(out.logits_audio_text[0, 0, : int(np.ceil(len(piece) / HOP))].double().numpy())
    return np.concatenate(logits)


def _expected(logits: np.ndarray, threshold: float, seconds: float) -> list[tuple[float, float]]:
    above = 1 / (1 + np.exp(-logits)) > threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    return [
        (round(s * 0.04, 4), round(min(e * 0.04, seconds), 4))
        for s, e in zip(edges[::2], edges[1::2], strict=True)
    ]


def _cuts(logits: np.ndarray, count: int) -> list[float]:
    """Probabilities halfway (in logit) between neighbouring frame logits, the closest pairs first
    (where a probability can still be written: a random model's logits run to the hundreds)."""
    ordered = np.unique(logits)
    middles = (ordered[1:] + ordered[:-1]) / 2
    gaps = np.diff(ordered)
    usable = np.flatnonzero(np.abs(middles) < 30)
    closest = usable[np.argsort(gaps[usable])[:count]]
    assert len(closest) >= min(count, 4)
    return [float(1 / (1 + np.exp(-middles[i]))) for i in closest]


def _spans(found) -> list[tuple[float, float]]:
    return [(round(s.start, 4), round(s.end, 4)) for s in found]


@pytest.mark.parametrize("name", ["bursts.wav", "noise.wav"])
def test_sq8_spans_equal_float32_at_the_hardest_cuts(built, name):
    library, folder = built
    path = str(folder / name)
    seconds = len(read_audio(path)) / 48_000
    logits = _frame_logits(library, path)
    moved_without_reencoding = 0
    for threshold in _cuts(logits, 12):
        expected = _expected(logits, threshold, seconds)
        spans = library.locate(TEXT, path=path, threshold=threshold)
        assert _spans(spans) == expected, threshold
        assert all(s.note is None for s in spans)
        # the same blocks, the code alone deciding (no re-encoding)
        media_id = library.store.find_media(path).id
        query = library.models.embed_query("text_audio_frame", text=TEXT)
        coded = library.queries.engine.locate(query, threshold, media_id=media_id, path=path)
        moved_without_reencoding += _spans(coded) != expected
    assert moved_without_reencoding >= 1  # sq8 alone does move frames across these cuts


def test_library_wide_locate_is_exact_too(built):
    library, folder = built
    path = str(folder / "bursts.wav")
    seconds = len(read_audio(path)) / 48_000
    logits = _frame_logits(library, path)
    threshold = _cuts(logits, 1)[0]
    found = [s for s in library.locate(TEXT, threshold=threshold, k=1000) if s.path == path]
    assert sorted(_spans(found)) == _expected(logits, threshold, seconds)


def test_a_changed_file_gives_approximate_edges_and_says_so(built, tmp_path):
    library, folder = built
    path = str(folder / "noise.wav")
    logits = _frame_logits(library, path)
    threshold = _cuts(logits, 1)[0]
    stat = os.stat(path)
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # changed since indexing: not re-encoded
    try:
        spans = library.locate(TEXT, path=path, threshold=threshold)
    finally:
        os.utime(path, (stat.st_atime, stat.st_mtime))
    assert spans and all(s.note == APPROXIMATE_NOTE for s in spans)
    again = library.locate(TEXT, path=path, threshold=threshold)
    assert all(s.note is None for s in again)
