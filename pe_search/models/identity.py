"""What identifies the model that built a library: vectors from two different models share no space.

Identity is the content hashes and the dimension; the model ids (a hub id or a local directory) are
kept for messages, since the same weights can be reached under more than one name. A library
recorded by an older release may hold an older form of the weights hash: a loaded model says
which older forms its weights had (`former_weights`), and those are the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelIdentity:
    """The model that writes a library's vectors.

    `calibration` maps a space name to its (logit scale, logit bias), the model's own score
    calibration: probability = sigmoid(dot * scale + bias).
    """

    model_ids: tuple[str, ...]
    config_hash: str
    weights_hash: str
    dim: int
    calibration: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # The older forms of `weights_hash` for these weights, computed only when asked (they may
    # read the weights); not part of what is recorded or compared.
    former_weights: Callable[[], Iterable[str]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_ids", tuple(self.model_ids))
        pairs = {name: (float(scale), float(bias)) for name, (scale, bias) in self.calibration.items()}
        object.__setattr__(self, "calibration", pairs)
        if self.dim <= 0:
            raise ValueError(f"dimension must be positive, got {self.dim}")

    def difference(self, other: ModelIdentity) -> str | None:
        """A short description of how `other` differs from this one, or None when it is the same model."""
        ours, theirs = ", ".join(self.model_ids), ", ".join(other.model_ids)
        if self.dim != other.dim:
            return f"library: {ours}, {self.dim}-d vectors; given: {theirs}, {other.dim}-d"
        if not self.same_weights(other):
            return f"library: {ours}, weights {self.weights_hash[:12]}; given: {theirs}, weights {other.weights_hash[:12]}"
        if self.config_hash != other.config_hash:
            return f"library: {ours}, config {self.config_hash[:12]}; given: {theirs}, config {other.config_hash[:12]}"
        return None

    def same_weights(self, other: ModelIdentity) -> bool:
        """Whether the two hold the same weights, either one's hash possibly in an older form."""
        if self.weights_hash == other.weights_hash:
            return True
        return any(
            theirs is not None and ours.weights_hash in theirs()
            for ours, theirs in ((self, other.former_weights), (other, self.former_weights))
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model_ids": list(self.model_ids),
            "config_hash": self.config_hash,
            "weights_hash": self.weights_hash,
            "dim": self.dim,
            "calibration": {name: list(pair) for name, pair in self.calibration.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelIdentity:
        return cls(
            model_ids=tuple(data["model_ids"]),
            config_hash=data["config_hash"],
            weights_hash=data["weights_hash"],
            dim=int(data["dim"]),
            calibration={name: tuple(pair) for name, pair in data.get("calibration", {}).items()},
        )
