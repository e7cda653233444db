"""A harmonic branch beside the STFT head: one f0 per frame and its first partials, as sines.

A decoder that draws log-magnitudes by regression smears a partial over its bins and fills the
valleys between partials with noise, so drones come out several times flatter than the clips
(docs/evaluation/bakeoff.md). DDSP's harmonic synthesizer (Engel et al. 2020) cannot smear: it
plays sines at integer multiples of an f0. Here it sits beside the STFT head, which keeps the
noise, the attacks and any partial that is not harmonic; the branch's audio is added to the
head's. Its f0 is taught from pYIN's track of the clips (``training/pitch.py``); its amplitudes
learn from the same reconstruction and adversarial losses as the head.

Cost: one sine and one cosine per sample, and three multiply-adds per harmonic (Clenshaw). The phase is integrated in closed form per hop (f0 is
linear between frames, so the phase is quadratic), which needs a cumulative sum over frames
only, not over 65,536 samples: exact in float32, and the same in onnxruntime as in torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.pitch import F0_MAX_HZ, F0_MIN_HZ

# How much a held pitch (in an unvoiced frame) counts against a voiced one when contours mix
HELD_WEIGHT = 1e-3
KERNEL_REACH = 2  # bins either side of a partial written by ``HarmonicBranch.spectrum``: Hann's main lobe


def exp_sigmoid(x: torch.Tensor, exponent: float = math.log(10.0), max_value: float = 2.0) -> torch.Tensor:
    """DDSP's amplitude nonlinearity: positive, smooth over decades, bounded by ``max_value``."""
    return max_value * torch.sigmoid(x) ** exponent + 1e-7


class HarmonicBranch(nn.Module):
    """Features ``[B, W, N]`` -> audio ``[B, C, T]``: per channel, ``H`` harmonics of one f0 per frame.

    ``N`` frames sit at samples ``0, hop, ..., (N - 1) hop`` (the centred STFT's frames);
    between two frames f0 and every amplitude move linearly.
    """

    def __init__(
        self,
        width: int,
        channels: int,
        harmonics: int,
        hop: int,
        n_samples: int,
        sample_rate: int,
        n_fft: int = 1024,
        spectral: bool = False,
        gate: bool = False,
        free_unpitched: bool = False,
    ):
        super().__init__()
        self.channels, self.harmonics, self.hop = channels, harmonics, hop
        self.n_samples, self.sample_rate, self.n_fft = n_samples, sample_rate, n_fft
        # ``spectral``: the decoder adds ``spectrum()`` to its STFT head's spectrum before the
        # inverse transform instead of adding ``forward()``'s audio after it (see ``spectrum``)
        self.spectral = spectral
        # ``gate``: given a contour, the partials sound only where it is voiced (amplitudes times
        # its voicing), always at its f0, which holds the nearest voiced frame's pitch between
        # voiced frames (``pitch.hold_pitch``). Without it, unvoiced frames play the branch's own
        # f0, which wanders: tonal partials where pYIN heard none, and pitch jumps at each voicing
        # change (docs/evaluation/bakeoff.md, stops 30 to 32).
        self.gate = gate
        # ``free_unpitched`` (with ``gate``): where ``controls`` is told the contour comes from a
        # clip in which pYIN heard no pitch, the branch plays its own f0, ungated, as without the
        # gate: drum bodies and chords are tonal, but pYIN hears no single pitch in them.
        self.free_unpitched = free_unpitched
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
        self.register_buffer(
            "offsets",
            torch.arange(1 - KERNEL_REACH, KERNEL_REACH + 1, dtype=torch.float32).view(1, 1, -1, 1),
            persistent=False,
        )  # [1, 1, D, 1]: the bins around a partial that its spectrum is written into
        self.log2_min, self.log2_range = math.log2(F0_MIN_HZ), math.log2(F0_MAX_HZ / F0_MIN_HZ)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``[B, W, N]`` -> per channel f0, loudness and harmonic logits ``[B, C, 2 + H, N]``."""
        return self.proj(x).view(x.shape[0], self.channels, 2 + self.harmonics, x.shape[-1])

    def controls(
        self,
        logits: torch.Tensor,
        log2_f0: torch.Tensor | None = None,
        voiced: torch.Tensor | None = None,
        unpitched: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``logits [B, C, 2 + H, N]`` -> ``log2 f0 [B, C, N]`` and harmonic amplitudes
        ``[B, C, H, N]`` (0 at and above Nyquist). ``log2_f0`` given plays that f0 instead; with
        ``voiced [B, C, N]`` too, only in frames where it is above 0.5 (the branch's own elsewhere),
        or, with ``gate``, everywhere, the amplitudes scaled by ``voiced``.

        ``unpitched [B, C, N]`` (with ``gate`` and ``free_unpitched``): the share of the contour
        that comes from clips without any pitch (``unpitched_share``). That share plays ungated
        (it adds to the gate) and pulls f0 towards the branch's own, geometrically: a clip
        without a pitch plays exactly as an ungated branch would, and a morph from one to a
        pitched clip glides between the two, without a jump."""
        gated = self.gate and log2_f0 is not None and voiced is not None
        free = gated and self.free_unpitched and unpitched is not None
        if log2_f0 is None or (voiced is not None and not gated) or free:
            own = self.log2_min + self.log2_range * torch.sigmoid(logits[:, :, 0])
            if log2_f0 is None:
                log2_f0 = own
            elif free:
                # no clip of the contour has a pitch here (log2 f0 0): the branch's own. Detached,
                # as the ungated branch's own f0 is in training (``AutoencoderView``): it learns
                # from the pitch loss alone. The synthesis's gradient reaches f0 through the phase
                # of every later frame, and blew a run up within 750 steps (stop 34).
                own = own.detach()
                log2_f0 = torch.where(log2_f0 > 0, torch.lerp(log2_f0, own, unpitched), own)
            else:
                log2_f0 = torch.where(voiced > 0.5, log2_f0, own)
        loudness = exp_sigmoid(logits[:, :, 1:2])  # [B, C, 1, N]
        if gated:
            gate = (voiced + unpitched).clamp(max=1.0) if free else voiced
            loudness = loudness * gate.unsqueeze(2)
        f0 = torch.pow(2.0, log2_f0).unsqueeze(2)  # [B, C, 1, N]
        audible = (f0 * self.numbers.view(1, 1, -1, 1) < self.sample_rate / 2).to(logits.dtype)
        weights = torch.softmax(logits[:, :, 2:], dim=2) * audible
        weights = weights / (weights.sum(dim=2, keepdim=True) + 1e-7)
        return log2_f0, loudness * weights

    def log2_f0(self, x: torch.Tensor) -> torch.Tensor:
        """``log2 f0 [B, C, N]`` from features ``[B, W, N]`` alone, for the pitch loss."""
        return self.log2_min + self.log2_range * torch.sigmoid(self.logits(x)[:, :, 0])

    def forward(
        self,
        x: torch.Tensor,
        log2_f0: torch.Tensor | None = None,
        voiced: torch.Tensor | None = None,
        unpitched: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features ``x [B, W, N]`` -> audio; ``log2_f0 [B, C, N]`` given (a tracked or a drawn
        contour), the partials sit there instead of at the branch's own f0 (only where
        ``voiced [B, C, N]`` > 0.5, when given; ``unpitched``: see ``controls``)."""
        return self.synthesize(*self.controls(self.logits(x), log2_f0, voiced, unpitched))

    def cycles(self, log2_f0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log2 f0 [B, C, N]`` -> f0 in cycles per sample, and the fundamental's phase at each
        frame in cycles (wrapped to [0, 1)), each ``[B, C, N]``. Between frames f0 moves linearly,
        so a segment holds ``hop * (start + end) / 2`` cycles; each is wrapped before the sum
        over frames, which keeps the phase exact in float32."""
        cycles_per_sample = torch.pow(2.0, log2_f0) / self.sample_rate
        per_segment = 0.5 * self.hop * (cycles_per_sample[..., :-1] + cycles_per_sample[..., 1:])
        per_segment = per_segment - torch.floor(per_segment)
        after = torch.cumsum(per_segment, dim=-1)
        phase = torch.cat([torch.zeros_like(after[..., :1]), after - torch.floor(after)], dim=-1)
        return cycles_per_sample, phase

    def spectrum(self, log2_f0: torch.Tensor, amplitudes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log2 f0 [B, C, N]`` and amplitudes ``[B, C, H, N]`` -> the partials' centred,
        Hann-windowed STFT ``(real, imag)``, each ``[B, C, F, N]`` with ``F = n_fft / 2 + 1``.

        FFT^-1 additive synthesis (Rodet and Depalle 1992): in each frame a partial is a steady
        sine at its frame's frequency and phase, whose windowed spectrum is the window's transform
        ``K`` centred on the partial, times its phase: ``a / 2i (-1)^k e^(i phi) K(k - p)`` at bin
        ``k`` for a partial at bin ``p``. Only the ``2 * KERNEL_REACH`` bins around ``p`` are
        written (Hann's main lobe; after the synthesis window, what is left out is under -60 dB
        of a steady partial), into one
        ``[F, N]`` spectrum that the head's inverse transform turns into audio with its own. A
        partial's negative-frequency image folds back onto the bins near 0 as its conjugate.
        Against ``synthesize``: steady partials within about -60 dB, glides and vibrato within
        about -35 dB; where f0 jumps between two frames, the frames crossfade instead of a chirp.
        """
        b, c, n = log2_f0.shape
        bins, reach = self.n_fft // 2 + 1, KERNEL_REACH
        cycles_per_sample, phase = self.cycles(log2_f0)
        numbers = self.numbers.view(1, 1, -1, 1)  # [1, 1, H, 1]
        position = (numbers * cycles_per_sample.unsqueeze(2)) * self.n_fft  # [B, C, H, N] in bins
        angle = (2 * math.pi) * torch.remainder(numbers * phase.unsqueeze(2), 1.0)  # [B, C, H, N]
        lowest = torch.floor(position)
        # [B, C, H, D, N]: the bins around each partial, and their distance from it
        k = lowest.unsqueeze(3) + self.offsets.unsqueeze(0)
        distance = k - position.unsqueeze(3)
        # Hann's transform, K(d) = n_fft / 2 * sin(pi d) / (pi d (1 - d^2)) (exact for the periodic
        # window), times (-1)^k: since (-1)^k sin(pi (k - p)) = -sin(pi p), one sine per partial
        across = distance * (1 - distance * distance)
        near = across.abs() < 1e-3  # d at 0 or +-1, where the quotient is 0 / 0: its limit
        sign = 1 - 2 * torch.remainder(k, 2)  # (-1)^k: the frame's start is half a window before its centre
        limit = sign * (1 - 0.5 * distance.abs())
        safe = torch.where(near, torch.ones_like(across), across)  # no 0 / 0, in the gradient either
        spread = torch.where(near, limit, -torch.sin(math.pi * position).unsqueeze(3) / (math.pi * safe))
        # bins past Nyquist are dropped (partials at or above it are silent already)
        half = (0.25 * self.n_fft * amplitudes).unsqueeze(3) * spread * (k < bins).to(spread.dtype)
        real = half * torch.sin(angle).unsqueeze(3)  # a / 2i e^(i phi) = a / 2 (sin phi - i cos phi)
        imag = -half * torch.cos(angle).unsqueeze(3)
        # written at bin + reach into [F + 2 reach] rows, so that the images below 0 have a place
        rows = (k + reach).clamp(0, bins + 2 * reach - 1).to(torch.int64)
        rows, real, imag = (t.reshape(b, c, -1, n) for t in (rows, real, imag))  # [B, C, H * D, N]
        zeros = torch.zeros(b, c, bins + 2 * reach, n, dtype=real.dtype, device=real.device)
        wide_real, wide_imag = zeros.scatter_add(2, rows, real), zeros.scatter_add(2, rows, imag)
        # bins 0, -1, ..., 1 - reach fold onto 0, 1, ..., reach - 1 as conjugates
        fold_real = F.pad(torch.flip(wide_real[:, :, 1 : reach + 1], dims=[2]), (0, 0, 0, bins - reach))
        fold_imag = F.pad(torch.flip(wide_imag[:, :, 1 : reach + 1], dims=[2]), (0, 0, 0, bins - reach))
        real = wide_real[:, :, reach : reach + bins] + fold_real
        imag = wide_imag[:, :, reach : reach + bins] - fold_imag
        return real, imag

    def synthesize(self, log2_f0: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
        """``log2 f0 [B, C, N]`` and amplitudes ``[B, C, H, N]`` -> audio ``[B, C, T]``."""
        b, c, n = log2_f0.shape
        hop, segments = self.hop, n - 1
        cycles_per_sample, before = self.cycles(log2_f0)
        start, end = cycles_per_sample[..., :-1], cycles_per_sample[..., 1:]  # [B, C, N - 1]
        before = before[..., :-1]  # cycles at each segment's start
        j = self.ramp * hop  # [hop]: samples into the segment
        within = start.unsqueeze(-1) * j + (end - start).unsqueeze(-1) * (j * j / (2 * hop))
        theta = (2 * math.pi) * (before.unsqueeze(-1) + within)  # [B, C, N - 1, hop]
        # The partials summed by Clenshaw's recurrence: sum_h a_h sin(h t) = sin(t) * b_1, with
        # b_h = a_h + 2 cos(t) b_(h+1) - b_(h+2) (the sum of a_h U_(h-1)(cos t)). Two
        # transcendental calls per sample instead of H, no [.., hop, H] tensor, and three
        # elementwise ops per partial on each segment's start amplitude and its change across the
        # segment, stacked ([B, C, 2, N - 1, hop]; the sum is linear in the amplitudes). In
        # onnxruntime a third less than summing a recurrence's sines into two sums
        # (docs/benchmarks/harmonic-synthesis.md).
        start_amp = amplitudes[..., :-1]
        edges = torch.stack([start_amp, amplitudes[..., 1:] - start_amp], dim=3).unsqueeze(-1)
        twice_cos = (2 * torch.cos(theta)).unsqueeze(2)  # [B, C, 1, N - 1, hop]
        later, latest = None, edges[:, :, -1]  # b_(h+2), b_(h+1): [B, C, 2, N - 1, hop or 1]
        for h in range(self.harmonics - 2, -1, -1):
            current = edges[:, :, h] + twice_cos * latest
            if later is not None:
                current = current - later
            later, latest = latest, current
        summed = torch.sin(theta).unsqueeze(2) * latest  # [B, C, 2, N - 1, hop]
        audio = (summed[:, :, 0] + self.ramp * summed[:, :, 1]).reshape(b, c, segments * hop)
        # a clip that is not a whole number of hops ends with less than a hop of silence here
        return F.pad(audio, (0, self.n_samples - segments * hop))


def mix_contours(
    log2_f0: torch.Tensor, voiced: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``K`` f0 contours ``log2_f0, voiced [B, K, C, N]`` mixed by ``weights [B, K]`` (a morph's
    ``cond``) into one ``(log2_f0, voiced)`` ``[B, C, N]``.

    The voicing mixes linearly (a crossfade). The pitch glides geometrically, weighted by voicing:
    where both are voiced between the two pitches, where one is, at that one's. Where none is, a
    held pitch (``log2_f0`` above 0 in an unvoiced frame: ``pitch.hold_pitch``) counts a little,
    so a gated branch fading in or out keeps a pitch instead of falling to 0.
    """
    b, k = weights.shape
    weight = weights.view(b, k, 1, 1)
    mixed_voicing = (weight * voiced).sum(dim=1)
    pitched = weight * (voiced + HELD_WEIGHT * (log2_f0 > 0).to(voiced.dtype))
    mixed = (pitched * log2_f0).sum(dim=1) / pitched.sum(dim=1).clamp_min(1e-6)
    return mixed, mixed_voicing


def unpitched_share(log2_f0: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """How much of a mix of ``K`` contours ``log2_f0 [B, K, C, N]`` (held: 0 only in clips where
    pYIN heard no pitch) comes from such clips, by ``weights [B, K]``: ``[B, C, N]`` in [0, 1]."""
    b, k = weights.shape
    return (weights.view(b, k, 1, 1) * (log2_f0 <= 0).to(weights.dtype)).sum(dim=1)


def pitch_loss(log2_f0: torch.Tensor, target_hz: torch.Tensor, voiced: torch.Tensor) -> torch.Tensor:
    """Mean octave error of ``log2_f0 [B, C, N]`` against a tracked ``target_hz [B, C, N]``,
    weighted by the track's voicing probability (frames without a pitch count for nothing)."""
    weight = voiced * (target_hz > 0).to(voiced.dtype)
    error = (log2_f0 - torch.log2(target_hz.clamp_min(F0_MIN_HZ))).abs()
    return (weight * error).sum() / weight.sum().clamp_min(1.0)
