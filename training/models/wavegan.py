"""WaveGAN baseline (Donahue et al. 2019) on raw waveforms, categorical via an AC head.

Generator: transposed 1-D convolutions (kernel 25, stride 4) from a short, wide tensor to
the waveform, ``tanh`` out. Critic: strided 1-D convolutions with phase shuffle (random
shifts of ±n samples between layers, so it cannot key on the generator's checkerboard
artefacts), a WGAN-GP score and class logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.config import ModelConfig
from gesturegan.training.models.base import DataShape, Generator, ShapeError


def _stages(n_samples: int) -> int:
    """Stride-4 stages such that ``n_samples / 4**stages`` is a whole number of at least 4."""
    for stages in range(6, 0, -1):
        if n_samples % 4**stages == 0 and n_samples // 4**stages >= 4:
            return stages
    raise ShapeError(f"wavegan needs n_samples divisible by 16, not {n_samples}")


class WaveGANGenerator(Generator):
    family = "wavegan"
    representation = "waveform"

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__(m.latent_dim, shape)
        self.stages = _stages(shape.n_samples)
        self.n0 = shape.n_samples // 4**self.stages
        w = m.width
        self.inp = nn.Linear(m.latent_dim + shape.n_categories, w * self.n0)
        widths = [max(w // 2**i, 8) for i in range(self.stages)] + [shape.channels]
        self.convs = nn.ModuleList(
            nn.ConvTranspose1d(widths[i], widths[i + 1], 25, stride=4, padding=11, output_padding=1)
            for i in range(self.stages)
        )

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.inp(torch.cat([z, cond], dim=1)).view(z.shape[0], -1, self.n0)
        for conv in self.convs:
            x = conv(F.relu(x))
        return torch.tanh(x)


def phase_shuffle(x: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each example of ``x [B, C, T]`` by a random ``-n..n`` samples, reflecting at the edges."""
    if n == 0:
        return x
    shifts = torch.randint(-n, n + 1, (x.shape[0],), generator=generator).tolist()
    padded = F.pad(x, (n, n), mode="reflect")
    t = x.shape[-1]
    return torch.stack([padded[i, :, n - s : n - s + t] for i, s in enumerate(shifts)])


class WaveGANCritic(nn.Module):
    """``audio [B, C, T] -> (score [B], class logits [B, K])``."""

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__()
        stages = _stages(shape.n_samples)
        widths = [shape.channels] + [min(m.d_width * 2**i, 16 * m.d_width) for i in range(stages)]
        self.convs = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], 25, stride=4, padding=11) for i in range(stages)
        )
        self.shuffle = m.phase_shuffle
        self.generator: torch.Generator | None = None  # set by the loop, for reproducible resumes
        flat = widths[-1] * (shape.n_samples // 4**stages)
        self.score = nn.Linear(flat, 1)
        self.classes = nn.Linear(flat, shape.n_categories)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if i < len(self.convs) - 1:
                x = phase_shuffle(x, self.shuffle, self.generator)
        x = x.flatten(1)
        return self.score(x).squeeze(1), self.classes(x)
