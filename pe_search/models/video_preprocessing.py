"""Frame preprocessing identical to a PE checkpoint's `PeVideoVideoProcessor`, in a few torch ops.

The checkpoint's `video_preprocessor_config.json` drives transformers' torchvision backend, which:
1. resizes the uint8 frames (N, 3, H, W) with `resample` (bilinear in PE), antialiased, and keeps
   them uint8: on CPU torch resizes uint8 natively; elsewhere it resizes in float32 and rounds back;
2. optionally centre-crops (padding with zeros when the crop is larger);
3. rescales and normalises in one step, `(x - mean / rescale_factor) / (std / rescale_factor)` in
   float32, channels first.
This module does the same operations in the same order and precision, without transformers'
per-call kwargs validation, grouping and padding, so it can run inside the indexer's loop; the
tests check it against the processor itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pe_search.errors import ModelLoadError

# PIL resampling codes as stored in configs -> torch interpolation modes (transformers'
# `pil_torch_interpolation_mapping`). LANCZOS, BOX and HAMMING have no torch `interpolate` mode.
_RESAMPLE = {0: "nearest-exact", 2: "bilinear", 3: "bicubic"}
_RESAMPLE_NAMES = {
    "nearest": "nearest-exact",
    "nearest-exact": "nearest-exact",
    "bilinear": "bilinear",
    "bicubic": "bicubic",
}
# Where transformers looks for the video processor's settings, in its order of priority.
_CONFIG_FILES = ("processor_config.json", "video_preprocessor_config.json", "preprocessor_config.json")


@dataclass(frozen=True)
class FramePreprocessing:
    """A checkpoint's frame preprocessing. The output size is `height` x `width` when both are set;
    otherwise it follows the input's aspect ratio from `shortest_edge` / `longest_edge` or
    `max_height` / `max_width`, as transformers computes it."""

    height: int | None
    width: int | None
    do_resize: bool
    do_rescale: bool
    rescale_factor: float
    do_normalize: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: str  # a torch interpolate mode: "bilinear", "bicubic" or "nearest-exact"
    shortest_edge: int | None = None
    longest_edge: int | None = None
    max_height: int | None = None
    max_width: int | None = None
    do_center_crop: bool = False
    crop_height: int | None = None
    crop_width: int | None = None

    @classmethod
    def from_config(cls, config: dict) -> FramePreprocessing:
        """From the dict of `video_preprocessor_config.json`; missing keys take the processor's
        defaults (no resize, no crop, no normalisation, rescale 1/255, bilinear)."""
        size = _size_dict(config.get("size"), config.get("default_to_square", True))
        crop = _size_dict(config.get("crop_size"), True)
        resample = config.get("resample", 2)
        mode = (
            _RESAMPLE.get(resample)
            if isinstance(resample, int)
            else _RESAMPLE_NAMES.get(str(resample).lower())
        )
        if mode is None:
            raise ValueError(f"unsupported resample {resample!r}: only nearest, bilinear and bicubic")
        do_resize = bool(config.get("do_resize"))
        if do_resize and not (
            {"height", "width"} <= size.keys()
            or "shortest_edge" in size
            or {"max_height", "max_width"} <= size.keys()
        ):
            raise ValueError(
                f"do_resize needs size with height/width, shortest_edge or max_height/max_width: {size}"
            )
        do_normalize = bool(config.get("do_normalize"))
        mean, std = config.get("image_mean"), config.get("image_std")
        if do_normalize and (mean is None or std is None):
            raise ValueError("do_normalize needs image_mean and image_std")
        do_center_crop = bool(config.get("do_center_crop"))
        if do_center_crop and not {"height", "width"} <= crop.keys():
            raise ValueError(f"do_center_crop needs crop_size with height and width: {crop}")
        return cls(
            height=size.get("height"),
            width=size.get("width"),
            do_resize=do_resize,
            do_rescale=bool(config.get("do_rescale")),
            rescale_factor=float(config.get("rescale_factor", 1 / 255)),
            do_normalize=do_normalize,
            mean=_triple(mean if mean is not None else 0.0),
            std=_triple(std if std is not None else 1.0),
            resample=mode,
            shortest_edge=size.get("shortest_edge"),
            longest_edge=size.get("longest_edge"),
            max_height=size.get("max_height"),
            max_width=size.get("max_width"),
            do_center_crop=do_center_crop,
            crop_height=crop.get("height"),
            crop_width=crop.get("width"),
        )

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path) -> FramePreprocessing:
        """From a checkpoint directory, a JSON file, or a hub id (through the local hub cache; set
        HF_HUB_OFFLINE=1 to never download). Raises ModelLoadError when no config is found."""
        path = Path(path_or_id)
        if path.is_file():
            return cls.from_config(_read_json(path))
        for name in _CONFIG_FILES:
            file = path / name if path.is_dir() else _hub_file(str(path_or_id), name)
            if file is None or not file.is_file():
                continue
            config = _read_json(file)
            if name == "processor_config.json":
                config = config.get("video_processor")
                if config is None:
                    continue
            return cls.from_config(config)
        raise ModelLoadError(f"{path_or_id}: no video preprocessor config ({', '.join(_CONFIG_FILES)})")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of a frame of the given size after resizing and cropping."""
        if self.do_resize:
            height, width = self._resized(height, width)
        if self.do_center_crop:
            height, width = self.crop_height, self.crop_width
        return height, width

    def decode_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The (height, width) to decode a frame of this size at, so that a huge frame is never
        held full size: what resizing makes of it, when that shrinks both sides. None: decode it
        as it is (no resizing, or resizing up, which `__call__` does as the processor does)."""
        if not self.do_resize:
            return None
        target = self._resized(height, width)
        if target == (height, width) or target[0] > height or target[1] > width:
            return None
        return target

    def _resized(self, height: int, width: int) -> tuple[int, int]:
        # The branch order and integer truncations of transformers' TorchvisionBackend.resize.
        if self.shortest_edge and self.longest_edge:
            return _size_with_aspect_ratio(height, width, self.shortest_edge, self.longest_edge)
        if self.shortest_edge:
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = self.shortest_edge, int(self.shortest_edge * long / short)
            return (new_long, new_short) if width <= height else (new_short, new_long)
        if self.max_height and self.max_width:
            scale = min(self.max_height / height, self.max_width / width)
            return int(height * scale), int(width * scale)
        return self.height, self.width

    def __call__(
        self, rgb_frames: np.ndarray | torch.Tensor, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """uint8 RGB frames (T, H, W, 3) -> float32 (T, 3, h, w), ready for the video tower."""
        frames = torch.as_tensor(rgb_frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(f"expected uint8 frames (T, H, W, 3), got {tuple(frames.shape)} {frames.dtype}")
        frames = frames.permute(0, 3, 1, 2).contiguous()
        if device is not None:
            frames = frames.to(device)
        if self.do_resize:
            size = self._resized(*frames.shape[-2:])
            if size != tuple(frames.shape[-2:]) and frames.shape[0] > 0:
                frames = _resize_uint8(frames, size, self.resample)
        if self.do_center_crop:
            frames = _center_crop(frames, self.crop_height, self.crop_width)
        return self._rescale_and_normalize(frames)

    def _rescale_and_normalize(self, frames: torch.Tensor) -> torch.Tensor:
        if self.do_normalize:
            mean, std = (
                torch.tensor(self.mean, device=frames.device),
                torch.tensor(self.std, device=frames.device),
            )
            if self.do_rescale:  # fused, exactly as transformers fuses it
                mean, std = mean * (1.0 / self.rescale_factor), std * (1.0 / self.rescale_factor)
            return frames.to(torch.float32).sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))
        if self.do_rescale:
            return frames * self.rescale_factor
        return frames.to(torch.float32)


def _resize_uint8(frames: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """torchvision's `resize` on uint8: native uint8 kernels where it uses them, float32 and round
    elsewhere (the two can differ by one level on a few pixels, so the choice must match)."""
    antialias = mode != "nearest-exact"
    align_corners = False if antialias else None
    if frames.device.type == "cpu":
        native = mode != "bilinear" or torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
        native = native or _is_arm()
    else:
        native = mode == "nearest-exact"
    if native:
        return F.interpolate(frames, size=size, mode=mode, align_corners=align_corners, antialias=antialias)
    resized = F.interpolate(
        frames.float(), size=size, mode=mode, align_corners=align_corners, antialias=antialias
    )
    if mode == "bicubic":
        resized = resized.clamp_(min=0, max=255)
    return resized.round_().to(torch.uint8)


def _is_arm() -> bool:
    import platform

    return platform.machine() in ("aarch64", "arm64")


def _center_crop(frames: torch.Tensor, crop_height: int, crop_width: int) -> torch.Tensor:
    """transformers' centre crop: pad with zeros (left/top get the smaller half) if too small."""
    height, width = frames.shape[-2:]
    if crop_height > height or crop_width > width:
        pad_w, pad_h = max(crop_width - width, 0), max(crop_height - height, 0)
        frames = F.pad(frames, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        height, width = frames.shape[-2:]
    top, left = int((height - crop_height) / 2.0), int((width - crop_width) / 2.0)
    return frames[..., top : top + crop_height, left : left + crop_width]


def _size_with_aspect_ratio(height: int, width: int, size: int, max_size: int) -> tuple[int, int]:
    """transformers' `get_size_with_aspect_ratio` (shortest edge capped by a longest edge)."""
    raw_size = None
    short, long = float(min(height, width)), float(max(height, width))
    if long / short * size > max_size:
        raw_size = max_size * short / long
        size = int(round(raw_size))
    if (height <= width and height == size) or (width <= height and width == size):
        return height, width
    if width < height:
        return (int(raw_size * height / width) if raw_size is not None else int(size * height / width)), size
    return size, (int(raw_size * width / height) if raw_size is not None else int(size * width / height))


def _size_dict(size, default_to_square: bool) -> dict:
    """transformers' `get_size_dict`: an int is a square (or a shortest edge), a pair is (h, w)."""
    if size is None:
        return {}
    if isinstance(size, dict):
        return {key: int(value) for key, value in size.items() if value is not None}
    if isinstance(size, int):
        return {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return {"height": int(size[0]), "width": int(size[1])}
    raise ValueError(f"unsupported size {size!r}")


def _triple(value) -> tuple[float, float, float]:
    values = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != 3:
        raise ValueError(f"expected 3 channel values, got {value!r}")
    return values[0], values[1], values[2]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: unreadable video preprocessor config ({error})") from None


def _hub_file(repo_id: str, filename: str) -> Path | None:
    """A file of a hub checkpoint from the cache (downloaded unless offline), or None if absent."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, HFValidationError

    try:
        return Path(hf_hub_download(repo_id, filename))
    except EntryNotFoundError:
        return None
    except (HfHubHTTPError, HFValidationError, OSError) as error:
        raise ModelLoadError(f"{repo_id}: cannot fetch {filename} ({error})") from None
