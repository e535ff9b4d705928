"""What checking a changed file's whole content costs (issue 27, defect 10).

    .venv/bin/python bench/bench_change_check.py --mb 512 --repeat 3

A file is hashed whole (`indexer.state.content_hash`) only when it is new or its size or mtime
changed; this measures that hash's throughput on a file of `--mb` megabytes in the page cache
(CPU cost: the floor; a cold disk reads at its own speed, which then bounds it), beside the
sampled hash of earlier versions, and turns it into hours per 1,000 hours of typical media when
every mtime changed (a copy to a new disk). Bitrates are typical encodes: MP3/AAC at 256 kb/s,
FLAC at 900 kb/s, 1080p H.264 at 8 Mb/s, 4K H.265 at 20 Mb/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.state import content_hash, sampled_hash  # noqa: E402

BITRATES = {"mp3/aac 256k": 256e3, "flac 900k": 900e3, "1080p h264 8M": 8e6, "4k h265 20M": 20e6}
DISKS = {"hdd 150 MB/s": 150e6, "sata ssd 500 MB/s": 500e6}


def _best_seconds(function, path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        function(path)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512, help="size of the file hashed (MB)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "media.bin"
        block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
        with open(path, "wb") as handle:
            for _ in range(args.mb * 10**6 // len(block)):
                handle.write(block)
        size = path.stat().st_size
        content_hash(path)  # into the page cache
        whole = _best_seconds(content_hash, path, args.repeat)
        sampled = _best_seconds(sampled_hash, path, args.repeat)
    rate = size / whole
    per_1000_hours = {}
    for name, bits in BITRATES.items():
        nbytes = bits / 8 * 3600 * 1000
        per_1000_hours[name] = {
            "terabytes": round(nbytes / 1e12, 3),
            "cpu_hours": round(nbytes / rate / 3600, 2),
            **{f"{disk}_hours": round(nbytes / speed / 3600, 2) for disk, speed in DISKS.items()},
        }
    print(
        json.dumps(
            {
                "file_mb": round(size / 1e6),
                "whole_file_hash_mb_per_s": round(rate / 1e6),
                "whole_file_hash_s": round(whole, 3),
                "sampled_hash_s": round(sampled, 4),
                "per_1000_hours_all_mtimes_changed": per_1000_hours,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
