"""Results carry their file's source timecode (read at index time), so every front door can show
where a hit sits on the camera's or recorder's clock without opening the file again."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from pe_search.media.timecode import read_timecode
from pe_search.query.results import Hit, LocatedSpan
from pe_search.store import LibraryStore

Result = TypeVar("Result", Hit, LocatedSpan)


def with_timecodes(store: LibraryStore, results: list[Result]) -> list[Result]:
    """`results` with `timecode` set from the store (one read for all of them). A file the library
    has not read a timecode for yet (indexed before timecodes were kept, or not indexed: `locate
    --in` a new file) is read from its headers."""
    if not results:
        return results
    known = store.timecodes_by_path({result.path for result in results})
    for path in {result.path for result in results} - known.keys():
        timecode = read_timecode(path)
        if timecode is not None:
            known[path] = timecode
    return [dataclasses.replace(result, timecode=known.get(result.path)) for result in results]
