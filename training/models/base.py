"""What every generator shares: the data shape it makes and the ``(z, cond) -> audio`` call."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class ShapeError(ValueError):
    """The dataset's shape does not fit the architecture (the message says what would)."""


@dataclass(frozen=True)
class DataShape:
    """What the dataset holds: ``n_categories`` classes of ``[channels, n_samples]`` clips."""

    n_categories: int
    channels: int
    n_samples: int
    sample_rate: int


class Generator(nn.Module):
    """``forward(z [B, Z], cond [B, K]) -> audio [B, C, T]``; ``cond`` rows are category weights."""

    family: str = ""
    representation: str = ""

    def __init__(self, latent_dim: int, shape: DataShape):
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = shape

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def body(self, z: torch.Tensor, cond: torch.Tensor):
        """The network part (safe in half precision); ``finish`` turns its output into audio."""
        return self(z, cond)

    def finish(self, x, cond: torch.Tensor | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        """The numerically fragile part (exp, phase, inverse transform), always float32; ``cond``
        and ``z`` for a family whose finish depends on them (the two-stage postfilter and the
        f0 contour its prior draws)."""
        return x.float()

    def describe(self) -> dict:
        """Facts for the model's metadata (representation constants and so on)."""
        return {"family": self.family, "representation": self.representation}
