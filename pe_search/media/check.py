"""Checks on a file before FFmpeg sees it: what its first bytes announce (magic bytes), whether it is
a readable, non-empty regular file, and whether headers that carry sizes say it was cut short."""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

from pe_search.errors import MediaError
from pe_search.media.damage import DamageLog

SNIFF_BYTES = 16
"""Enough leading bytes to recognise every container `sniff_container` knows."""

RIFF, WAVE, AVI = b"RIFF", b"WAVE", b"AVI "
EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM
EBML_SEGMENT = b"\x18\x53\x80\x67"
FTYP = b"ftyp"  # ISO BMFF (mp4, m4a, mov), at bytes 4..8


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian byte-order marks


def sniff_container(head: bytes) -> str | None:
    """The container family the first bytes of a file announce, or None.

    A UTF-16 byte-order mark is not taken for an MPEG frame sync (FF FE would read as one):
    `looks_like_text` decides whether such a file is text."""
    if head[:2] in UTF16_BOMS:
        return None
    if head[:4] == RIFF and head[8:12] == WAVE:
        return "wav"
    if head[:4] == RIFF and head[8:12] == AVI:
        return "avi"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == EBML:
        return "matroska"
    if head[4:8] == FTYP:
        return "mp4"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"caff":
        return "caf"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if head[:4] == b".snd":
        return "au"
    if head[:3] == b"FLV":
        return "flv"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:4] == b"RF64" and head[8:12] == WAVE:
        return "wav"
    if head[:4] == b"wvpk":
        return "wv"
    if head[:4] == b"MAC ":
        return "ape"
    if head[:4] == b".RMF":
        return "rm"
    if head[:4] == b"\x06\x0e\x2b\x34":
        return "mxf"
    if head[:4] == b"\x7f\xfe\x80\x01":
        return "dts"
    if head[:2] == b"\x0b\x77":
        return "ac3"
    if head[:3] == b"ID3":
        return "mp3"
    if head[:4] == b"\x00\x00\x01\xba" or head[:4] == b"\x00\x00\x01\xb3":
        return "mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"  # MPEG audio frame sync
    return None


NOT_MEDIA_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
    (b"SQLite format 3", "an SQLite database"),
)


def sniff_not_media(head: bytes) -> str | None:
    """What the first bytes say a file is when they say it is not audio or video, or None."""
    if head[:4] == RIFF and head[8:12] == b"WEBP":
        return "a WebP image"
    return next((what for magic, what in NOT_MEDIA_MAGIC if head.startswith(magic)), None)


def check_file(path: str | os.PathLike[str], damage: DamageLog | None = None) -> Path:
    """Reject what is not a readable, non-empty, complete file before FFmpeg sees it.

    With `damage`, a file whose headers say it was cut short is noted there and let through, so
    what it holds can still be decoded."""
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise MediaError(p, symlink_problem(p))
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not a media file")
    if not p.is_file():
        raise MediaError(p, "not a regular file")
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            head = f.read(64)
    except PermissionError:
        raise MediaError(p, "permission denied") from None
    except OSError as error:
        raise MediaError(p, f"cannot be read ({error.strerror or error})") from None
    if size == 0:
        raise MediaError(p, "empty file (0 bytes)")
    reason = _truncation(p, head, size)
    if reason:
        if damage is None:
            raise MediaError(p, f"truncated: {reason}")
        damage.note(f"truncated: {reason}")
    return p


def symlink_problem(path: Path) -> str:
    """Why a symbolic link leads to no file: a loop, or a target that is gone."""
    try:
        path.resolve(strict=True)
    except RuntimeError:
        return "symbolic link loop"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"dangling symbolic link (its target {os.readlink(path)} does not exist)"
    return "symbolic link to something that is not a file"


def _truncation(path: Path, head: bytes, size: int) -> str | None:
    """Headers that declare more data than the file holds: the file was cut short.

    Checked for RIFF/WAVE (FFmpeg and libsndfile silently play the remainder), ISO BMFF (mp4, m4a,
    mov) and Matroska/WebM, whose top-level structures carry their sizes."""
    container = sniff_container(head)
    if container == "wav":
        return _riff_truncation(path, size)
    if container == "mp4":
        return _bmff_truncation(path, size)
    if container == "matroska":
        return _ebml_truncation(path, size)
    return None


def _riff_truncation(path: Path, size: int) -> str | None:
    with path.open("rb") as f:
        f.seek(12)
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed WAV: the size was never filled in
                    return None
                missing = f.tell() + chunk_size - size
                return (
                    f"the WAV data chunk is {missing} bytes short of its declared size"
                    if missing > 0
                    else None
                )
            f.seek(chunk_size + (chunk_size & 1), os.SEEK_CUR)


def _bmff_truncation(path: Path, size: int) -> str | None:
    boxes = set()
    with path.open("rb") as f:
        position = 0
        while position + 8 <= size:
            f.seek(position)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:  # extends to the end of the file
                box_size = size - position
            if box_size < 8:
                return None  # not a box structure we understand; let FFmpeg judge
            boxes.add(box_type)
            if position + box_size > size:
                return f"the '{box_type.decode('latin-1')}' box runs past the end of the file"
            position += box_size
    # Media data without the index that locates it (HEIF images index theirs in 'meta' instead).
    if b"mdat" in boxes and not boxes & {b"moov", b"moof", b"meta"}:
        return "no 'moov' index (the file was cut short or never finished writing)"
    return None


def _ebml_truncation(path: Path, size: int) -> str | None:
    with path.open("rb") as f:
        data = f.read(4096)
    position = 0
    for expected_id in (EBML, EBML_SEGMENT):  # EBML header, then Segment
        if data[position : position + 4] != expected_id:
            return None
        length, value, unknown = _ebml_vint(data, position + 4)
        if length == 0:
            return None
        position += 4 + length
        if expected_id == EBML_SEGMENT:
            if not unknown and position + value > size:
                return "the Matroska segment runs past the end of the file"
            return None
        position += value
    return None


def _ebml_vint(data: bytes, position: int) -> tuple[int, int, bool]:
    """(length, value, all-ones 'unknown size' marker) of the EBML variable-length integer."""
    if position >= len(data) or data[position] == 0:
        return 0, 0, False
    length = 9 - data[position].bit_length()
    if position + length > len(data):
        return 0, 0, False
    value = data[position] & ((1 << (8 - length)) - 1)
    for byte in data[position + 1 : position + length]:
        value = (value << 8) | byte
    return length, value, value == (1 << (7 * length)) - 1


def looks_like_text(path: Path) -> bool:
    """Whether the first 4 KiB read as UTF-8 text, or as UTF-16 text after its byte-order mark."""
    with path.open("rb") as f:
        head = f.read(4096)
    if head[:2] in UTF16_BOMS:
        text = head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
        return "\ufffd" not in text[:-1] and all(c.isprintable() or c in "\t\n\r\f" for c in text[:-1])
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a multi-byte character cut by the 4096-byte read
    return True
