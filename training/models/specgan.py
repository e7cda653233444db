"""SpecGAN baseline (Donahue et al. 2019), categorical: what the project's seed trained.

The generator makes a normalised log-magnitude image with 2-D transposed convolutions;
per-bin mean and standard deviation of the training data (stored as buffers, so they
travel with the model) bring it back to log-magnitude, and Griffin-Lim, unrolled for a
fixed number of iterations with the same fixed STFT/iSTFT convolutions, guesses the phase.
The critic is a WGAN-GP critic with an auxiliary classifier head (AC-GAN). Griffin-Lim
lives here and only here: it is the baseline's known weakness (phasiness).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.config import ModelConfig
from gesturegan.training.models.base import DataShape, Generator, ShapeError
from gesturegan.training.representation import ISTFT, LOG_FLOOR, STFT, STFTConfig


def _image_size(m: ModelConfig, shape: DataShape) -> tuple[int, int]:
    """The generated image ``(bins - 1, frames - 1)``; both must be powers of two >= 8."""
    f, n = m.n_fft // 2, shape.n_samples // m.hop
    if n < 8 or n & (n - 1) or shape.n_samples % m.hop:
        raise ShapeError(
            f"specgan needs n_samples / hop to be a power of two >= 8; {shape.n_samples} / {m.hop} is not"
        )
    return f, n


class SpecGANGenerator(Generator):
    """``(z, cond) -> audio [B, C, T]``; ``spectra`` gives the normalised log-magnitude ``[B, C, F-1, N-1]``."""

    family = "specgan"
    representation = "log-magnitude+griffin-lim"

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__(m.latent_dim, shape)
        self.stft_cfg = STFTConfig(n_fft=m.n_fft, hop=m.hop)
        self.f, self.n = _image_size(m, shape)
        self.iters = m.griffin_lim_iters
        layers = int(math.log2(max(self.f, self.n) // 4))
        self.f0, self.n0 = max(self.f >> layers, 1), max(self.n >> layers, 1)
        w = m.width
        self.inp = nn.Linear(m.latent_dim + shape.n_categories, w * self.f0 * self.n0)
        convs = []
        fi, ni = self.f0, self.n0
        for i in range(layers):
            sf, sn = (2 if fi < self.f else 1), (2 if ni < self.n else 1)
            wo = shape.channels if i == layers - 1 else max(w // 2, 8)
            convs.append(
                nn.ConvTranspose2d(w, wo, (4 if sf == 2 else 3, 4 if sn == 2 else 3), (sf, sn), padding=1)
            )
            fi, ni, w = fi * sf, ni * sn, wo
        self.convs = nn.ModuleList(convs)
        bins, frames = self.stft_cfg.bins, self.stft_cfg.frames(shape.n_samples)
        self.register_buffer("mean", torch.zeros(shape.channels, bins, 1))
        self.register_buffer("std", torch.ones(shape.channels, bins, 1))
        # Griffin-Lim starts from a fixed random phase, stored so the graph is deterministic.
        g = torch.Generator().manual_seed(0)
        self.register_buffer("phase0", 2 * math.pi * torch.rand(shape.channels, bins, frames, generator=g))
        self.stft, self.istft = STFT(self.stft_cfg), ISTFT(self.stft_cfg)

    def set_normalisation(self, log_mag: torch.Tensor) -> None:
        """Per-bin statistics of real log-magnitudes ``[B, C, F, N]`` (set once from the dataset)."""
        self.mean.copy_(log_mag.mean(dim=(0, 3)).unsqueeze(-1))
        self.std.copy_(log_mag.std(dim=(0, 3)).clamp_min(1e-3).unsqueeze(-1))

    def normalise(self, log_mag: torch.Tensor) -> torch.Tensor:
        """Real log-magnitude ``[B, C, F, N]`` -> the generator's image ``[B, C, F-1, N-1]`` in about [-1, 1]."""
        x = (log_mag - self.mean) / (3 * self.std)
        return x[..., : self.f, : self.n].clamp(-1, 1)

    def spectra(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.inp(torch.cat([z, cond], dim=1)).view(z.shape[0], -1, self.f0, self.n0)
        for i, conv in enumerate(self.convs):
            x = conv(F.relu(x) if i else x)
        return torch.tanh(x)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.finish(self.spectra(z, cond))

    def body(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.spectra(z, cond)

    def finish(
        self, img: torch.Tensor, cond: torch.Tensor | None = None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Normalised image ``[B, C, F-1, N-1]`` -> magnitude -> Griffin-Lim -> audio ``[B, C, T]``."""
        img = F.pad(img.float(), (0, 1, 0, 1), mode="replicate")  # back to F bins and N frames
        mag = torch.exp(img * 3 * self.std + self.mean)
        phase = self.phase0.expand(img.shape[0], -1, -1, -1)
        real, imag = mag * torch.cos(phase), mag * torch.sin(phase)
        for _ in range(self.iters):
            audio = self.istft(real, imag, self.shape.n_samples)
            re, im = self.stft(audio)
            norm = torch.sqrt(re**2 + im**2).clamp_min(LOG_FLOOR)
            real, imag = mag * re / norm, mag * im / norm
        return self.istft(real, imag, self.shape.n_samples)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "stft": self.stft_cfg.to_dict(),
            "griffin_lim": {"iterations": self.iters, "in_graph": True},
        }


class SpectraView(nn.Module):
    """Training view of the generator: ``forward`` is ``spectra`` (no Griffin-Lim), so DDP can wrap it."""

    def __init__(self, generator: SpecGANGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.generator.spectra(z, cond)


class SpecGANCritic(nn.Module):
    """Normalised log-magnitude ``[B, C, F-1, N-1]`` -> (critic score ``[B]``, class logits ``[B, K]``)."""

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__()
        f, n = _image_size(m, shape)
        layers = int(math.log2(max(f, n) // 4))
        chans = [shape.channels] + [min(m.d_width * 2**i, 16 * m.d_width) for i in range(layers)]
        convs = []
        fi, ni = f, n
        for i in range(layers):
            sf, sn = (2 if fi > 4 else 1), (2 if ni > 4 else 1)
            convs.append(nn.Conv2d(chans[i], chans[i + 1], 4 if sf * sn > 1 else 3, (sf, sn), padding=1))
            fi, ni = max(fi // sf, 1), max(ni // sn, 1)
        self.convs = nn.ModuleList(convs)
        self.flat = chans[-1] * fi * ni
        self.score = nn.Linear(self.flat, 1)
        self.classes = nn.Linear(self.flat, shape.n_categories)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        x = x.flatten(1)
        return self.score(x).squeeze(1), self.classes(x)
