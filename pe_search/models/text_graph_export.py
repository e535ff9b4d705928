"""Writing a library's text query graphs (read by `text_graph.py`) from the torch text side.

Each checkpoint's text tower and text heads (`text_encoder.TextEncoder`, float32 on the CPU,
whatever the indexing models' device and precision) go through torch's ONNX exporter once, with
a dynamic token length up to `text_graph.MAX_LENGTH`; the checkpoint's tokenizer.json is copied
beside the graph. The files go into a new folder named by the models' identity, and the manifest
is replaced last: a reader sees the old graphs or the new ones, never half of them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from pe_search.models.identity import ModelIdentity
from pe_search.models.text_encoder import TextEncoder
from pe_search.models.text_graph import (
    MANIFEST,
    MAX_LENGTH,
    GraphEntry,
    Manifest,
    graph_dir_name,
    models_dir,
)

# A graph depends only on the checkpoint: one export per checkpoint per process (libraries built
# by one process, such as a test session's, share it). Keyed by (kind, config, weights digests).
# Only small graphs are kept: a released checkpoint's is about its text tower's float32 weights
# (hundreds of MB to GBs), which an indexing process (a server, a watch) must not hold for good.
_EXPORTED: dict[tuple[str, str, str], bytes] = {}
KEEP_EXPORTED_BYTES = 64 * 2**20
_EXPORTING = threading.Lock()


class _TextSide(nn.Module):
    """input_ids, attention_mask -> one output per text head (the CLS state of the last layer)."""

    def __init__(self, encoder: TextEncoder) -> None:
        super().__init__()
        self.text_model = encoder.text_model
        self.heads = nn.ModuleDict(encoder.heads)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output = self.text_model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, return_dict=True
        )
        states = output.hidden_states[-1][:, 0]  # as towers.cls_text_states
        return tuple(head(states) for head in self.heads.values())


def graph_bytes(encoder: TextEncoder) -> bytes:
    """The ONNX graph of one checkpoint's text side (exported once per process, if small)."""
    key = (encoder.kind, encoder.identity.config_sha256, encoder.identity.weights_sha256)
    with _EXPORTING:
        graph = _EXPORTED.get(key)
        if graph is None:
            graph = _export(encoder)
            if len(graph) <= KEEP_EXPORTED_BYTES:
                _EXPORTED[key] = graph
        return graph


def _export(encoder: TextEncoder) -> bytes:
    module = _TextSide(encoder).eval()
    tokens = encoder.tokenizer("a sound", return_tensors="pt")
    length = torch.export.Dim("tokens", min=1, max=MAX_LENGTH)
    batch = torch.export.Dim("batch", min=1, max=64)
    shapes = {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}}
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        file = Path(scratch) / "text.onnx"
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its progress
            torch.onnx.export(
                module,
                (tokens["input_ids"], tokens["attention_mask"]),
                str(file),
                input_names=["input_ids", "attention_mask"],
                output_names=list(encoder.heads),
                dynamic_shapes=shapes,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        return file.read_bytes()


def text_encoders(directories: Sequence[Path]) -> list[TextEncoder]:
    """The text sides of these checkpoint directories, float32 on the CPU (what is exported)."""
    return [TextEncoder.from_pretrained(d, device="cpu", dtype="float32") for d in directories]


def write_text_graph(library: Path, encoders: Sequence[TextEncoder], identity: ModelIdentity) -> Manifest:
    """Export `encoders` (clip model first) as the library's text graphs for `identity`, replacing
    any others; returns the manifest written."""
    target = models_dir(library)
    target.mkdir(parents=True, exist_ok=True)
    name = graph_dir_name(identity)
    entries = []
    folder_mode = target.stat().st_mode & 0o777  # as made under the user's umask (mkdtemp: 0700)
    staging = Path(tempfile.mkdtemp(prefix=".text-query-", dir=target))
    staging.chmod(folder_mode)
    try:
        for number, encoder in enumerate(encoders):
            graph, tokenizer = f"{number}.onnx", f"{number}.tokenizer.json"
            (staging / graph).write_bytes(graph_bytes(encoder))
            shutil.copyfile(encoder.identity.directory / "tokenizer.json", staging / tokenizer)
            entries.append(GraphEntry(encoder.kind, tuple(encoder.heads), graph, tokenizer, MAX_LENGTH))
        _sync_folder(staging)
        shutil.rmtree(target / name, ignore_errors=True)
        os.replace(staging, target / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = Manifest(identity, name, tuple(entries))
    _replace_text(target / MANIFEST, _json(manifest), folder_mode & 0o666)
    for old in target.glob("text-query-*"):  # an earlier identity's graphs
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def _json(manifest: Manifest) -> str:
    return json.dumps(manifest.to_json(), indent=1) + "\n"


def _sync_folder(folder: Path) -> None:
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def _replace_text(file: Path, text: str, mode: int) -> None:
    """Write `file` whole or not at all (a temporary file beside it, fsynced, then renamed)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        os.fchmod(handle, mode)  # readable as the library's other files (mkstemp: 0600)
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
