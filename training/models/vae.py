"""The conditional VAE's encoder; its decoder is the main model's ``SpectralGenerator``.

The encoder reads log-magnitudes of a real sound and its category weights and returns the
posterior ``mu, logvar [B, Z]``, so a performer can place a real sound in the latent space
(exported beside the decoder).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.config import ModelConfig
from gesturegan.training.models.base import DataShape
from gesturegan.training.models.gan import LogMagnitude


class Encoder(nn.Module):
    """``(audio [B, C, T], cond [B, K]) -> (mu [B, Z], logvar [B, Z])``."""

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__()
        self.logmag = LogMagnitude(m.n_fft)
        bins = m.n_fft // 2 + 1
        w = max(m.d_width * 4, 32)
        self.inp = nn.Conv1d(shape.channels * bins, w, 1)
        self.downs = nn.ModuleList(nn.Conv1d(w, w, 4, stride=2, padding=1) for _ in range(4))
        self.embed = nn.Linear(shape.n_categories, w, bias=False)
        self.out = nn.Linear(2 * w, 2 * m.latent_dim)

    def forward(self, audio: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.logmag(audio)  # [B, C, F, N]
        x = F.leaky_relu(self.inp(x.flatten(1, 2)), 0.2)
        for down in self.downs:
            x = F.leaky_relu(down(x), 0.2)
        h = torch.cat([x.mean(dim=2), self.embed(cond)], dim=1)
        mu, logvar = self.out(h).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)
