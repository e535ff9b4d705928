"""The speech gate (issue 26): which stretches of a file's sound may hold speech, so that only
those are sent to the speech model.

An energy gate: 30 ms frames whose level stands clear of the file's own noise floor (and of an
absolute floor) are active; each active run is widened by `pad` on both sides (a word's first and
last sounds are quiet), runs closer than `bridge` are joined (the pauses inside a sentence), and
runs shorter than `shortest` are dropped (a click). It leaves out quiet, not music: why an energy
gate and not PE-A-Frame is in docs/transcripts.md. Pure numpy over the 16 kHz samples the
transcriber gets anyway; nothing is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.03


@dataclass(frozen=True)
class SpeechGate:
    """The gate's settings (dB are of frame RMS against full scale)."""

    floor_db: float = -55.0  # never active below this, however quiet the file
    above_noise_db: float = 8.0  # active: this far above the file's noise floor (its 10th percentile) ...
    below_peak_db: float = 40.0  # ... and within this of its loud frames (95th percentile)
    pad: float = 0.25
    bridge: float = 0.6
    shortest: float = 0.08

    def stretches(self, audio: np.ndarray, rate: int) -> list[tuple[float, float]]:
        """The (start, end) seconds of the stretches that may hold speech, in time order."""
        frame = max(1, round(FRAME_SECONDS * rate))
        count = len(audio) // frame
        if count == 0:
            return []
        frames = np.asarray(audio[: count * frame], np.float64).reshape(count, frame)
        level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        noise, loud = np.percentile(level, 10), np.percentile(level, 95)
        threshold = max(self.floor_db, noise + self.above_noise_db, loud - self.below_peak_db)
        if noise + self.above_noise_db > loud:  # no quiet to stand out from: sound throughout
            threshold = max(self.floor_db, loud - self.below_peak_db)
        active = level > threshold
        runs = _runs(active)
        seconds = frame / rate
        duration = len(audio) / rate
        out: list[tuple[float, float]] = []
        for first, last in runs:
            if (last - first) * seconds < self.shortest:
                continue
            start = max(0.0, first * seconds - self.pad)
            end = min(duration, last * seconds + self.pad)
            if out and start - out[-1][1] <= self.bridge:
                out[-1] = (out[-1][0], end)
            else:
                out.append((start, end))
        return out


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) frame indexes of each run of True."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def gate_pieces(
    audio: np.ndarray, rate: int, gate: SpeechGate | None = None
) -> list[tuple[float, np.ndarray]]:
    """The stretches the gate lets through as (start seconds, samples); `gate` None: the whole sound."""
    if gate is None:
        return [(0.0, audio)] if len(audio) else []
    pieces = []
    for start, end in gate.stretches(audio, rate):
        first, last = round(start * rate), round(end * rate)
        pieces.append((first / rate, audio[first:last]))
    return pieces
