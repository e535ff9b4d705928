"""The spot list as a table: CSV (a row per result) and JSON (the same rows, plus why), with the
stdlib. Timecode in and out are computed here from the seconds, at each file's own rate."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from pe_search.export.spots import Spot, SpotList
from pe_search.media.timecode import timecode_at

COLUMNS = ("path", "timecode_in", "timecode_out", "start", "end", "probability", "space", "query")


def row(spot: Spot) -> dict:
    return {
        "path": spot.path,
        "timecode_in": timecode_at(spot.timecode, spot.start),
        "timecode_out": timecode_at(spot.timecode, spot.end),
        "start": round(spot.start, 6),
        "end": round(spot.end, 6),
        "probability": spot.probability,
        "space": spot.space,
        "query": spot.query,
    }


def write_csv(spots: SpotList, out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row(spot) for spot in spots.spots)


def write_json(spots: SpotList, out: TextIO) -> None:
    rows = [
        {**row(spot), "moment": spot.moment, "rate": spot.timecode.rate, "drop_frame": spot.timecode.drop_frame,
         "source_timecode": spot.timecode.start, "why": spot.why, "said": spot.said}
        for spot in spots.spots
    ]  # fmt: skip
    json.dump(rows, out, indent=2)
    out.write("\n")
