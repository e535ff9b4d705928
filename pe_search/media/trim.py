"""Write one span of a media file as a file of its own (issue 22, trimmed clips).

Three ways, the cheapest that stays exact: PCM audio (WAV, FLAC, AIFF) is cut sample-accurately
with soundfile; compressed audio and video are stream-copied (packets as they are, no quality
lost) when the cut falls where a decoder can start (a video keyframe, an audio packet boundary);
otherwise the span is decoded and re-encoded with PyAV in the same codec family, rate and channel
layout where the output's container allows. The source is only ever opened for reading; the clip
is written beside its destination under a temporary name and moved into place when complete.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from pe_search.errors import MediaError, Option, PeSearchError
from pe_search.media.probe import probe
from pe_search.media.timecode import SourceTimecode, timecode_at

SAMPLE_ACCURATE = "samples"  # PCM cut with soundfile, sample for sample
STREAM_COPY = "stream copy"  # packets copied as they are
REENCODE = "re-encode"  # decoded and encoded again (the cut is not on a keyframe)
LOSSLESS_FORMATS = ("WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF")
LOSSLESS_SUBTYPES = ("PCM_", "FLOAT", "DOUBLE")
PCM_SUFFIXES = {".wav": "WAV", ".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}
AUDIO_ONLY_SUFFIXES = set(PCM_SUFFIXES) | {".mp3", ".m4a", ".aac", ".ogg", ".opus", ".oga", ".wv"}
# Fallback encoders where the source's codec cannot be written (no encoder, or not in this container).
VIDEO_FALLBACKS = ("libx264", "h264", "mpeg4")
COMMENT_KEY = "comment"


class ClipError(PeSearchError):
    """A clip cannot be written as asked (an existing output, an empty span, the source itself)."""


@dataclass(frozen=True)
class ClipSource:
    """What a clip records about where it came from, written into its metadata.

    `source_timecode`: the source timecode of the clip's first frame (e.g. "01:00:12;15"), from the
    start timecode the library read at index time, so an editor relinks the clip to the right
    frame; None for a file the library has no timecode of (no `timecode` tag is written)."""

    path: str
    start: float
    end: float
    source_timecode: str | None = None
    timecode_tag: bool = False  # also as the `timecode` tag (a timecode the source file carried)

    def comment(self) -> str:
        text = f"pe-search clip of {self.path} from {self.start:.6f} s to {self.end:.6f} s"
        return text + (f" (source timecode {self.source_timecode})" if self.source_timecode else "")

    def tags(self) -> dict[str, str]:
        tags = {
            COMMENT_KEY: self.comment(),
            "pe_search_source": self.path,
            "pe_search_start": f"{self.start:.6f}",
            "pe_search_end": f"{self.end:.6f}",
        }
        if self.source_timecode and self.timecode_tag:
            tags["timecode"] = self.source_timecode
        return tags


@dataclass(frozen=True)
class TrimmedClip:
    """One written clip: where from, where to, which span (after clamping) and how it was cut."""

    source: str
    out: str
    start: float
    end: float
    method: str  # SAMPLE_ACCURATE, STREAM_COPY or REENCODE
    note: str | None = None  # e.g. the span was clamped to the file's end

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "out": self.out,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "method": self.method,
            "note": self.note,
        }


def clip_span(
    duration: float | None, start: float, end: float, handles: float = 0.0
) -> tuple[float, float, str | None]:
    """(start, end, note): the span widened by `handles` on each side and kept inside the file.
    A span that starts at or past the end, or is empty, is refused."""
    for name, value in (("start", start), ("end", end), ("handles", handles)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ClipError(
                f"{{0}} must be a finite number of seconds, not {value!r}", options=(Option(name),)
            )
    if handles < 0:
        raise ClipError("{0} must be at least 0", options=(Option("handles"),), value=handles)
    if start < 0 or end <= start:
        raise ClipError(
            f"the span {start:g}-{end:g} s is empty or reversed",
            "give 0 <= START < END in seconds",
            value=(start, end),
        )
    wanted = (start - handles, end + handles)
    low = max(wanted[0], 0.0)
    high = wanted[1] if duration is None else min(wanted[1], duration)
    if duration is not None and start >= duration:
        raise ClipError(
            f"the span starts at {start:g} s, at or past the file's end ({duration:.3f} s)",
            "give a START inside the file",
            value=start,
        )
    notes = []
    if duration is not None and wanted[1] > duration + 1e-9:
        notes.append(f"the span ran past the file's end: clamped to {duration:.3f} s")
    if wanted[0] < 0:
        notes.append("the handles ran before the file's start: clamped to 0 s")
    return low, high, "; ".join(notes) or None


def write_clip(
    source: str | os.PathLike[str],
    start: float,
    end: float,
    out: str | os.PathLike[str],
    *,
    handles: float = 0.0,
    force: bool = False,
    source_timecode: SourceTimecode | None = None,
) -> TrimmedClip:
    """Write [start - handles, end + handles) of `source` to `out` (its format from its extension);
    `source_timecode` is the source file's start timecode, if known."""
    source_path = Path(source).expanduser().resolve()
    out_path = Path(out).expanduser().absolute()
    if not source_path.is_file():
        raise MediaError(source_path, "no such file")
    _check_output(source_path, out_path, force)
    info = probe(source_path)
    low, high, note = clip_span(info.duration, float(start), float(end), float(handles))
    clip_timecode = timecode_at(source_timecode, low) if source_timecode else None
    # A `timecode` tag makes FFmpeg's MP4/MOV muxer write a timecode track at the tag's rate, which
    # must be the video's own: only a timecode the file carried (not midnight at a snapped rate).
    own_timecode = source_timecode is not None and source_timecode.origin != "none"
    meta = ClipSource(str(source_path), low, high, clip_timecode, own_timecode)
    suffix = out_path.suffix.lower()
    audio_only = suffix in AUDIO_ONLY_SUFFIXES
    if audio_only and not info.has_audio:
        raise MediaError(source_path, f"has no audio to write as {suffix}")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{out_path.stem}.", suffix=out_path.suffix, dir=out_path.parent
    )
    os.close(handle)
    try:
        if suffix in PCM_SUFFIXES and _soundfile_reads(source_path):
            method = _cut_samples(source_path, Path(temporary), low, high, PCM_SUFFIXES[suffix], meta)
        else:
            method = _cut_av(source_path, Path(temporary), low, high, audio_only, meta)
        os.replace(temporary, out_path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, av.error.FFmpegError):
            raise MediaError(source_path, f"cannot be cut: {error}") from None
        if isinstance(error, OSError):
            raise ClipError(
                f"cannot write {out_path}: {error.strerror or error}", value=str(out_path)
            ) from None
        raise
    return TrimmedClip(str(source_path), str(out_path), low, high, method, note)


def _check_output(source: Path, out: Path, force: bool) -> None:
    if out.suffix == "":
        raise ClipError(
            f"{out} has no extension to say its format", "end it in .wav, .flac, .mp4, ...", value=str(out)
        )
    if out.resolve() == source or (out.exists() and os.path.samefile(out, source)):
        raise ClipError("the clip would overwrite its own source", "write it somewhere else", value=str(out))
    if not out.parent.is_dir():
        raise ClipError(f"{out.parent} is not a folder", "create it first", value=str(out))
    if not os.access(out.parent, os.W_OK):
        raise ClipError(f"{out.parent} is not writable", "choose another folder", value=str(out))
    if out.is_dir():
        raise ClipError(f"{out} is a folder", "name the clip's file", value=str(out))
    if out.exists() and not force:
        raise ClipError(f"{out} exists", "pass {0} to replace it", options=(Option("force"),), value=str(out))


def _soundfile_reads(path: Path) -> bool:
    """Is the source uncompressed or lossless audio that soundfile reads sample for sample?"""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return False
    return info.format in LOSSLESS_FORMATS and info.subtype.startswith(LOSSLESS_SUBTYPES)


def _cut_samples(source: Path, out: Path, start: float, end: float, kind: str, meta: ClipSource) -> str:
    with sf.SoundFile(str(source)) as reader:
        first, last = round(start * reader.samplerate), min(round(end * reader.samplerate), reader.frames)
        reader.seek(first)
        samples = reader.read(max(last - first, 0), dtype=_read_dtype(reader.subtype), always_2d=True)
        subtype = reader.subtype if sf.check_format(kind, reader.subtype) else "PCM_24"
        with sf.SoundFile(
            str(out),
            "w",
            samplerate=reader.samplerate,
            channels=reader.channels,
            format=kind,
            subtype=subtype,
        ) as writer:
            writer.comment = meta.comment()
            writer.software = "pe-search"
            writer.write(samples)
    return SAMPLE_ACCURATE


def _read_dtype(subtype: str) -> str:
    """Read PCM in a type that holds it exactly (24-bit in int32, float in float64)."""
    if subtype.startswith("PCM_") and subtype not in ("PCM_U8", "PCM_S8"):
        return "int32" if subtype in ("PCM_24", "PCM_32") else "int16"
    return "float64"


# ---------------------------------------------------------------------------------- PyAV
def _cut_av(source: Path, out: Path, start: float, end: float, audio_only: bool, meta: ClipSource) -> str:
    with av.open(str(source)) as reader:
        streams = [s for s in (_first(reader.streams.video), _first(reader.streams.audio)) if s is not None]
        streams = [s for s in streams if not (audio_only and s.type == "video")]
        streams = [
            s
            for s in streams
            if not (s.type == "video" and s.disposition & av.stream.Disposition.attached_pic)
        ]
        if not streams:
            raise MediaError(source, "has no audio or video stream to cut")
        origin = _origin(reader)
        on_keyframe = _copyable(reader, streams, start, end, origin)
        with av.open(str(out), "w", options=_muxer_options(out)) as writer:
            writer.metadata.update(meta.tags())
            if on_keyframe and _copy_fits(writer, streams, out.suffix.lower()):
                _copy(reader, writer, streams, start, end, origin)
                return STREAM_COPY
            _reencode(reader, writer, streams, start, end, origin, out.suffix.lower())
            return REENCODE


def _muxer_options(out: Path) -> dict[str, str]:
    """MP4 and QuickTime keep only their own tag names unless told to keep the clip's own keys."""
    return {"movflags": "use_metadata_tags"} if out.suffix.lower() in (".mp4", ".mov", ".m4a") else {}


def _first(streams):
    return streams[0] if len(streams) else None


def _origin(reader: av.container.InputContainer) -> float:
    return reader.start_time / av.time_base if reader.start_time is not None else 0.0


def _packet_time(packet: av.Packet, origin: float) -> float | None:
    return None if packet.pts is None else float(packet.pts * packet.time_base) - origin


def _copyable(reader, streams, start: float, end: float, origin: float) -> bool:
    """Does the cut start where a decoder can (the video's keyframe, or an audio packet's start
    when there is no video), to within half a frame or one sample? An audio-only copy must end on
    a packet boundary too (or at the file's end)."""
    video = next((s for s in streams if s.type == "video"), None)
    if video is not None and video.codec_context.has_b_frames:
        return False  # frames shown out of decoding order: a packet cut at the end could break them
    lead = video or streams[0]
    rate = video.average_rate if video is not None else None
    slack = 0.5 / float(rate) if rate else 1.0 / (lead.codec_context.sample_rate or 48000)
    reader.seek(max(int((start + origin) / lead.time_base), 0), stream=lead, backward=True)
    boundaries = []
    for packet in reader.demux(lead):
        at = _packet_time(packet, origin)
        if at is None:
            continue
        if at > end + slack:
            break
        if video is not None:
            if packet.is_keyframe and abs(at - start) <= slack:
                return True
            if at > start + slack:
                break
        else:
            boundaries.append(at)
            if packet.duration:
                boundaries.append(at + float(packet.duration * packet.time_base))
    if video is not None:
        return False
    near = lambda t: any(abs(b - t) <= slack for b in boundaries)  # noqa: E731
    duration = reader.duration / av.time_base if reader.duration else None
    return near(start) and (near(end) or (duration is not None and end >= duration - slack))


def _copy_fits(writer, streams, suffix: str) -> bool:
    """Can the output hold each stream's packets as they are? (A WAV holds PCM only, a FLAC FLAC.)"""
    supported = writer.supported_codecs or set()
    for stream in streams:
        forced = _lossless_codec(suffix, stream.codec_context)
        if stream.codec_context.name not in supported or forced not in (None, stream.codec_context.name):
            return False
    return True


def _lossless_codec(suffix: str, context) -> str | None:
    """The codec a lossless audio output is written in (None: the output's container decides)."""
    if suffix == ".flac":
        return "flac"
    if suffix in (".wav", ".aif", ".aiff"):
        deep = context.format is not None and context.format.bytes > 2
        order = "be" if suffix != ".wav" else "le"
        return f"pcm_s{24 if deep else 16}{order}"
    return None


def _copy(reader, writer, streams, start: float, end: float, origin: float) -> None:
    """Packets whose presentation time falls in [start, end), shifted to start at 0."""
    outputs = {s.index: writer.add_stream_from_template(s) for s in streams}
    reader.seek(max(int((start + origin) / av.time_base), 0), backward=True)
    slack = 1e-6
    for packet in reader.demux(*streams):
        at = _packet_time(packet, origin)
        if at is None or packet.size == 0:
            continue
        if at < start - slack or at >= end - slack:
            continue
        shift = round((start + origin) / packet.time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = outputs[packet.stream.index]
        writer.mux(packet)


def _reencode(reader, writer, streams, start: float, end: float, origin: float, suffix: str) -> None:
    """Decode from the keyframe before `start`, keep what lies in [start, end), encode it again."""
    encoders = {s.index: _encoder_for(writer, s, suffix) for s in streams}
    frame_seconds = {
        s.index: 1.0 / float(s.average_rate or s.guessed_rate or 25) for s in streams if s.type == "video"
    }
    reader.seek(max(int((start + origin) / av.time_base), 0), backward=True)
    done = set()
    for packet in reader.demux(*streams):
        index = packet.stream.index
        if index in done:
            continue
        for frame in packet.decode():
            if frame.pts is None:
                continue
            at = float(frame.pts * frame.time_base) - origin
            if at >= end:
                done.add(index)
                break
            if packet.stream.type == "audio":
                kept = _audio_part(frame, at, start, end)
            else:
                kept = _video_part(frame, at, start, frame_seconds[index])
            if kept is not None:
                for out_packet in encoders[index].encode(kept):
                    writer.mux(out_packet)
        if len(done) == len(streams):
            break
    for encoder in encoders.values():
        for out_packet in encoder.encode(None):
            writer.mux(out_packet)


def _encoder_for(writer, stream, suffix: str):
    """An output stream in the source's codec where this container and build can write it."""
    context = stream.codec_context
    supported = writer.supported_codecs or set()
    if stream.type == "audio":
        wanted = [_lossless_codec(suffix, context) or context.name, writer.default_audio_codec]
        name = next(c for c in wanted if c in av.codecs_available and c in supported and _encodes(c))
        out = writer.add_stream(name, rate=context.sample_rate, layout=context.layout.name)
        return out
    candidates = [context.name, *VIDEO_FALLBACKS, writer.default_video_codec]
    name = next(c for c in candidates if c in supported and _encodes(c))
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    out = writer.add_stream(name, rate=rate)
    out.width, out.height = context.width, context.height
    formats = [f.name for f in (av.codec.Codec(name, "w").video_formats or ())]
    out.pix_fmt = context.pix_fmt if not formats or context.pix_fmt in formats else formats[0]
    out.codec_context.time_base = stream.time_base  # the source's clock: no two frames share a tick
    out.time_base = stream.time_base
    return out


def _encodes(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False
    return True


def _audio_part(frame: av.AudioFrame, at: float, start: float, end: float) -> av.AudioFrame | None:
    rate = frame.sample_rate
    first = max(round((start - at) * rate), 0)
    last = min(round((end - at) * rate), frame.samples)
    if last <= first:
        return None
    array = frame.to_ndarray()
    planar = frame.format.is_planar
    channels = len(frame.layout.channels)
    part = array[:, first:last] if planar else array[:, first * channels : last * channels]
    cut = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(part), format=frame.format.name, layout=frame.layout.name
    )
    cut.sample_rate = rate
    cut.time_base = Fraction(1, rate)
    cut.pts = round((at - start) * rate) + first
    return cut


def _video_part(frame: av.VideoFrame, at: float, start: float, frame_seconds: float) -> av.VideoFrame | None:
    """The frame on screen at `start` is the clip's first (its time moved to 0); earlier ones go."""
    if at + frame_seconds <= start + 1e-6:
        return None
    shown = frame.reformat()  # a frame of its own, free of the decoder's buffers
    shown.time_base = frame.time_base
    shown.pts = max(round((at - start) / frame.time_base), 0)
    return shown
