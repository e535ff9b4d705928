"""The audio rate of every decoded sample: one constant for the whole project."""

SAMPLE_RATE = 48_000
"""Output rate of all audio: what PE-AV's audio tower expects."""

PE_HOP_SAMPLES = 1920
"""Samples per output frame of PE's audio front end (and PE-A-Frame's frame vectors)."""
FRAME_SECONDS = PE_HOP_SAMPLES / SAMPLE_RATE
"""0.04 s: the step of PE-A-Frame's frame vectors, and of `locate`'s spans."""
