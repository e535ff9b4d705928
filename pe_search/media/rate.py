"""The rates and lengths of PE's inputs: one constant each for the whole project."""

SAMPLE_RATE = 48_000
"""Output rate of all audio: what PE-AV's audio tower expects."""

PE_HOP_SAMPLES = 1920
"""Samples per output frame of PE's audio front end (and PE-A-Frame's frame vectors)."""
FRAME_SECONDS = PE_HOP_SAMPLES / SAMPLE_RATE
"""0.04 s: the step of PE-A-Frame's frame vectors, and of `locate`'s spans."""

PE_WINDOW_SECONDS = 30.0
"""Seconds of media in one clip window: the length the PE models were trained on."""
PE_FRAMES_PER_WINDOW = 16
"""Video frames PE's sampler spreads over one clip window."""
