"""The audio rate of every decoded sample: one constant for the whole project."""

SAMPLE_RATE = 48_000
"""Output rate of all audio: what PE-AV's audio tower expects."""
