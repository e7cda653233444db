"""A harmonic branch beside the STFT head: one f0 per frame and its first partials, as sines.

A decoder that draws log-magnitudes by regression smears a partial over its bins and fills the
valleys between partials with noise, so drones come out several times flatter than the clips
(docs/evaluation/bakeoff.md). DDSP's harmonic synthesizer (Engel et al. 2020) cannot smear: it
plays sines at integer multiples of an f0. Here it sits beside the STFT head, which keeps the
noise, the attacks and any partial that is not harmonic; the branch's audio is added to the
head's. Its f0 is taught from pYIN's track of the clips (``training/pitch.py``); its amplitudes
learn from the same reconstruction and adversarial losses as the head.

Cost: one sine per harmonic per sample. The phase is integrated in closed form per hop (f0 is
linear between frames, so the phase is quadratic), which needs a cumulative sum over frames
only, not over 65,536 samples: exact in float32, and the same in onnxruntime as in torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.pitch import F0_MAX_HZ, F0_MIN_HZ


def exp_sigmoid(x: torch.Tensor, exponent: float = math.log(10.0), max_value: float = 2.0) -> torch.Tensor:
    """DDSP's amplitude nonlinearity: positive, smooth over decades, bounded by ``max_value``."""
    return max_value * torch.sigmoid(x) ** exponent + 1e-7


class HarmonicBranch(nn.Module):
    """Features ``[B, W, N]`` -> audio ``[B, C, T]``: per channel, ``H`` harmonics of one f0 per frame.

    ``N`` frames sit at samples ``0, hop, ..., (N - 1) hop`` (the centred STFT's frames);
    between two frames f0 and every amplitude move linearly.
    """

    def __init__(self, width: int, channels: int, harmonics: int, hop: int, n_samples: int, sample_rate: int):
        super().__init__()
        self.channels, self.harmonics, self.hop = channels, harmonics, hop
        self.n_samples, self.sample_rate = n_samples, sample_rate
        # per channel: f0, loudness, and the distribution over harmonics. Two layers, with a
        # frame either side: where the partials sit is spread over many features (the STFT head
        # reads them per bin), which one linear map does not turn into one f0 (a linear readout
        # was still an octave off after 400 steps).
        self.proj = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1),
            nn.GELU(),
            nn.Conv1d(width, channels * (2 + harmonics), 1),
        )
        last = self.proj[-1]
        with torch.no_grad():
            last.weight.mul_(0.1)
            weight = last.weight.view(channels, 2 + harmonics, width)
            # f0 and loudness start the same in every frame (about 240 Hz, -46 dB): a branch added
            # to a trained decoder must not play random partials over it until it has learnt them
            weight[:, :2].zero_()
            bias = last.bias.view(channels, 2 + harmonics)
            bias.zero_()
            bias[:, 1].fill_(-2.5)
        self.register_buffer(
            "numbers",
            torch.arange(1, harmonics + 1, dtype=torch.float32).view(1, 1, 1, 1, -1),
            persistent=False,
        )
        self.register_buffer("ramp", torch.arange(hop, dtype=torch.float32) / hop, persistent=False)  # [hop]
        self.log2_min, self.log2_range = math.log2(F0_MIN_HZ), math.log2(F0_MAX_HZ / F0_MIN_HZ)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``[B, W, N]`` -> per channel f0, loudness and harmonic logits ``[B, C, 2 + H, N]``."""
        return self.proj(x).view(x.shape[0], self.channels, 2 + self.harmonics, x.shape[-1])

    def controls(
        self, logits: torch.Tensor, log2_f0: torch.Tensor | None = None, voiced: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``logits [B, C, 2 + H, N]`` -> ``log2 f0 [B, C, N]`` and harmonic amplitudes
        ``[B, C, H, N]`` (0 at and above Nyquist). ``log2_f0`` given plays that f0 instead; with
        ``voiced [B, C, N]`` too, only in frames where it is above 0.5 (the branch's own elsewhere)."""
        if log2_f0 is None or voiced is not None:
            own = self.log2_min + self.log2_range * torch.sigmoid(logits[:, :, 0])
            log2_f0 = own if log2_f0 is None else torch.where(voiced > 0.5, log2_f0, own)
        loudness = exp_sigmoid(logits[:, :, 1:2])  # [B, C, 1, N]
        f0 = torch.pow(2.0, log2_f0).unsqueeze(2)  # [B, C, 1, N]
        audible = (f0 * self.numbers.view(1, 1, -1, 1) < self.sample_rate / 2).to(logits.dtype)
        weights = torch.softmax(logits[:, :, 2:], dim=2) * audible
        weights = weights / (weights.sum(dim=2, keepdim=True) + 1e-7)
        return log2_f0, loudness * weights

    def log2_f0(self, x: torch.Tensor) -> torch.Tensor:
        """``log2 f0 [B, C, N]`` from features ``[B, W, N]`` alone, for the pitch loss."""
        return self.log2_min + self.log2_range * torch.sigmoid(self.logits(x)[:, :, 0])

    def forward(
        self, x: torch.Tensor, log2_f0: torch.Tensor | None = None, voiced: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Features ``x [B, W, N]`` -> audio; ``log2_f0 [B, C, N]`` given (a tracked or a drawn
        contour), the partials sit there instead of at the branch's own f0 (only where
        ``voiced [B, C, N]`` > 0.5, when given)."""
        return self.synthesize(*self.controls(self.logits(x), log2_f0, voiced))

    def synthesize(self, log2_f0: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
        """``log2 f0 [B, C, N]`` and amplitudes ``[B, C, H, N]`` -> audio ``[B, C, T]``."""
        b, c, n = log2_f0.shape
        hop, segments = self.hop, n - 1
        cycles_per_sample = torch.pow(2.0, log2_f0) / self.sample_rate  # [B, C, N]
        start, end = cycles_per_sample[..., :-1], cycles_per_sample[..., 1:]  # [B, C, N - 1]
        # each segment's cycles (f0 moves linearly across it), wrapped before the sum over frames
        per_segment = 0.5 * hop * (start + end)
        per_segment = per_segment - torch.floor(per_segment)
        before = torch.cumsum(per_segment, dim=-1) - per_segment  # cycles at each segment's start
        before = before - torch.floor(before)
        j = self.ramp * hop  # [hop]: samples into the segment
        within = start.unsqueeze(-1) * j + (end - start).unsqueeze(-1) * (j * j / (2 * hop))
        theta = (2 * math.pi) * (before.unsqueeze(-1) + within)  # [B, C, N - 1, hop]
        # Partial h's sine from the two below it (sin(h t) = 2 cos(t) sin((h-1) t) - sin((h-2) t)),
        # summed as it goes: two transcendental calls per sample instead of H, and no [.., hop, H]
        # tensor; in onnxruntime the branch costs about half as much, within 1e-6 of H sines.
        left = amplitudes[..., :-1].unsqueeze(-1)  # [B, C, H, N - 1, 1]: each segment's start
        right = amplitudes[..., 1:].unsqueeze(-1)  # and end
        sine, twice_cos = torch.sin(theta), 2 * torch.cos(theta)
        below = torch.zeros_like(sine)
        at_left, at_right = left[:, :, 0] * sine, right[:, :, 0] * sine  # [B, C, N - 1, hop]
        for h in range(1, self.harmonics):
            below, sine = sine, twice_cos * sine - below
            at_left = at_left + left[:, :, h] * sine
            at_right = at_right + right[:, :, h] * sine
        audio = (at_left + self.ramp * (at_right - at_left)).reshape(b, c, segments * hop)
        # a clip that is not a whole number of hops ends with less than a hop of silence here
        return F.pad(audio, (0, self.n_samples - segments * hop))


def pitch_loss(log2_f0: torch.Tensor, target_hz: torch.Tensor, voiced: torch.Tensor) -> torch.Tensor:
    """Mean octave error of ``log2_f0 [B, C, N]`` against a tracked ``target_hz [B, C, N]``,
    weighted by the track's voicing probability (frames without a pitch count for nothing)."""
    weight = voiced * (target_hz > 0).to(voiced.dtype)
    error = (log2_f0 - torch.log2(target_hz.clamp_min(F0_MIN_HZ))).abs()
    return (weight * error).sum() / weight.sum().clamp_min(1.0)
