"""The model and indexing options `index` and `watch` share: declared once, applied to both."""

from __future__ import annotations

import click

from pe_search.store import DEFAULT_FRAME_CODES, FRAME_CODES

# Checked before the library is opened (or created): a typo creates nothing.
POSITIVE = click.FloatRange(min=0, min_open=True)

MODEL_OPTIONS = [
    click.option(
        "--model",
        default=None,
        metavar="ID_OR_DIR",
        help="PE-AV checkpoint: hub id, directory, or `toy` (default: the library's, else facebook/pe-av-small).",
    ),
    click.option(
        "--frame-model",
        default=None,
        metavar="ID_OR_DIR",
        help="PE-A-Frame checkpoint for 40 ms audio frames (default: facebook/pe-a-frame-small; toy-frame with --model toy).",
    ),
    click.option("--no-frames", is_flag=True, help="Skip 40 ms audio frame vectors (no frame model)."),
    click.option(
        "--batch-size",
        default=8,
        show_default=True,
        type=click.IntRange(min=1),
        help="Windows per encoder batch.",
    ),
    click.option("--device", default=None, help="cpu or cuda (default: cuda when available)."),
    click.option("--bf16", is_flag=True, help="Encode in bfloat16."),
    click.option(
        "--no-fast",
        is_flag=True,
        help="Plain transformers modules instead of the encoder's speed paths (also PE_SEARCH_FAST=0).",
    ),
]

TRANSCRIBE_OPTIONS = [  # index, watch and serve (the runs a server starts)
    click.option(
        "--transcribe",
        default=None,
        metavar="ID_OR_DIR",
        help="Transcribe speech with this Whisper-family checkpoint (hub id, directory, or `toy`); recorded "
        "with the library (default: the library's, else no transcripts).",
    ),
    click.option(
        "--language",
        default=None,
        metavar="CODE",
        help="The speech's language for --transcribe, such as en (default: detected per file).",
    ),
]

RUN_OPTIONS = [
    click.option(
        "--window",
        default=None,
        type=POSITIVE,
        help="Clip window in seconds (default: the library's, else 30).",
    ),
    click.option(
        "--hop", default=None, type=POSITIVE, help="Seconds between window starts (default: half a window)."
    ),
    click.option("--fps", default=None, type=POSITIVE, help="Sample video frames at this rate ..."),
    click.option(
        "--frames-per-window",
        default=None,
        type=click.IntRange(min=1),
        help="... or about N per window (default 16), on one grid per file that overlapping windows share.",
    ),
    click.option(
        "--frame-codes",
        type=click.Choice(FRAME_CODES),
        default=None,
        help="How 40 ms frame vectors are stored: f32, exact; sq8, 1 byte a dimension; pq, 128 bytes a "
        f"frame, for very large libraries (default: the library's, else {DEFAULT_FRAME_CODES}).",
    ),
    click.option(
        "--workers",
        default=1,
        show_default=True,
        type=click.IntRange(min=0),
        help="Decode worker processes (0: decode in this process).",
    ),
    *TRANSCRIBE_OPTIONS,
    click.option("--include", multiple=True, metavar="GLOB", help="Only files matching (repeatable)."),
    click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files matching (repeatable)."),
]


def model_options(function):
    """--model, --frame-model, --no-frames, --batch-size, --device, --bf16, --no-fast."""
    for option in reversed(MODEL_OPTIONS):
        function = option(function)
    return function


def transcribe_options(function):
    """--transcribe, --language."""
    for option in reversed(TRANSCRIBE_OPTIONS):
        function = option(function)
    return function


def run_options(function):
    """--window, --hop, --fps, --frames-per-window, --frame-codes, --workers, --transcribe,
    --language, --include, --exclude."""
    for option in reversed(RUN_OPTIONS):
        function = option(function)
    return function


def open_for_indexing(library_dir, model, frame_model, no_frames, device, bf16, batch_size, no_fast):
    """The `Library` `index` and `watch` write into, from their shared model options (checked
    first: a mistake opens and creates nothing)."""
    from pe_search.api import Library
    from pe_search.models.choice import DEFAULT_FRAME_MODEL, DEFAULT_MODEL

    if no_frames and frame_model:
        raise click.UsageError("give --frame-model or --no-frames, not both")
    return Library.open(
        library_dir,
        model=model,
        frame_model=frame_model,
        device=device,
        dtype="bfloat16" if bf16 else None,
        frames=not no_frames,
        batch_size=batch_size,
        fast=False if no_fast else None,
        default_model=DEFAULT_MODEL,
        default_frame_model=DEFAULT_FRAME_MODEL,
    )
