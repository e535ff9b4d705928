"""A library's text query side as ONNX graphs run by onnxruntime: a text search without torch.

Importing torch and transformers (with the modeling ModernBERT needs: torch._dynamo, torchvision)
costs about 3 s of CPU, more than the whole target for `pe-search search TEXT` from process start
to the first hit (issue 24, item 5). So the writer (`Library.index`, `text_graph_export.py`)
exports each checkpoint's text tower and text heads once, beside the library:

    <library>/models/text-query.json          which graphs, for which model identity
    <library>/models/text-query-<id>/N.onnx   checkpoint N's text tower + heads (N: 0 clip, 1 frames)
    <library>/models/text-query-<id>/N.tokenizer.json   its tokenizer, read by `tokenizers` alone

and a text query reads them here. The graphs' outputs are `TextModels.embed_query`'s vectors
(the text tower's last-layer CLS state through each text head; not normalised, as there). A
graph is used only for the identity it was made from: another one (a rebuilt library, another
model) is never read (`load_text_graph` gives None and the torch text side answers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pe_search.models.identity import ModelIdentity
from pe_search.models.text_side import TEXT_MAX_TOKENS, TextSide

MANIFEST = "text-query.json"
FORMAT = 1
MAX_LENGTH = TEXT_MAX_TOKENS  # the graphs take what `towers.text_states` takes


def models_dir(library: Path) -> Path:
    """Where a library keeps what its models need beside the store (the text query graphs)."""
    return Path(library) / "models"


def graph_dir_name(identity: ModelIdentity) -> str:
    """The folder of one identity's graphs: a new identity never overwrites files in use."""
    recorded = json.dumps(_recorded(identity), sort_keys=True).encode()
    return "text-query-" + hashlib.sha256(recorded).hexdigest()[:16]


def _recorded(identity: ModelIdentity) -> dict[str, Any]:
    """The identity the graphs were made from, without its calibration (fitted after, per library)."""
    return {key: value for key, value in identity.to_json().items() if key != "calibration"}


@dataclass(frozen=True)
class GraphEntry:
    """One checkpoint's text graph as the manifest lists it."""

    kind: str
    embeddings: tuple[str, ...]
    graph: str  # file names inside the identity's folder
    tokenizer: str
    max_length: int = MAX_LENGTH

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "embeddings": list(self.embeddings),
            "graph": self.graph,
            "tokenizer": self.tokenizer,
            "max_length": self.max_length,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GraphEntry:
        return cls(
            str(data["kind"]),
            tuple(map(str, data["embeddings"])),
            str(data["graph"]),
            str(data["tokenizer"]),
            int(data["max_length"]),
        )


@dataclass(frozen=True)
class Manifest:
    """What `text-query.json` records: the models' identity and one entry per checkpoint."""

    identity: ModelIdentity
    directory: str
    entries: tuple[GraphEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "identity": _recorded(self.identity),
            "directory": self.directory,
            "graphs": [entry.to_json() for entry in self.entries],
        }

    @classmethod
    def read(cls, library: Path) -> Manifest | None:
        """The library's manifest, or None when there is none or it is not one this release reads."""
        try:
            data = json.loads((models_dir(library) / MANIFEST).read_text())
            if data.get("format") != FORMAT:
                return None
            return cls(
                ModelIdentity.from_json(data["identity"]),
                str(data["directory"]),
                tuple(GraphEntry.from_json(entry) for entry in data["graphs"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def matches(self, identity: ModelIdentity | None) -> bool:
        """Whether these graphs were made from the models `identity` names (as a query's models
        are checked against a library: `ModelIdentity.difference`)."""
        return identity is not None and identity.difference(self.identity) is None


class GraphEncoder:
    """One checkpoint's text side as an onnxruntime session and a `tokenizers` tokenizer."""

    def __init__(self, folder: Path, entry: GraphEntry) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.kind = entry.kind
        self.embeddings = entry.embeddings
        self.tokenizer = Tokenizer.from_file(str(folder / entry.tokenizer))
        self.tokenizer.enable_truncation(entry.max_length)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the CLI's output is the hits
        self.session = onnxruntime.InferenceSession(
            str(folder / entry.graph), options, providers=["CPUExecutionProvider"]
        )
        self.outputs = [output.name for output in self.session.get_outputs()]

    def token_ids(self, text: str) -> list[int]:
        """The tokenizer's ids for one text (special tokens added, truncated to the max length)."""
        return self.tokenizer.encode(text).ids

    def embed_text(self, text: str) -> dict[str, np.ndarray]:
        """{embedding: (dim,)} for one text."""
        ids = np.asarray([self.token_ids(text)], dtype=np.int64)
        values = self.session.run(self.outputs, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        return {name: np.asarray(value[0], dtype=np.float32) for name, value in zip(self.outputs, values)}

    def embed_one(self, text: str, embedding: str) -> np.ndarray:
        return self.embed_text(text)[embedding]


class GraphTextModels(TextSide):
    """The text side of a library's models run from its graphs: what a text query embeds with,
    in place of `text_encoder.TextModels` (the same `embed_query`, `embeddings`, `identity`)."""

    def __init__(self, manifest: Manifest, encoders: Sequence[GraphEncoder]) -> None:
        self.manifest = manifest
        self._encoders = list(encoders)

    @property
    def encoders(self) -> list[GraphEncoder]:
        return self._encoders

    def identity(self) -> ModelIdentity:
        return self.manifest.identity


def load_text_graph(library: Path, identity: ModelIdentity | None) -> GraphTextModels | None:
    """The library's text graphs when they were made from `identity` (the library's recorded
    models), else None: no graph, another model's, or files that do not open."""
    manifest = Manifest.read(library)
    if manifest is None or not manifest.matches(identity):
        return None
    folder = models_dir(library) / manifest.directory
    try:
        return GraphTextModels(manifest, [GraphEncoder(folder, entry) for entry in manifest.entries])
    except Exception:  # noqa: BLE001 (onnxruntime and tokenizers raise their own types on a bad file)
        return None
