"""Waveform peaks: min and max of the decoded audio per bin, checked against files whose loud and
silent stretches the test wrote (the expected values are the written samples, binned here)."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.media.peaks import MAX_BINS, waveform_peaks
from testkit import media

RATE = 48_000


def test_peaks_follow_the_written_loud_and_silent_stretches(tmp_path):
    # 1 s silence, 1 s of a 0.5 tone, 0.5 s silence, 1.5 s of 0.3 noise
    parts = [
        media.silence(1.0, RATE),
        media.tone(1000, 1.0, RATE, amplitude=0.5),
        media.silence(0.5, RATE),
        media.noise(1.5, RATE, amplitude=0.3, seed=5),
    ]
    signal = np.concatenate(parts, axis=1)
    path = media.write_audio(tmp_path / "stretches.wav", signal, RATE)
    bins = 40  # 0.1 s each
    found = waveform_peaks(path, bins, 4.0)
    assert found.duration == pytest.approx(4.0)
    expected = signal[0].reshape(bins, -1)
    lows, highs = np.array(found.peaks).T
    # 16-bit PCM: within a step of what was written
    np.testing.assert_allclose(lows, expected.min(axis=1), atol=1e-4)
    np.testing.assert_allclose(highs, expected.max(axis=1), atol=1e-4)
    assert np.all(highs[:10] == 0) and np.all(lows[:10] == 0)  # silence
    assert np.all(highs[10:20] > 0.49) and np.all(lows[10:20] < -0.49)  # the tone
    assert np.all(highs[20:25] == 0)
    assert np.all(highs[25:] > 0.2) and np.all(highs[25:] <= 0.3 + 1e-4)  # the noise


def test_stereo_and_another_rate_are_heard_as_the_models_hear_them(tmp_path):
    """Channels are mixed to mono and the audio resampled to 48 kHz first: a tone on the left
    channel alone peaks at half its amplitude."""
    rate = 44_100
    left = np.concatenate([media.tone(500, 1.0, rate, 0.8), media.silence(1.0, rate)], axis=1)
    signal = np.concatenate([left, np.zeros_like(left)])
    path = media.write_audio(tmp_path / "left.flac", signal, rate)
    found = waveform_peaks(path, 4, 2.0)
    highs = [high for _, high in found.peaks]
    assert highs[0] == pytest.approx(0.4, abs=0.02) and highs[1] == pytest.approx(0.4, abs=0.02)
    assert abs(highs[2]) < 0.02 and abs(highs[3]) < 1e-3


def test_bins_are_bounded_and_an_empty_duration_is_flat(tmp_path):
    path = media.write_audio(tmp_path / "a.wav", media.tone(440, 0.5, RATE), RATE)
    for bins in (0, MAX_BINS + 1):
        with pytest.raises(ValueError):
            waveform_peaks(path, bins, 0.5)
    assert waveform_peaks(path, 3, 0.0).peaks == [(0.0, 0.0)] * 3
    # more bins than samples fall in some: the empty ones are flat, the rest exact
    many = waveform_peaks(path, MAX_BINS, 0.5)
    assert len(many.peaks) == MAX_BINS and max(high for _, high in many.peaks) == pytest.approx(0.5, abs=1e-3)
