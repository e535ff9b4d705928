"""The moment as a query (issue 22, part 4): `like` with any range of any file. A range that is
not a stored segment is decoded and embedded with the clip model; the right answers come from the
demo generator's manifest (which sound made which file), not from the query code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pe_search.api import Library
from pe_search.cli.main import cli
from pe_search.query.routes import QueryError
from pe_search.toy import synth
from pe_search.toy.demo_media import DemoMedia
from pe_search.toy.media_writer import write_audio

# A long take of the toy's sounds, outside the library: (sound, start, end) over silence.
TAKE_SECONDS = 30.0
TAKE_EVENTS = (("chirp_up", 6.3, 8.4), ("low_tone", 17.1, 19.9))


@pytest.fixture(scope="module")
def long_take(tmp_path_factory) -> Path:
    samples = synth.sound("silence", TAKE_SECONDS, 5).samples.copy()
    for index, (sound, start, end) in enumerate(TAKE_EVENTS):
        clip = synth.event_clip(sound, TAKE_SECONDS, start, end, seed=40 + index)
        i0, i1 = round(start * synth.SAMPLE_RATE), round(end * synth.SAMPLE_RATE)
        samples[i0:i1] = clip.samples[i0:i1]
    return write_audio(tmp_path_factory.mktemp("take") / "long-take.wav", samples, synth.SAMPLE_RATE)


def _sounds_of(media: DemoMedia, path: str) -> tuple[str, ...]:
    generated = media.by_path(path)
    return generated.sounds if generated else ()


def _class_of(media: DemoMedia, path: str, target: str) -> object:
    """What generated a file, as the target sees it: its sound classes, or its picture class."""
    generated = media.by_path(path)
    return (generated.sounds if target == "audio" else generated.picture) if generated else None


@pytest.mark.parametrize("query", ["a rising chirp", "a low tone", "clicks"])
@pytest.mark.parametrize("target", ["audio", "video"])
def test_more_like_a_hit_ranks_its_own_file_and_its_kind_first(demo, query, target):
    """A range inside a hit (not a stored segment) is decoded and embedded: the hit's own file is
    among the first two results and the first is of the hit's class by the generator's manifest.
    (The toy's vectors are not unit length and each scene's picture has a silent twin, so the
    first place may go to a file of the same class: the manifest decides what is right.)"""
    media = DemoMedia.load(Path(demo.root))
    kind = "audio" if target == "audio" else "video"
    with Library.open(demo.library) as library:
        found = library.search(query, target=target, k=10, mode="vector")
        # a hit with sound to embed; for pictures, a scene (sound and picture together)
        hit = next(
            h
            for h in found
            if media.by_path(h.path).sounds and (target == "audio" or media.by_path(h.path).picture)
        )
        start, end = hit.start + 0.1, hit.end - 0.1  # inside the hit: not its stored segment
        like = library.search(like=(hit.path, start, end), target=target, k=3)
    paths = [h.path for h in like]
    assert hit.path in paths[:2], (hit.path, paths)
    assert _class_of(media, paths[0], kind) == _class_of(media, hit.path, kind), paths


@pytest.mark.parametrize(("sound", "start", "end"), TAKE_EVENTS)
def test_a_range_inside_a_long_take_finds_the_matching_event(demo, long_take, sound, start, end):
    media = DemoMedia.load(Path(demo.root))
    with Library.open(demo.library) as library:
        hits = library.search(like=(str(long_take), start + 0.2, end - 0.2), target="audio", k=3)
    assert hits, "no hits"
    assert sound in _sounds_of(media, hits[0].path), [(h.path, _sounds_of(media, h.path)) for h in hits]


@pytest.mark.parametrize("sound", ["chirp_up", "low_tone"])
def test_a_range_inside_an_indexed_long_take_finds_its_event_not_the_whole_window(demo, sound):
    """The demo's long take holds a rising chirp and a low tone in one 30 s window: each event's
    range finds its own sound elsewhere (the take itself aside), where the window's vectors cannot
    tell the two apart."""
    media = DemoMedia.load(Path(demo.root))
    take = next(f for f in media.files if f.path == "events/long-take-2.wav")
    event = next(e for e in take.events if e.sound == sound)
    path = str(media.media_dir / take.path)
    with Library.open(demo.library) as library:
        hits = library.search(like=(path, event.start + 0.2, event.end - 0.2), target="audio", k=4)
    others = [h for h in hits if Path(h.path).resolve() != Path(path).resolve()]
    assert others and sound in _sounds_of(media, others[0].path), [h.path for h in hits]


def test_a_stored_segment_still_uses_its_vectors_and_leaves_its_file_out(demo):
    with Library.open(demo.library) as library:
        hit = library.search("a rising chirp", target="audio", k=1)[0]
        hits = library.search(like=(hit.path, hit.start, hit.end), target="audio", k=5)
    assert hits and all(h.path != hit.path for h in hits)


def test_range_mistakes_are_one_line(demo, long_take, tmp_path):
    with Library.open(demo.library) as library:
        with pytest.raises(QueryError, match="past the end"):
            library.search(like=(str(long_take), TAKE_SECONDS + 1, TAKE_SECONDS + 2))
        with pytest.raises(QueryError, match="not indexed"):
            library.search(like=(str(tmp_path / "gone.wav"), 0.0, 1.0))
    result = CliRunner().invoke(
        cli, ["search", "--like", f"{long_take}@40-41", "--library", demo.library, "--json"]
    )
    assert result.exit_code == 1 and "past the end" in json.loads(result.stdout)["error"]


def test_cli_like_takes_a_range_of_an_unindexed_file(demo, long_take):
    sound, start, end = TAKE_EVENTS[0]
    result = CliRunner().invoke(
        cli, ["search", "--like", f"{long_take}@{start + 0.2}-{end - 0.2}", "--target", "audio",
              "--library", demo.library, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    media = DemoMedia.load(Path(demo.root))
    assert sound in _sounds_of(media, hits[0]["path"])
    assert np.isfinite(hits[0]["score"])
