"""The labels a library is tagged with: the AudioSet ontology by default, or a user's own list.

A vocabulary is the labels in a fixed order (a label's index is its id in stored tags), which of
them are tags (the ontology's `abstract` and `blacklist` classes are not, but stay in the hierarchy
for browsing), and each label's parents. Its `digest` names exactly this content, so the library
can tell when tags were computed with another vocabulary.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from pe_search.errors import Option, PeSearchError

DEFAULT_VOCABULARY = "audioset"
"""The name of the shipped vocabulary (AudioSet ontology, CC BY-SA 4.0: data/LICENSE.md)."""

_ONTOLOGY_FILE = "audioset-ontology-names.json"
_NOT_TAGS = frozenset({"abstract", "blacklist"})
_VOCABULARY_OPTION = Option("vocabulary", flag="--vocabulary")


class VocabularyError(PeSearchError):
    """A vocabulary file that cannot be used, or a label the vocabulary does not have."""


@dataclass(frozen=True)
class Label:
    name: str
    parents: tuple[str, ...] = ()  # names of the labels it sits under
    taggable: bool = True  # False: only a node of the hierarchy (AudioSet's abstract classes)
    key: str | None = None  # the source's own id ("/m/0bt9lr"), when it has one


@dataclass(frozen=True)
class Vocabulary:
    """Labels in a fixed order; `labels[i]` is label id `i` in stored tags."""

    name: str  # "audioset", or the file's name
    labels: tuple[Label, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {label.name.casefold(): i for i, label in enumerate(self.labels)})

    @cached_property
    def digest(self) -> str:
        """sha256 of the labels, their order, parents and taggability: what tags were computed for."""
        content = [[label.name, list(label.parents), label.taggable] for label in self.labels]
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    @cached_property
    def tag_ids(self) -> list[int]:
        """The ids of the labels that are tags (everything but hierarchy-only nodes)."""
        return [i for i, label in enumerate(self.labels) if label.taggable]

    def __len__(self) -> int:
        return len(self.labels)

    def id_of(self, name: str) -> int:
        """The id of `name` (case-insensitive); an unknown name is refused with the closest labels."""
        found = self._index.get(name.strip().casefold())
        if found is None:
            close = self.closest(name)
            hint = f"the closest labels are {', '.join(repr(c) for c in close)}" if close else ""
            raise VocabularyError(
                f"no label {name!r} in the vocabulary {self.name!r}",
                hint or "list the labels with `pe-search tags --labels`",
                value=name,
            )
        return found

    def closest(self, name: str, n: int = 3) -> list[str]:
        """Up to `n` labels spelled most like `name`, best first."""
        by_folded = {label.name.casefold(): label.name for label in self.labels}
        matches = difflib.get_close_matches(name.strip().casefold(), list(by_folded), n=n, cutoff=0.5)
        if not matches:  # a word of a longer label ("bark" -> "Bark", "Dog" -> "Dog barking")
            word = name.strip().casefold()
            matches = [k for k in by_folded if word and word in k.split()][:n]
        return [by_folded[m] for m in matches]

    @cached_property
    def children(self) -> dict[int, list[int]]:
        """Each label's direct children, by id."""
        out: dict[int, list[int]] = {i: [] for i in range(len(self.labels))}
        for i, label in enumerate(self.labels):
            for parent in label.parents:
                out[self._index[parent.casefold()]].append(i)
        return out

    def with_descendants(self, name: str) -> list[int]:
        """`name`'s id and every id below it in the hierarchy ("Animal" includes "Dog"), sorted."""
        start = self.id_of(name)
        seen = {start}
        todo = [start]
        while todo:
            for child in self.children[todo.pop()]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return sorted(seen)

    @cached_property
    def roots(self) -> list[int]:
        """Labels with no parent: the top of the browsing tree."""
        return [i for i, label in enumerate(self.labels) if not label.parents]


def default_vocabulary() -> Vocabulary:
    """The AudioSet ontology's 632 classes, 543 of them tags."""
    text = resources.files("pe_search.tagging").joinpath("data", _ONTOLOGY_FILE).read_text("utf-8")
    return _from_ontology(json.loads(text), DEFAULT_VOCABULARY)


def _from_ontology(classes: list[dict], name: str) -> Vocabulary:
    by_id = {c["id"]: c for c in classes}
    parents: dict[str, list[str]] = {c["id"]: [] for c in classes}
    for c in classes:
        for child in c["child_ids"]:
            parents[child].append(c["name"])
    labels = tuple(
        Label(
            name=c["name"],
            parents=tuple(parents[c["id"]]),
            taggable=not (_NOT_TAGS & set(c.get("restrictions", ()))),
            key=c["id"],
        )
        for c in by_id.values()
    )
    return Vocabulary(name, labels)


def load_vocabulary(path: str | Path) -> Vocabulary:
    """A user's vocabulary: a text file with one label per line (`#` starts a comment), or JSON:
    a list of labels, each a string or `{"name": ..., "parents": [...]}`, or `{"labels": [...]}`."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise VocabularyError(
            f"no vocabulary file {str(path)!r}",
            "give an existing file to {0}",
            options=[_VOCABULARY_OPTION],
            value=str(path),
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise VocabularyError(
            f"cannot read the vocabulary {str(path)!r} ({error.__class__.__name__})",
            "give a UTF-8 text file with one label per line, or a JSON list of labels",
            value=str(path),
        ) from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        entries = _json_entries(text, path)
    else:
        entries = [(line.split("#", 1)[0].strip(), ()) for line in text.splitlines()]
        entries = [(name, parents) for name, parents in entries if name]
    return _checked(entries, path)


def _json_entries(text: str, path: Path) -> list[tuple[str, tuple[str, ...]]]:
    fix = 'give a list of labels: ["Dog", {"name": "Bark", "parents": ["Dog"]}]'
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise VocabularyError(
            f"the vocabulary {str(path)!r} is not valid JSON (line {error.lineno}: {error.msg})",
            fix,
            value=str(path),
        ) from None
    if isinstance(data, dict):
        data = data.get("labels")
    if not isinstance(data, list):
        raise VocabularyError(f"the vocabulary {str(path)!r} holds no list of labels", fix, value=str(path))
    entries = []
    for position, item in enumerate(data, 1):
        if isinstance(item, str):
            entries.append((item.strip(), ()))
            continue
        name = item.get("name") if isinstance(item, dict) else None
        parents = item.get("parents", []) if isinstance(item, dict) else None
        if (
            not isinstance(name, str)
            or not isinstance(parents, list)
            or not all(isinstance(p, str) for p in parents)
        ):
            raise VocabularyError(
                f"label {position} of {str(path)!r} is neither a string nor a name with a list of parents",
                fix,
                value=str(path),
            )
        entries.append((name.strip(), tuple(p.strip() for p in parents)))
    return entries


def _checked(entries: Sequence[tuple[str, tuple[str, ...]]], path: Path) -> Vocabulary:
    if not entries:
        raise VocabularyError(
            f"the vocabulary {str(path)!r} has no labels", "put one label per line in it", value=str(path)
        )
    seen: dict[str, str] = {}
    for name, _ in entries:
        if not name:
            raise VocabularyError(
                f"the vocabulary {str(path)!r} has an empty label", "remove it", value=str(path)
            )
        folded = name.casefold()
        if folded in seen:
            raise VocabularyError(
                f"the vocabulary {str(path)!r} names {name!r} twice",
                "keep each label once (labels are compared without case)",
                value=name,
            )
        seen[folded] = name
    for name, parents in entries:
        for parent in parents:
            if parent.casefold() not in seen:
                raise VocabularyError(
                    f"label {name!r} in {str(path)!r} has the parent {parent!r}, which is not a label of it",
                    "add the parent as a label of its own, or remove it from the parents",
                    value=parent,
                )
    _refuse_cycles(entries, path)
    labels = tuple(Label(name, tuple(seen[p.casefold()] for p in parents)) for name, parents in entries)
    return Vocabulary(path.name, labels)


def _refuse_cycles(entries: Iterable[tuple[str, tuple[str, ...]]], path: Path) -> None:
    parents = {name.casefold(): [p.casefold() for p in ps] for name, ps in entries}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(node: str) -> None:
        state[node] = 1
        for parent in parents[node]:
            if state.get(parent) == 1:
                raise VocabularyError(
                    f"the labels of {str(path)!r} are their own ancestors ({parent!r} is under itself)",
                    "remove the parent that closes the loop",
                    value=parent,
                )
            if parent not in state:
                walk(parent)
        state[node] = 2

    for node in parents:
        if node not in state:
            walk(node)
