"""A file's source timecode: where its first frame sits on the clock the camera or recorder ran.

Read once at index time from what FFmpeg exposes: a `timecode` tag on the container or a stream
(a QuickTime/MP4 tmcd track shows up as one, MXF as a container tag), or a Broadcast WAV's bext
time reference (`time_reference`: samples since midnight). Inside pe-search times stay seconds;
timecode is computed only at the edge (`timecode_at`), with OpenTimelineIO's `RationalTime`
doing the frame arithmetic, drop frame included.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from pe_search.errors import MediaError

if TYPE_CHECKING:
    import av.container

# PyAV and OpenTimelineIO are imported where a timecode is counted, not with this module: the
# store reads `SourceTimecode` rows back in every command, `pe-search status` too (issue 24).

AUDIO_ONLY_RATE = 25.0  # the frame rate of timecode for files that have none of their own (audio)
# The rates editors use; a measured rate within this of one is that one (30000/1001, not 29.97).
_KNOWN_RATES = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 48.0, 50.0, 60000 / 1001, 60.0)
_SNAP = 0.005
_DROP_FRAME_RATES = (30000 / 1001, 60000 / 1001)
_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


@dataclass(frozen=True)
class SourceTimecode:
    """The clock time of a file's first frame. `start` is the timecode as it will be shown, `rate`
    the file's frame rate (timecode counts frames at it), `start_seconds` that clock time in
    seconds (`start` at `rate`, exact for bext), `origin` where it came from ("tag", "bext" or
    "none"); `note` says why a timecode found in the file was not used (it did not parse)."""

    start: str
    rate: float
    drop_frame: bool
    start_seconds: float
    origin: str
    note: str | None = None


def snap_rate(rate: float) -> float:
    """The timecode rate a measured one stands for (29.97 -> 30000/1001). SMPTE timecode counts
    only the editors' rates: a file at another (15 fps, 8 fps) gets the next one up, so each of
    its frames still has a timecode of its own (60 for anything faster than 60)."""
    for known in _KNOWN_RATES:
        if abs(rate - known) < _SNAP:
            return known
    return next((known for known in sorted(_KNOWN_RATES) if known > rate), 60.0)


def is_drop_frame_rate(rate: float) -> bool:
    return any(abs(rate - known) < 1e-6 for known in _DROP_FRAME_RATES)


def timecode_at(timecode: SourceTimecode, seconds: float) -> str:
    """The timecode `seconds` into the file, at the file's rate, to the nearest frame (half up)."""
    import opentimelineio as otio

    frames = nearest_frame((timecode.start_seconds + seconds) * timecode.rate)
    return otio.opentime.RationalTime(frames, timecode.rate).to_timecode(timecode.rate, timecode.drop_frame)


def nearest_frame(frames: float) -> int:
    """Frames rounded half up (Python's `round` would take 312.5 to 312 and 313.5 to 314)."""
    return math.floor(frames + 0.5 + 1e-9)


def zero_timecode(rate: float | None, note: str | None = None) -> SourceTimecode:
    """A file with no timecode of its own (or one that does not parse): it starts at midnight."""
    import opentimelineio as otio

    rate = snap_rate(rate) if rate else AUDIO_ONLY_RATE
    drop = is_drop_frame_rate(rate) and note is None
    start = otio.opentime.RationalTime(0, rate).to_timecode(rate, drop)
    return SourceTimecode(start, rate, drop, 0.0, "none", note)


def parse_timecode(text: str, rate: float) -> SourceTimecode:
    """A `timecode` tag at `rate` ("01:00:00;00": `;` or `,` before the frames is drop frame).
    One that does not parse, or counts frames the rate does not have, gives 00:00:00:00 with a
    note saying so."""
    rate = snap_rate(rate)
    match = _TIMECODE.match(text.strip())
    if match is None:
        return zero_timecode(rate, f"timecode {text!r} does not parse; 00:00:00:00 used")
    hours, minutes, seconds, separator, frames = match.groups()
    drop = separator in ";," and is_drop_frame_rate(rate)
    if int(minutes) > 59 or int(seconds) > 59 or int(frames) >= round(rate):
        return zero_timecode(rate, f"timecode {text!r} does not fit {rate:.3f} fps; 00:00:00:00 used")
    shown = f"{int(hours):02d}:{minutes}:{seconds}{';' if drop else ':'}{int(frames):02d}"
    import opentimelineio as otio

    try:
        time = otio.opentime.RationalTime.from_timecode(shown, rate)
    except ValueError:
        return zero_timecode(rate, f"timecode {text!r} does not parse; 00:00:00:00 used")
    return SourceTimecode(shown, rate, drop, time.value / rate, "tag")


def bext_timecode(samples: str, sample_rate: int, rate: float | None) -> SourceTimecode:
    """A Broadcast WAV's time reference (samples since midnight at the file's sample rate)."""
    import opentimelineio as otio

    rate = snap_rate(rate) if rate else AUDIO_ONLY_RATE
    try:
        count = int(samples)
    except ValueError:
        return zero_timecode(rate, f"bext time reference {samples!r} does not parse; 00:00:00:00 used")
    if count < 0 or sample_rate <= 0:
        return zero_timecode(rate, f"bext time reference {samples!r} does not parse; 00:00:00:00 used")
    seconds = float(Fraction(count, sample_rate))
    drop = is_drop_frame_rate(rate)
    start = otio.opentime.RationalTime(nearest_frame(seconds * rate), rate).to_timecode(rate, drop)
    return SourceTimecode(start, rate, drop, seconds, "bext")


def timecode_of(container: av.container.InputContainer) -> SourceTimecode:
    """The source timecode of a container already open (the indexer's one open of a file). Never
    fails a file's indexing: what cannot be counted is midnight with a note."""
    try:
        return _timecode_of(container)
    except (ValueError, ZeroDivisionError) as error:
        return zero_timecode(None, f"timecode not readable ({error}); 00:00:00:00 used")


def _timecode_of(container: av.container.InputContainer) -> SourceTimecode:
    video = next(iter(container.streams.video), None)
    audio = next(iter(container.streams.audio), None)
    video_rate = None
    if video is not None:
        measured = video.average_rate or video.guessed_rate or video.base_rate
        video_rate = float(measured) if measured else None
    tags = [container.metadata.get("timecode")] + [
        stream.metadata.get("timecode") for stream in container.streams
    ]
    tag = next((value for value in tags if value), None)
    if tag is not None:
        return parse_timecode(tag, video_rate or AUDIO_ONLY_RATE)
    reference = container.metadata.get("time_reference")
    if reference is not None and audio is not None and audio.codec_context.sample_rate:
        return bext_timecode(reference, audio.codec_context.sample_rate, video_rate)
    return zero_timecode(video_rate)


def read_timecode(path: str | os.PathLike[str]) -> SourceTimecode | None:
    """`timecode_of` a file by its path; None when it cannot be opened."""
    from pe_search.media.containers import open_media

    try:
        with open_media(path) as container:
            return timecode_of(container)
    except MediaError:
        return None
