"""Make `import timm` work where torchvision's compiled ops cannot load.

timm (PE-AV's video tower) imports torchvision at import time. On a CPU-only torch the only
torchvision wheel that matches it is built against CUDA, so its `_C` extension fails to load
and `torchvision/_meta_registrations.py` then crashes registering fake kernels for
`torchvision::nms` / `qnms`, ops that were never defined. PE-AV uses none of torchvision's
ops; declaring the two schemas lets the import finish. Nothing changes where `_C` loads.
"""

from __future__ import annotations

import importlib
import sys

_MISSING_OPS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # keeps the schema declarations alive for the process


def ensure_torchvision_importable() -> None:
    """Import torchvision, declaring its missing op schemas first if its extension cannot load."""
    global _library
    if "torchvision" in sys.modules and _library is not None:
        return
    try:
        importlib.import_module("torchvision")
        return
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    import torch

    _library = torch.library.Library("torchvision", "FRAGMENT")
    for name, schema in _MISSING_OPS.items():
        if not torch._C._dispatch_has_kernel(f"torchvision::{name}") and not _has_schema(name):
            _library.define(schema)
    importlib.import_module("torchvision")


def _has_schema(name: str) -> bool:
    import torch

    try:
        torch._C._get_schema(f"torchvision::{name}", "")
        return True
    except RuntimeError:
        return False
