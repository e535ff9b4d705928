"""What changed on disk since the last run: unchanged, modified, moved, new, gone.

A file is unchanged when its size and mtime match what the library recorded; when they do not,
its content hash decides (a touched but identical file is not re-encoded). A new path whose
hash matches a recorded file that is no longer on disk is a move: its vectors are kept.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FULL_HASH_LIMIT = 16 << 20  # files up to 16 MiB are hashed whole
SAMPLES = 16
SAMPLE_SIZE = 1 << 20


def content_hash(path: str | Path) -> str:
    """A content identity for change and move detection.

    Small files are hashed whole. Large media files are hashed on their size plus 16 evenly
    spaced 1 MiB samples (first and last included): a changed recording changes its size or
    its sampled bytes, and a 4 GB video is identified in milliseconds rather than seconds.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(f"{size}:".encode())
    with open(path, "rb") as handle:
        if size <= FULL_HASH_LIMIT:
            while block := handle.read(1 << 20):
                digest.update(block)
            return f"sha256:{digest.hexdigest()}"
        step = (size - SAMPLE_SIZE) / (SAMPLES - 1)
        for index in range(SAMPLES):
            handle.seek(int(index * step))
            digest.update(handle.read(SAMPLE_SIZE))
    return f"sha256s:{digest.hexdigest()}"


def file_signature(path: str | Path) -> tuple[int, float]:
    """(size, mtime) as recorded for the cheap unchanged check."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime
