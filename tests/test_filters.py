"""`SearchFilter` field by field (issue 27, item 4), `modified_before` included: each bound is
inclusive, fields combine with AND, and an aware datetime means the same instant as its Unix
seconds. Files are made here with known paths, kinds, durations and mtimes, so which ids pass is
known without the code under test."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from test_store_support import SMALL_POLICY, add_file, make_identity

from pe_search.store import LibraryStore, SearchFilter

# number: (path, video, duration, mtime)
FILES = {
    0: ("/lib/films/a.mp4", True, 10.0, 1_000.0),
    1: ("/lib/films/b.mp4", True, 20.0, 2_000.0),
    2: ("/lib/songs/c.flac", False, 30.0, 3_000.0),
    3: ("/lib/songs/d.flac", False, 40.0, 4_000.0),
    4: ("/lib/songsX/e.wav", False, 50.0, 5_000.0),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with LibraryStore.open(
        tmp_path_factory.mktemp("filters") / "lib", make_identity(), policy=SMALL_POLICY
    ) as store:
        ids = {}
        for number, (path, video, duration, mtime) in FILES.items():
            ids[number] = add_file(
                store, number, segments=2, has_video=video, duration=duration, mtime=mtime, path=path
            )
        store.ids = ids
        yield store


def _passing(store, **fields) -> set[int]:
    by_id = {media_id: number for number, media_id in store.ids.items()}
    return {by_id[media_id] for media_id in store.media_ids(SearchFilter(**fields))}


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({}, {0, 1, 2, 3, 4}),
        ({"modified_before": 3_000.0}, {0, 1, 2}),  # inclusive: the file of exactly 3,000 s stays
        ({"modified_before": 2_999.5}, {0, 1}),
        ({"modified_before": 999.0}, set()),
        ({"modified_after": 3_000.0}, {2, 3, 4}),
        ({"modified_after": 3_000.5}, {3, 4}),
        ({"modified_after": 2_000.0, "modified_before": 4_000.0}, {1, 2, 3}),
        ({"modified_after": 4_000.0, "modified_before": 2_000.0}, set()),  # an empty window
        ({"min_duration": 30.0}, {2, 3, 4}),
        ({"max_duration": 30.0}, {0, 1, 2}),
        ({"min_duration": 20.0, "max_duration": 40.0}, {1, 2, 3}),
        ({"kinds": ("video",)}, {0, 1}),
        ({"kinds": ("audio",)}, {2, 3, 4}),
        ({"kinds": ("audio", "video")}, {0, 1, 2, 3, 4}),
        ({"path_prefix": "/lib/songs/"}, {2, 3}),  # not /lib/songsX/
        ({"path_prefix": "/lib/songs"}, {2, 3, 4}),
        ({"path_prefix": "/lib/films/b.mp4"}, {1}),
        ({"path_prefix": "/other/"}, set()),
        ({"path_glob": "*.flac"}, {2, 3}),
        ({"path_glob": "/lib/*/[ab].*"}, {0, 1}),
        ({"path_glob": "*.FLAC"}, set()),  # GLOB is case-sensitive
        ({"media_ids": ()}, set()),
        ({"kinds": ("audio",), "path_prefix": "/lib/songs/", "max_duration": 30.0}, {2}),
    ],
)
def test_each_field_keeps_exactly_its_files(store, fields, expected):
    assert _passing(store, **fields) == expected


def test_media_ids_keep_those_files_only(store):
    assert _passing(store, media_ids=(store.ids[1], store.ids[3])) == {1, 3}


def test_an_aware_datetime_is_the_same_instant_as_its_unix_seconds(store):
    at = datetime.fromtimestamp(3_000.0, tz=UTC)
    assert _passing(store, modified_before=at) == {0, 1, 2}
    assert _passing(store, modified_after=at) == {2, 3, 4}


def test_an_empty_filter_is_empty_and_any_field_makes_it_not(store):
    assert SearchFilter().is_empty()
    for field in ("modified_before", "modified_after", "min_duration", "max_duration"):
        assert not SearchFilter(**{field: 0.0}).is_empty(), field
    assert not SearchFilter(kinds=()).is_empty() and not SearchFilter(path_prefix="").is_empty()
    assert not SearchFilter(levels=("clip",)).is_empty() and not SearchFilter(path_glob="*").is_empty()


def test_levels_select_clip_or_frame_vectors_in_a_search(store):
    query = np.ones(16, np.float32)
    clips = store.search("audio", query, k=100, filters=SearchFilter(levels=("clip",)))[0]
    assert len(clips) == 2 * len(FILES)
    assert store.search("audio", query, k=100, filters=SearchFilter(levels=("frame",)))[0] == []


def test_modified_before_in_a_vector_search(store):
    query = np.ones(16, np.float32)
    hits = store.search("audio", query, k=100, filters=SearchFilter(modified_before=2_000.0))[0]
    assert {hit.path for hit in hits} == {FILES[0][0], FILES[1][0]} and len(hits) == 4
