"""The main model: a category-conditioned generator of STFT magnitude and phase.

Generator: ``z`` and the category weights make a style vector; a 1-D convolutional stack
over STFT frames (upsampling, then ConvNeXt-style blocks, every block modulated by the
style through FiLM) predicts log-magnitude and phase per bin, and the fixed iSTFT of
``representation.MagPhase`` turns them into audio in one pass (Vocos' head). Because the
category embedding is linear in ``cond``, mixed weights morph between categories.

Discriminator: one spectral-normalised 2-D conv net per STFT resolution over
log-magnitudes, each with a projection head (Miyato & Koyama 2018) that scores
"real and of this category"; with ``minibatch_std`` it also sees how alike a group of clips is.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from gesturegan.training.config import ModelConfig
from gesturegan.training.models.base import DataShape, Generator, ShapeError
from gesturegan.training.models.harmonic import HarmonicBranch
from gesturegan.training.representation import STFT, MagPhase, STFTConfig


class FiLMBlock(nn.Module):
    """ConvNeXt-style residual block ``[B, W, N] -> [B, W, N]`` modulated by a style ``[B, S]``."""

    def __init__(self, width: int, style_dim: int, kernel: int = 7):
        super().__init__()
        self.dw = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.norm = nn.GroupNorm(1, width, affine=False)
        self.film = nn.Linear(style_dim, 2 * width)
        self.pw1 = nn.Conv1d(width, 3 * width, 1)
        self.pw2 = nn.Conv1d(3 * width, width, 1)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(style).unsqueeze(-1).chunk(2, dim=1)
        h = self.norm(self.dw(x)) * (1 + scale) + shift
        return x + self.pw2(F.gelu(self.pw1(h)))


class Up(nn.Module):
    """Nearest upsampling x2 then a conv: ``[B, Wi, N] -> [B, Wo, 2N]``, then a FiLM block."""

    def __init__(self, w_in: int, w_out: int, style_dim: int):
        super().__init__()
        self.conv = nn.Conv1d(w_in, w_out, 5, padding=2)
        self.block = FiLMBlock(w_out, style_dim)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest")), 0.2)
        return self.block(x, style)


# The phase change is summed over hundreds of frames, so its gradient is too: scaled down, it
# does not drown the magnitude's in the shared layers (unscaled, a run's losses blew up within
# 300 steps).
CHANGE_SCALE = 1.0 / 16


class SpectralGenerator(Generator):
    """``(z [B, Z], cond [B, K]) -> audio [B, C, T]`` through log-magnitude and phase ``[B, C, F, N]``."""

    representation = "stft-mag-phase"

    def __init__(self, m: ModelConfig, shape: DataShape, family: str = "gan"):
        super().__init__(m.latent_dim, shape)
        self.family = family
        self.stft_cfg = STFTConfig(n_fft=m.n_fft, hop=m.hop)
        self.n_frames = self.stft_cfg.frames(shape.n_samples)
        # Upsample from a handful of frames; the last frame is cropped/padded afterwards.
        self.n_up = max(0, min(5, (self.n_frames // 8).bit_length() - 1))
        self.n0 = -(-(self.n_frames - 1) // 2**self.n_up)
        if self.n0 < 1:
            raise ShapeError(f"{shape.n_samples} samples give too few STFT frames at hop {m.hop}")
        self.embed = nn.Linear(shape.n_categories, m.style_dim, bias=False)
        self.style = nn.Sequential(
            nn.Linear(m.latent_dim + m.style_dim, m.style_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(m.style_dim, m.style_dim),
            nn.LeakyReLU(0.2),
        )
        self.inp = nn.Linear(m.style_dim, m.width * self.n0)
        # Full width over the first (cheap) stages, half width at the long full-rate end.
        widths = [m.width if i < 3 else max(m.width // 2, 16) for i in range(self.n_up + 1)]
        self.ups = nn.ModuleList(Up(widths[i], widths[i + 1], m.style_dim) for i in range(self.n_up))
        self.blocks = nn.ModuleList(FiLMBlock(widths[-1], m.style_dim) for _ in range(m.blocks))
        self.bins = self.stft_cfg.bins
        # Per bin: log-magnitude, phase, and with phase_integrate a phase change per frame.
        self.parts = 3 if m.phase_integrate else 2
        self.head = nn.Conv1d(widths[-1], shape.channels * self.parts * self.bins, 1)
        with torch.no_grad():  # start quiet (|S| ~ e^-5), not at full-scale noise
            self.head.weight.mul_(0.1)
            parts = self.head.bias.view(shape.channels, self.parts, self.bins)
            parts[:, 0].fill_(-5.0)
            parts[:, 1:].zero_()
            # no change until it is learned: a run that gains the part plays as before
            self.head.weight.view(shape.channels, self.parts, self.bins, -1)[:, 2:].zero_()
        self.out = MagPhase(self.stft_cfg, shape.n_samples, phase_advance=m.phase_advance)
        self.harmonic = (
            HarmonicBranch(
                widths[-1],
                shape.channels,
                m.harmonics,
                m.hop,
                shape.n_samples,
                shape.sample_rate,
                n_fft=m.n_fft,
                spectral=m.harmonic_synthesis == "spectral",
                gate=m.harmonic_gate,
                free_unpitched=m.harmonic_free_unpitched,
            )
            if m.harmonics
            else None
        )

    def features(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The network's last features ``[B, W, N]``, one column per STFT frame."""
        return self.synthesize(self.style(torch.cat([z, self.embed(cond)], dim=1)))

    def synthesize(self, style: torch.Tensor) -> torch.Tensor:
        """Style ``[B, S]`` -> features ``[B, W, N]``: the upsampling and FiLM stack."""
        x = self.inp(style).view(style.shape[0], -1, self.n0)
        for up in self.ups:
            x = up(x, style)
        for block in self.blocks:
            x = block(x, style)
        x = x[..., : self.n_frames - 1]
        return torch.cat([x, x[..., -1:]], dim=-1)  # the centred STFT has one frame more

    def head_spectra(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Features ``[B, W, N]`` -> log-magnitude, phase and phase change per frame ``[B, C, F, N]``.

        The change (``None`` without ``phase_integrate``) is scaled down by ``CHANGE_SCALE``.
        """
        y = self.head(x).view(x.shape[0], self.shape.channels, self.parts, self.bins, self.n_frames)
        change = y[:, :, 2] * CHANGE_SCALE if self.parts == 3 else None
        return y[:, :, 0], y[:, :, 1], change

    def spectra(
        self, z: torch.Tensor, cond: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Log-magnitude, phase and phase change per frame ``[B, C, F, N]`` (see ``head_spectra``)."""
        return self.head_spectra(self.features(z, cond))

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.finish(self.features(z, cond))

    def body(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.features(z, cond)

    def finish(
        self, x: torch.Tensor, cond: torch.Tensor | None = None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        # The head (phase is unbounded: half precision would cost ~0.03 rad at |p| ~ 50), exp,
        # cos/sin and the iSTFT stay in float32, under bf16 autocast and in the fp16 export.
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.render(self.head_spectra(x.float()), x.float())

    def render(
        self,
        head: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
        x: torch.Tensor,
        log2_f0: torch.Tensor | None = None,
        voiced: torch.Tensor | None = None,
        unpitched: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Audio ``[B, C, T]`` from the STFT head's ``(log_mag, phase, change)`` ``[B, C, F, N]`` and
        the harmonic branch's partials from features ``x [B, W, N]`` (at ``log2_f0 [B, C, N]`` when
        given, where ``voiced [B, C, N]`` > 0.5 if that is given; ``unpitched [B, C, N]``: see
        ``HarmonicBranch.controls``): summed as audio after the inverse transform, or with a
        spectral branch, as spectra before it."""
        if self.harmonic is None:
            return self.out(*head)
        if not self.harmonic.spectral:
            return self.out(*head) + self.harmonic(x, log2_f0, voiced, unpitched)
        real, imag = self.out.spectrum(*head)
        partials = self.harmonic.controls(self.harmonic.logits(x), log2_f0, voiced, unpitched)
        extra_real, extra_imag = self.harmonic.spectrum(*partials)
        return self.out.istft(real + extra_real, imag + extra_imag, self.out.n_samples)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "stft": self.stft_cfg.to_dict(),
            "frames": self.n_frames,
            "phase": ("deviation from each bin's rotation" if self.out.phase_advance else "absolute")
            + (", plus a change per frame summed over frames" if self.parts == 3 else ""),
            **(
                {
                    "harmonics": self.harmonic.harmonics,
                    "harmonic_synthesis": "spectral" if self.harmonic.spectral else "time",
                    "harmonic_voicing": (
                        "own f0 where unvoiced"
                        if not self.harmonic.gate
                        else "gated by the contour, own f0 in clips without a pitch"
                        if self.harmonic.free_unpitched
                        else "gated by the contour"
                    ),
                }
                if self.harmonic is not None
                else {}
            ),
        }


class LogMagnitude(nn.Module):
    """Audio ``[B, C, T]`` to ``log(|STFT| + eps)`` ``[B, C, F, N]``, scaled to about unit range."""

    def __init__(self, n_fft: int):
        super().__init__()
        self.stft = STFT(STFTConfig(n_fft=n_fft, hop=n_fft // 4))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=audio.device.type, enabled=False):
            real, imag = self.stft(audio.float())
            return (torch.log(real**2 + imag**2 + 1e-8) * 0.5 + 4.0) / 4.0


def minibatch_stddev(h: torch.Tensor, group: int) -> torch.Tensor:
    """``[B, C, F, N] -> [B, C + 1, F, N]``: one more channel, how much a group of clips differs.

    Karras et al. 2018: within each group of ``group`` clips (the largest divisor of ``B`` not
    above it; clip ``i`` is in group ``i mod (B / group)``), the standard deviation of every
    feature over the group, averaged to one number and broadcast over the group's maps.
    """
    b, _, f, n = h.shape
    g = math.gcd(group, b)
    y = h.float().view(g, b // g, *h.shape[1:])
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [B / g]
    return torch.cat([h, y.to(h.dtype).repeat(g).view(b, 1, 1, 1).expand(b, 1, f, n)], dim=1)


class SpecDisc(nn.Module):
    """One resolution: log-magnitude ``[B, C, F, N]`` -> score ``[B]`` with a projection on ``cond``."""

    def __init__(self, channels: int, n_categories: int, n_fft: int, width: int, minibatch_std: int = 0):
        super().__init__()
        self.logmag = LogMagnitude(n_fft)
        chans = [channels, width, 2 * width, 4 * width, 8 * width, 8 * width]
        layers: list[nn.Module] = []
        for i in range(len(chans) - 1):
            layers += [
                spectral_norm(nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            ]
        self.convs = nn.Sequential(*layers)
        self.minibatch_std = minibatch_std
        if minibatch_std:  # the extra channel goes through one more conv before pooling
            self.std_conv = spectral_norm(nn.Conv2d(chans[-1] + 1, chans[-1], 3, padding=1))
        self.linear = spectral_norm(nn.Linear(chans[-1], 1))
        self.project = spectral_norm(nn.Linear(n_categories, chans[-1], bias=False))
        # Channels-last: oneDNN's kernels for these few-channel 2-D convs skip the reorders to and
        # from its blocked layout that the default layout costs, mostly in the backward pass
        # (docs/benchmarks/train-channels-last.md).
        self.to(memory_format=torch.channels_last)

    def trunk(self, spec: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Pooled features ``[B, W]`` and every hidden activation (for feature matching)."""
        h, feats = spec.contiguous(memory_format=torch.channels_last), []
        for layer in self.convs:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(h)
        if self.minibatch_std:
            h = F.leaky_relu(self.std_conv(minibatch_stddev(h, self.minibatch_std)), 0.2)
            feats.append(h)
        return h.sum(dim=(2, 3)), feats

    def head(self, pooled: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[B, W]`` and ``cond [B, K]`` -> score ``[B]`` (projection discriminator)."""
        return self.linear(pooled).squeeze(1) + (self.project(cond) * pooled).sum(dim=1)

    def score(self, spec: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(spec)[0], cond)

    def forward(self, audio: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.score(self.logmag(audio), cond)


class SpectralDiscriminator(nn.Module):
    """Sum of ``SpecDisc`` scores over ``d_resolutions``: ``(audio [B, C, T], cond [B, K]) -> [B]``."""

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__()
        self.discs = nn.ModuleList(
            SpecDisc(shape.channels, shape.n_categories, n, m.d_width, m.minibatch_std)
            for n in m.d_resolutions
        )

    def forward(
        self, audio: torch.Tensor, cond: torch.Tensor, r1: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Score ``[B]``; with ``r1`` also the log-magnitudes ``[B, C, F, N]`` it was computed from.

        R1 is taken with respect to those spectra, not the waveform: through the log, the
        gradient at near-silent bins would be enormous and the penalty would flatten D.
        """
        if not r1:
            return sum(d(audio, cond) for d in self.discs)
        specs = [d.logmag(audio).detach().requires_grad_(True) for d in self.discs]
        return sum(d.score(s, cond) for d, s in zip(self.discs, specs, strict=True)), specs
