"""The vocabularies tags are drawn from: the shipped AudioSet ontology and a user's own files."""

from __future__ import annotations

import json

import pytest

from pe_search.tagging import VocabularyError, default_vocabulary, load_vocabulary

SHARED = json.loads(
    (
        __import__("pathlib").Path(__file__).parents[1]
        / "pe_search/tagging/data/audioset-ontology-names.json"
    ).read_text()
)


def test_default_vocabulary_is_the_ontology_with_abstract_and_blacklisted_classes_not_tags():
    vocabulary = default_vocabulary()
    assert len(vocabulary) == len(SHARED) == 632
    not_tags = {c["name"] for c in SHARED if {"abstract", "blacklist"} & set(c["restrictions"])}
    assert {vocabulary.names[i] for i in vocabulary.tag_ids} == {c["name"] for c in SHARED} - not_tags
    assert len(not_tags) == 89


def test_hierarchy_includes_every_descendant():
    vocabulary = default_vocabulary()
    by_id = {c["id"]: c for c in SHARED}
    animal = next(c for c in SHARED if c["name"] == "Animal")
    expected, todo = set(), [animal["id"]]
    while todo:
        node = todo.pop()
        expected.add(by_id[node]["name"])
        todo.extend(by_id[node]["child_ids"])
    assert {vocabulary.names[i] for i in vocabulary.with_descendants("animal")} == expected
    assert "Bark" in expected


def test_unknown_label_names_the_closest():
    with pytest.raises(VocabularyError, match="no label 'Dgo'.*'Dog'"):
        default_vocabulary().id_of("Dgo")


def test_text_and_json_vocabularies(tmp_path):
    text = tmp_path / "v.txt"
    text.write_text("Dog\n# a comment\n\nBark  # trailing\n")
    assert load_vocabulary(text).names == ["Dog", "Bark"]
    js = tmp_path / "v.json"
    js.write_text(
        json.dumps(["Animal", {"name": "Dog", "parents": ["Animal"]}, {"name": "Bark", "parents": ["dog"]}])
    )
    vocabulary = load_vocabulary(js)
    assert [vocabulary.names[i] for i in vocabulary.with_descendants("Animal")] == ["Animal", "Dog", "Bark"]
    assert vocabulary.digest != load_vocabulary(text).digest


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "has no labels"),
        ("# only a comment\n", "has no labels"),
        ("Dog\ndog\n", "names 'dog' twice"),
        ('["Dog", ', "not valid JSON"),
        ('{"labels": 3}', "holds no list"),
        ('[{"name": "Dog", "parents": "Animal"}]', "neither a string"),
        ('[{"name": "Dog", "parents": ["Animal"]}]', "parent 'Animal'"),
        ('[{"name": "A", "parents": ["B"]}, {"name": "B", "parents": ["A"]}]', "their own ancestors"),
    ],
)
def test_malformed_vocabularies_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / ("v.json" if content.lstrip().startswith(("[", "{")) else "v.txt")
    path.write_text(content)
    with pytest.raises(VocabularyError, match=message) as caught:
        load_vocabulary(path)
    assert "\n" not in str(caught.value)


def test_missing_vocabulary_file_is_refused(tmp_path):
    with pytest.raises(VocabularyError, match="no vocabulary file"):
        load_vocabulary(tmp_path / "nope.txt")
