"""Tags per segment and per file (issue 23): accuracy on the toy world against the generator's
labels, retagging from stored vectors with no media decoded, the label embedding cache, resuming,
hierarchy-aware counts against a brute-force count, moved and changed files, and the CLI and HTTP
front doors. Expected answers come from the demo's manifest (which class generated each file)
and from counting the files' own tags by hand."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import av
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pe_search.api import Library
from pe_search.cli.main import cli
from pe_search.models.encoder import PeEncoder
from pe_search.models.shipped import TOY_MODEL
from pe_search.server import ServerConfig, create_app
from pe_search.tagging import update as tag_update
from pe_search.toy.demo_media import DemoMedia
from pe_search.toy.vocabulary import SOUNDS

# The toy world's sound classes, each named by its first caption (what the generator calls it).
CLASS_LABEL = {name: sound.captions[0] for name, sound in SOUNDS.items()}
GROUPS = {  # a made-up hierarchy over them, for the counts
    "Tonal": ("low_tone", "mid_tone", "high_beep"),
    "Noisy": ("white_noise", "brown_noise"),
    "Sweeping": ("chirp_up", "chirp_down"),
}


@pytest.fixture(scope="module")
def media(demo) -> DemoMedia:
    return DemoMedia.load(Path(demo.root))


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vocabularies")
    flat = folder / "toy-sounds.txt"
    flat.write_text("# the toy world's sounds\n" + "\n".join(CLASS_LABEL.values()) + "\n")
    tree = folder / "toy-tree.json"
    parent_of = {CLASS_LABEL[c]: group for group, classes in GROUPS.items() for c in classes}
    labels = [{"name": group, "parents": []} for group in GROUPS]
    labels += [
        {"name": label, "parents": [parent_of[label]] if label in parent_of else []}
        for label in CLASS_LABEL.values()
    ]
    tree.write_text(json.dumps({"labels": labels}))
    return {"flat": flat, "tree": tree}


@pytest.fixture(scope="module")
def library(demo, tmp_path_factory):
    """A copy of the demo library (its media stay where the demo wrote them)."""
    copy = tmp_path_factory.mktemp("tags") / "library"
    shutil.copytree(demo.library, copy)
    with Library.open(copy) as opened:
        yield opened


def _no_decoding(monkeypatch) -> list[str]:
    """Every media open goes through PyAV: record and refuse any."""
    opened: list[str] = []

    def refuse(path, *args, **kwargs):
        opened.append(str(path))
        raise AssertionError(f"media decoded: {path}")

    monkeypatch.setattr(av, "open", refuse)
    return opened


def _single_sound_files(library: Library, media: DemoMedia):
    for info in library.store.iter_media():
        generated = media.by_path(info.path)
        if generated is not None and len(set(generated.sounds)) == 1:
            yield info, generated.sounds[0]


# ------------------------------------------------------------------------------------ accuracy
def test_changing_the_vocabulary_retags_every_file_without_decoding(
    library, media, vocabularies, monkeypatch
):
    searchable = [m for m in library.store.iter_media() if m.status in ("indexed", "partial")]
    assert library.vocabulary().name == "audioset"  # the demo was indexed with the default
    opened = _no_decoding(monkeypatch)
    result = library.update_tags(vocabularies["flat"])
    assert opened == []
    assert result.tagged == len(searchable) and result.left == 0
    assert library.vocabulary().name == "toy-sounds.txt"  # recorded: later commands use it
    right = total = 0
    for info, sound in _single_sound_files(library, media):
        tags = library.file_tags(info.path)
        total += 1
        right += bool(tags) and tags[0].label == CLASS_LABEL[sound]
        assert [t.probability for t in tags] == sorted((t.probability for t in tags), reverse=True)
    assert total >= 20
    assert right / total >= 0.9, f"top tag right for {right} of {total} files"
    assert library.update_tags().tagged == 0  # nothing left to do


def test_label_embeddings_are_computed_once_per_vocabulary(library, vocabularies, monkeypatch):
    library.update_tags(vocabularies["flat"])
    library.update_tags(vocabularies["tree"])  # computes the tree's embeddings once
    tagged = {m.id: library.file_tags(m.id) for m in library.store.iter_media()}

    def no_text_model(*args, **kwargs):
        raise AssertionError("the text model ran again")

    monkeypatch.setattr(PeEncoder, "embed_text", no_text_model)
    library.update_tags(vocabularies["flat"])  # both from the library's cache
    result = library.update_tags(vocabularies["tree"])
    assert result.tagged == len(tagged)
    assert {m.id: library.file_tags(m.id) for m in library.store.iter_media()} == tagged


def test_an_update_stopped_halfway_resumes_with_what_is_left(library, vocabularies, monkeypatch):
    library.update_tags(vocabularies["flat"])
    monkeypatch.setattr(tag_update, "FILES_PER_BATCH", 5)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        stop.set()  # as a Ctrl-C after the first batch

    first = library.update_tags(vocabularies["tree"], progress=progress, stop=stop)
    total = seen[0][1]
    assert first.tagged == 5 and first.left == total - 5
    assert library.tags().untagged_files == total - 5
    second = library.update_tags(progress=lambda done, total: seen.append((done, total)))
    assert second.tagged == total - 5 and second.left == 0
    assert library.tags().untagged_files == 0


def test_counts_count_each_file_once_under_every_ancestor(library, vocabularies):
    library.update_tags(vocabularies["tree"])
    listing = library.tags()
    assert listing.vocabulary == "toy-tree.json"
    by_label: dict[str, set[int]] = {}
    for info in library.store.iter_media():  # brute force: each file's own tags, then the tree by hand
        for tag in library.file_tags(info.id):
            by_label.setdefault(tag.label, set()).add(info.id)
            for group, classes in GROUPS.items():
                if tag.label in {CLASS_LABEL[c] for c in classes}:
                    by_label.setdefault(group, set()).add(info.id)
    counts = {label.name: label.count for label in listing.labels}
    assert counts == {name: len(by_label.get(name, ())) for name in counts}
    assert counts["Tonal"] >= counts[CLASS_LABEL["low_tone"]] > 0
    parents = {label.name: label.parents for label in listing.labels}
    assert parents[CLASS_LABEL["white_noise"]] == ("Noisy",)


# ------------------------------------------------------------------------------- moved, changed
def test_a_moved_file_keeps_its_tags_and_a_changed_file_gets_new_ones(media, vocabularies, tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    low, clicks, pulses = (
        media.media_dir / "sounds" / name for name in ("low-tone.wav", "clicks.flac", "pulses.m4a")
    )
    shutil.copy(low, folder / "a.wav")
    shutil.copy(clicks, folder / "b.flac")
    with Library.open(tmp_path / "library", model=TOY_MODEL) as library:
        library.index([folder], workers=0, progress=False, vocabulary=vocabularies["flat"])
        before = library.file_tags(folder / "a.wav")
        assert before[0].label == CLASS_LABEL["low_tone"]
        assert library.file_tags(folder / "b.flac")[0].label == CLASS_LABEL["clicks"]

        (folder / "a.wav").rename(folder / "moved.wav")
        (folder / "b.flac").unlink()
        shutil.copy(pulses.with_name("pulses.m4a"), folder / "b.m4a")  # other content, same stem
        shutil.copy(media.media_dir / "sounds" / "mid-tone.flac", folder / "b.flac")  # changed content
        summary = library.index([folder], workers=0, progress=False)
        assert summary.moved == 1
        assert library.file_tags(folder / "moved.wav") == before
        assert library.file_tags(folder / "b.flac")[0].label == CLASS_LABEL["mid_tone"]
        assert library.file_tags(folder / "b.m4a")[0].label == CLASS_LABEL["pulses"]
        assert library.vocabulary().name == "toy-sounds.txt"  # the recorded one, not given again


# ------------------------------------------------------------------------------------ front doors
def test_http_tags_and_file_tags_have_their_shapes(library, vocabularies, media):
    library.update_tags(vocabularies["tree"])
    with TestClient(create_app(ServerConfig(library=library.path)), base_url="http://127.0.0.1") as client:
        body = client.get("/api/tags").json()
        assert set(body) == {"vocabulary", "labels"} and body["vocabulary"] == "toy-tree.json"
        first = body["labels"][0]
        assert set(first) == {"id", "name", "parents", "taggable", "count"}
        assert [label["name"] for label in body["labels"]] == [*GROUPS, *CLASS_LABEL.values()]
        assert {label["name"]: label["count"] for label in body["labels"]} == {
            label.name: label.count for label in library.tags().labels
        }
        info = library.store.find_media(str((media.media_dir / "sounds" / "clicks.flac").resolve()))
        tags = client.get(f"/api/files/{info.id}/tags").json()
        assert set(tags) == {"tags"} and tags["tags"][0] == {
            "label": CLASS_LABEL["clicks"],
            "probability": tags["tags"][0]["probability"],
        }
        assert tags["tags"] == [
            {"label": t.label, "probability": t.probability} for t in library.file_tags(info.id)
        ]
        missing = client.get("/api/files/987654/tags")
        assert missing.status_code == 404 and "987654" in missing.json()["error"]


def test_cli_lists_tags_and_a_files_tags_as_json(library, vocabularies, media):
    runner = CliRunner()
    where = ["--library", str(library.path)]
    updated = runner.invoke(
        cli, ["tags", "--update", "--vocabulary", str(vocabularies["flat"]), *where, "--json"]
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output)["vocabulary"] == "toy-sounds.txt"
    listed = json.loads(runner.invoke(cli, ["tags", *where, "--json"]).output)
    assert listed["vocabulary"] == "toy-sounds.txt" and listed["untagged_files"] == 0
    assert {label["name"] for label in listed["labels"]} <= set(CLASS_LABEL.values())
    path = media.media_dir / "sounds" / "white-noise.wav"
    one = json.loads(runner.invoke(cli, ["tags", str(path), *where, "--json"]).output)
    assert one["tags"][0]["label"] == CLASS_LABEL["white_noise"]
    assert set(one["tags"][0]) == {"label", "probability"}
    text = runner.invoke(cli, ["tags", *where])
    assert text.exit_code == 0 and "toy-sounds.txt" in text.output


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "has no labels"),
        ("Dog\nBark\ndog\n", "names 'dog' twice"),
        ('[{"name": "Dog", "parents": "Animal"}]', "neither a string nor a name"),
        ("[not json", "not valid JSON"),
    ],
)
def test_cli_refuses_a_bad_vocabulary_in_one_line_and_keeps_the_tags(
    library, vocabularies, tmp_path, content, said
):
    library.update_tags(vocabularies["flat"])
    bad = tmp_path / ("bad.json" if content.startswith("[") else "bad.txt")
    bad.write_text(content)
    result = CliRunner().invoke(
        cli, ["tags", "--update", "--vocabulary", str(bad), "--library", str(library.path), "--json"]
    )
    assert result.exit_code == 1
    assert said in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.output
    assert library.vocabulary().name == "toy-sounds.txt" and library.tags().untagged_files == 0


def test_cli_mistakes_are_one_line(library):
    runner = CliRunner()
    where = ["--library", str(library.path)]
    unknown = runner.invoke(cli, ["tags", "/nowhere/nothing.wav", *where, "--json"])
    assert unknown.exit_code == 1 and "is not in the library" in json.loads(unknown.stdout)["error"]
    alone = runner.invoke(cli, ["tags", "--vocabulary", "x.txt", *where])
    assert alone.exit_code == 1 and "with --update" in alone.output
    gone = runner.invoke(cli, ["tags", "--update", "--vocabulary", "/nowhere/v.txt", *where])
    assert gone.exit_code == 1 and "no vocabulary file" in gone.output and "Traceback" not in gone.output


# ------------------------------------------------------------------------------- search by tag
def _tagged_with(library: Library, labels: set[str]) -> set[int]:
    """Brute force: the files whose own tags include any of `labels`."""
    return {
        info.id
        for info in library.store.iter_media()
        if labels & {tag.label for tag in library.file_tags(info.id)}
    }


def test_tag_filter_and_facets_match_a_brute_force_count(library, vocabularies):
    library.update_tags(vocabularies["tree"])
    everything = library.search("a tone", mode="vector", target="audio", k=200)
    assert len({h.media_id for h in everything}) >= 20
    tonal = {CLASS_LABEL[c] for c in GROUPS["Tonal"]} | {"Tonal"}
    expected = {h.media_id for h in everything} & _tagged_with(library, tonal)
    assert expected, "some files must be tonal for the filter to mean anything"
    filtered = library.search("a tone", mode="vector", target="audio", k=200, tag="tonal")  # any case
    assert {h.media_id for h in filtered} == expected
    narrow = library.search("a tone", mode="vector", target="audio", k=200, tag=CLASS_LABEL["low_tone"])
    assert {h.media_id for h in narrow} == expected & _tagged_with(library, {CLASS_LABEL["low_tone"]})

    by_hand: dict[str, set[int]] = {}
    for hit in everything:
        tags = library.file_tags(hit.media_id)
        assert list(hit.tags) == tags[:3]  # each hit carries its file's best tags
        for tag in tags:
            by_hand.setdefault(tag.label, set()).add(hit.media_id)
    facets = library.facets(everything)
    assert {f.label: f.count for f in facets} == {label: len(ids) for label, ids in by_hand.items()}
    assert [f.count for f in facets] == sorted((f.count for f in facets), reverse=True)


def test_locate_by_tag_keeps_to_the_tagged_files(library, vocabularies):
    library.update_tags(vocabularies["tree"])
    noisy = _tagged_with(library, {"Noisy", *(CLASS_LABEL[c] for c in GROUPS["Noisy"])})
    paths = {info.path for info in library.store.iter_media() if info.id in noisy}
    spans = library.locate("white noise", threshold=0.05, k=50, tag="Noisy")
    assert spans and {span.path for span in spans} <= paths


def test_an_unknown_tag_is_refused_with_the_closest_labels(library, vocabularies):
    library.update_tags(vocabularies["tree"])
    with pytest.raises(Exception, match="the closest labels are 'Tonal'"):
        library.search("a tone", tag="Tonnal")
    result = CliRunner().invoke(
        cli, ["search", "a tone", "--tag", "Tonnal", "--library", str(library.path), "--json"]
    )
    assert result.exit_code == 1 and "Tonal" in json.loads(result.stdout)["error"]
    with TestClient(create_app(ServerConfig(library=library.path)), base_url="http://127.0.0.1") as client:
        answer = client.post("/api/search", json={"q": "a tone", "tag": "Tonnal"})
        assert answer.status_code == 400 and "'Tonal'" in answer.json()["error"]
        good = client.post("/api/search", json={"q": "a tone", "tag": "Tonal", "k": 50}).json()
        assert {h["media_id"] for h in good["hits"]} <= _tagged_with(
            library, {"Tonal", *(CLASS_LABEL[c] for c in GROUPS["Tonal"])}
        )
        assert all(set(h["tags"][0]) == {"label", "probability"} for h in good["hits"] if h["tags"])
        facets = good["facets"]["tags"]
        assert facets and set(facets[0]) == {"label", "count"}


def test_cli_search_facets_and_tags_on_hits(library, vocabularies):
    library.update_tags(vocabularies["flat"])
    where = ["--library", str(library.path)]
    out = CliRunner().invoke(cli, ["search", "a tone", "-k", "5", "--facets", "--json", *where])
    body = json.loads(out.stdout)
    assert set(body) == {"hits", "facets"} and len(body["hits"]) == 5
    counted: dict[str, set[int]] = {}
    for hit in body["hits"]:
        for tag in library.file_tags(hit["media_id"]):
            counted.setdefault(tag.label, set()).add(hit["media_id"])
    assert {f["label"]: f["count"] for f in body["facets"]["tags"]} == {k: len(v) for k, v in counted.items()}
    plain = json.loads(CliRunner().invoke(cli, ["search", "a tone", "-k", "2", "--json", *where]).stdout)
    assert isinstance(plain, list) and "tags" in plain[0]  # without --facets: the list, as before


# ---------------------------------------------------------------------------------- text side
def test_text_search_finds_a_file_by_its_tag(library, vocabularies, media, tmp_path):
    library.update_tags(vocabularies["flat"])
    rumble = CLASS_LABEL["brown_noise"]  # "a deep rumble": no file name or folder says rumble
    assert "rumble" in rumble
    tagged = _tagged_with(library, {rumble})
    generated = {
        info.id
        for info in library.store.iter_media()
        if (g := media.by_path(info.path)) and g.sounds == ("brown_noise",)
    }
    assert generated and generated <= tagged
    for mode in ("text", "hybrid"):
        hits = library.search("rumble", mode=mode, k=50)
        by_label = {h.media_id for h in hits if h.why is not None and h.why.text_field == "label"}
        assert by_label == tagged, mode
    tones = tmp_path / "tones.txt"
    tones.write_text(f"{CLASS_LABEL['low_tone']}\n{CLASS_LABEL['high_beep']}\n")
    library.update_tags(tones)  # other labels: the old words go with the old tags
    assert not [h for h in library.search("rumble", mode="text", k=50) if h.why.text_field == "label"]
    library.update_tags(vocabularies["flat"])
