"""Frame routes and curves of silent videos (issue 27, item 4), over tests/test_query_routes.py's
library (tones, videos with sound, silent videos; a clip model and a frame model). The frame routes
(`audio_frame`, `video_frame`) give each clip hit its best frame, the highest of the file's curve
inside the hit; a silent video's curve, in a library whose other files
have audio frames, falls back to its sampled video frames, with transformers' own one-frame
probabilities (tests/test_catalogue.py), and a tone's curve is its 40 ms audio frames."""

from __future__ import annotations

import numpy as np
import pytest
import test_query_routes
import torch
from test_catalogue import _one_frame_logits
from test_query_routes import FRAMES, TEXT, _files

from pe_search.media.probe import probe
from pe_search.media.video import iter_video_frames

built = test_query_routes.built  # the library, as a fixture of this module too


@pytest.mark.parametrize("target, has, step", [("audio", "has_audio", 0.04), ("video", "has_video", None)])
def test_frame_routes_give_each_hit_its_best_frame(built, target, has, step):
    """A clip hit's moment comes from the frame route (`audio_frame` for audio, `video_frame` for
    video): the frame of the hit with the highest probability, as the file's curve scores it."""
    library, folder, _ = built
    wanted = {p for p in _files(folder) if getattr(probe(p), has)}
    hits = library.search(TEXT, target=target, k=50)
    assert {h.path for h in hits} == wanted
    compared = 0
    for hit in hits:
        moment = hit.moment
        assert moment is not None, hit.path
        assert hit.start - 1e-6 <= moment.start < moment.end <= hit.end + 1e-6
        if step is not None:
            assert moment.end - moment.start == pytest.approx(step, abs=1e-6) or moment.end == pytest.approx(
                hit.end
            )
        curve = library.curve(TEXT, hit.media_id)
        if curve.space != f"{target}_frame":  # a curve prefers audio frames: a video with sound
            assert target == "video" and curve.space == "audio_frame" and probe(hit.path).has_audio
            continue
        compared += 1
        inside = (curve.starts >= hit.start - 1e-6) & (curve.starts < hit.end)
        best = int(np.argmax(np.where(inside, curve.probabilities, -1.0)))
        assert moment.probability == pytest.approx(float(curve.probabilities[best]), abs=1e-4)
        # the moment is one of the best frames (a random model's probabilities often tie at 1.0)
        at = int(np.argmin(np.abs(curve.starts - moment.start)))
        assert curve.starts[at] == pytest.approx(moment.start, abs=1e-6) and inside[at]
        assert float(curve.probabilities[at]) == pytest.approx(float(curve.probabilities[best]), abs=1e-4)
    assert compared >= 2  # the audio files, or the silent videos


def test_a_silent_videos_curve_is_its_video_frames(built):
    library, folder, _ = built
    path = str(folder / "silent1.webm")
    assert not probe(path).has_audio
    media_id = library.store.find_media(path).id
    curve = library.curve(TEXT, media_id)
    assert curve.space == "video_frame"  # audio frames exist in the library, not for this file
    starts = [float(t) for t in curve.starts]
    assert len(starts) >= FRAMES and starts == sorted(starts)
    np.testing.assert_array_equal(curve.ends[:-1], curve.starts[1:])
    assert curve.ends[-1] == pytest.approx(probe(path).duration, abs=1e-6)
    encoder = library.models.clip
    rgb = np.stack([f.rgb for f in iter_video_frames(path, starts)])
    expected = torch.sigmoid(
        torch.tensor(_one_frame_logits(encoder, encoder.frame_preprocessing(rgb)))
    ).numpy()
    # the stored frames are sq8 codes: within a quantisation step of transformers' probabilities
    np.testing.assert_allclose(curve.probabilities, expected, atol=0.02)
    assert [(s.start, s.end) for s in curve.spans(threshold=1.1)] == []


def test_a_tones_curve_is_its_audio_frames(built):
    library, folder, _ = built
    path = str(folder / "tone1.wav")
    curve = library.curve(TEXT, library.store.find_media(path).id)
    duration = probe(path).duration
    assert curve.space == "audio_frame"
    assert len(curve.starts) == int(np.ceil(duration / 0.04 - 1e-9))
    np.testing.assert_allclose(np.diff(curve.starts), 0.04, atol=1e-9)
    assert curve.ends[-1] == pytest.approx(duration, abs=1e-6)
