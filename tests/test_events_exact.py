"""An event timeline on sq8 blocks is exactly the one float32 gives, for every label at once: the
reference is the frame model's own forward() over each indexed audio chunk with all the labels in
one text batch, thresholded at the hardest cuts (halfway between neighbouring frame logits), as
tests/test_frame_exact.py does for `locate`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_frame_exact import CHUNK, HOP, _cuts, _expected, _spans, built  # noqa: F401  (fixture)

from pe_search.media.audio import read_audio
from pe_search.query.events import file_events
from pe_search.tagging import Label, Vocabulary

LABELS = ("a dog barks twice", "a siren far away", "rain on a roof")
VOCABULARY = Vocabulary("test", tuple(Label(name) for name in LABELS))


def _label_logits(library, path) -> np.ndarray:
    """[labels, frames]: the frame model's logits for each label, chunk by chunk as indexed."""
    encoder = library.models.frames
    audio = read_audio(path)
    tokens = encoder.tokenizer(list(LABELS), return_tensors="pt", padding=True)
    chunk = int(CHUNK * 48_000)
    logits = []
    for start in range(0, len(audio), chunk):
        piece = audio[start : start + chunk]
        with torch.no_grad():
            out = encoder.model(**tokens, input_values=encoder.audio_inputs(piece)[None, None])
        frames = int(np.ceil(len(piece) / HOP))
        logits.append(out.logits_audio_text[0, :, :frames].double().numpy())
    return np.concatenate(logits, axis=1)


@pytest.mark.parametrize("name", ["bursts.wav", "noise.wav"])
def test_sq8_events_equal_float32_at_the_hardest_cuts(built, name):  # noqa: F811
    library, folder = built
    path = str(folder / name)
    seconds = len(read_audio(path)) / 48_000
    logits = _label_logits(library, path)
    assert logits.shape[0] == len(LABELS)
    media_id = library.store.find_media(path).id
    moved_without_reencoding = 0
    for label in range(len(LABELS)):
        for threshold in _cuts(logits[label], 3):
            timeline = library.events(path, vocabulary=VOCABULARY, threshold=threshold)
            assert timeline.note is None
            coded = file_events(library.queries.engine, library.models, media_id, LABELS, threshold)
            for other, text in enumerate(LABELS):
                expected = _expected(logits[other], threshold, seconds)
                found = [e for e in timeline.events if e.label == text]
                assert _spans(found) == expected, (text, threshold)
                moved_without_reencoding += _spans([e for e in coded.events if e.label == text]) != expected
    assert moved_without_reencoding >= 1  # the code alone does move frames across these cuts
