"""Losses and regularisers shared by the families' training steps."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.representation import STFT, STFTConfig


def diff_augment(x: torch.Tensor, generator: torch.Generator, p: float = 1.0) -> torch.Tensor:
    """Differentiable augmentation of ``x [B, C, T]`` for the discriminator (real and fake alike).

    Random gain (±6 dB), a small circular time shift (±T/16) and a cutout of T/8: the
    discriminator of a small dataset cannot memorise exact clips, and gradients still reach
    the generator through every operation. With ``p < 1`` (adaptive augmentation) each of the
    three is applied to each clip with probability ``p``, so that at small ``p`` the
    discriminator mostly sees clips as they are and nothing leaks into the generator.
    """
    b, _, t = x.shape
    if p < 1.0:
        gate = (torch.rand(3, b, generator=generator) < p).to(x.dtype)
    gain_db = torch.rand(b, generator=generator) * 12 - 6
    if p < 1.0:
        gain_db = gain_db * gate[0]
    x = x * (10 ** (gain_db / 20)).view(b, 1, 1).to(x.device)
    limit = max(t // 16, 1)
    shifts = torch.randint(-limit, limit + 1, (b,), generator=generator)
    if p < 1.0:
        shifts = shifts * gate[1].long()
    x = torch.stack([torch.roll(x[i], s, dims=-1) for i, s in enumerate(shifts.tolist())])
    width = max(t // 8, 1)
    start = torch.randint(0, t - width + 1, (b, 1, 1), generator=generator).to(x.device)
    pos = torch.arange(t, device=x.device).view(1, 1, t)
    cut = ((pos >= start) & (pos < start + width)).to(x.dtype)
    if p < 1.0:
        cut = cut * gate[2].view(b, 1, 1).to(x.device)
    return x * (1 - cut)


def mode_seeking(
    spectra: torch.Tensor, z: torch.Tensor, cap: float = 0.0, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mao et al. 2019's term for pairs: the first half of the batch against the second.

    ``spectra [2P, ...]`` are what the generator made from ``z [2P, Z]``, where clip ``i`` and
    clip ``P + i`` share a category. Returns the loss ``1 / (ratio + eps)`` (to minimise) and
    the ratio itself: mean distance between the pairs' outputs over the mean distance between
    their latents. A collapsed generator has a ratio near 0 and a large loss. With ``cap > 0``
    the ratio counts only up to ``cap`` (Yang et al. 2019's bound): a generator as varied as
    the corpus is not pushed further, where the latent would drown out the category.
    """
    half = spectra.shape[0] // 2
    apart = (spectra[:half] - spectra[half : 2 * half]).abs().mean()
    ratio = apart / (z[:half] - z[half : 2 * half]).abs().mean()
    counted = ratio.clamp(max=cap) if cap > 0 else ratio
    return 1.0 / (counted + eps), ratio


def r1_penalty(score: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
    """Squared gradient norm of the discriminator's scores at real inputs (each requires grad)."""
    grads = torch.autograd.grad(score.sum(), inputs, create_graph=True)
    return sum(g.pow(2).flatten(1).sum(1).mean() for g in grads)


def gradient_penalty(
    critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """WGAN-GP: ``(|grad critic(mix)| - 1)^2`` on random mixes of real and fake (same shape)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator).to(real.device)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score = critic(mix)[0]
    (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 over several STFT sizes: ``(x, y [B, C, T]) -> scalar``."""

    def __init__(self, sizes: tuple[int, ...] = (512, 1024, 2048)):
        super().__init__()
        self.stfts = nn.ModuleList(STFT(STFTConfig(n_fft=n, hop=n // 4)) for n in sizes)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(())
        for stft in self.stfts:
            mx = torch.sqrt(sum(p**2 for p in stft(x.float())) + 1e-9)
            my = torch.sqrt(sum(p**2 for p in stft(y.float())) + 1e-9)
            sc = torch.linalg.norm((my - mx).flatten(1), dim=1) / torch.linalg.norm(
                my.flatten(1), dim=1
            ).clamp_min(1e-6)
            total = total + sc.mean() + F.l1_loss(torch.log(mx), torch.log(my))
        return total / len(self.stfts)
