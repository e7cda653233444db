"""The two-stage model: a spectral autoencoder, then a per-category prior over its codes.

Stage one (RAVE's recipe, on STFT magnitude and phase): an encoder reads the log-magnitude
of a real clip and returns a posterior ``mu, logvar [B, D]``; a decoder (the main model's
upsampling and FiLM stack with the Vocos-style head and fixed iSTFT) turns a code back
into audio. It is trained to reconstruct the corpus (multi-resolution STFT loss and a small
KL term), then adversarially with feature matching. Reconstruction cannot collapse below
the corpus's own variety: every clip has its own code.

Stage two: per category, a diagonal Gaussian mixture over the codes of that category's
clips: fitted by EM (scikit-learn) to draws from their posteriors (``prior = "gmm"``), or the
aggregate posterior itself, one component per clip (``prior = "posterior"``). The mixture
lives inside the generator as buffers, so the exported graph is still ``(z, cond) -> audio``:

- ``z[:, 0]`` picks a component (through the normal CDF, against the cumulative weights);
- ``z[:, 1:]`` is the standard normal noise scaled by that component's deviation;
- ``cond`` mixes the per-category codes linearly, so a morph is interpolation in a space
  the decoder was trained on.

With a harmonic branch, each component also holds its clip's f0 contour, which a draw plays
(DDSP conditions its decoder on f0 the same way; the branch's own f0, read from the code, was
within a semitone of the clips' in under a third of the frames).

Shapes: audio ``[B, C, T]``; codes ``[B, D]``; ``z [B, D + 1]``; prior buffers
``mean, std [K, M, D]``, ``cumulative weights [K, M]`` and contours ``[K, M, C, N]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gesturegan.training.config import ModelConfig
from gesturegan.training.models.base import DataShape, Generator
from gesturegan.training.models.gan import LogMagnitude, SpectralDiscriminator, SpectralGenerator
from gesturegan.training.models.harmonic import mix_contours, unpitched_share
from gesturegan.training.pitch import F0_MIN_HZ
from gesturegan.training.prepare import PrepareConfig
from gesturegan.training.representation import STFT, to_mag_phase


class SpectralDecoder(SpectralGenerator):
    """Code ``[B, D]`` -> audio ``[B, C, T]``: the main model's synthesis stack without a category input."""

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__(replace(m, latent_dim=m.code_dim), shape, "twostage")
        del self.embed  # the category lives in the prior, not in the decoder
        self.postfilter_bins = m.postfilter_bins
        self.postfilter_power_bins = m.postfilter_power_bins
        self.postfilter_time_frames = m.postfilter_time_frames
        self.style = nn.Sequential(
            nn.Linear(m.code_dim, m.style_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(m.style_dim, m.style_dim),
            nn.LeakyReLU(0.2),
        )

    def decode_features(self, code: torch.Tensor) -> torch.Tensor:
        """Code ``[B, D]`` -> features ``[B, W, N]`` (the part that may run in half precision)."""
        return self.synthesize(self.style(code))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.finish(self.decode_features(code))

    def finish(
        self,
        x: torch.Tensor,
        detail_gain: torch.Tensor | None = None,
        log2_f0: torch.Tensor | None = None,
        voiced: torch.Tensor | None = None,
        unpitched: torch.Tensor | None = None,
        time_gain: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features ``[B, W, N]`` -> audio ``[B, C, T]``; with ``detail_gain [B]``, the postfilter
        first (and with ``time_gain [B]``, its pass over time, ``time_postfilter``); with
        ``log2_f0 [B, C, N]``, the harmonic branch plays that f0 (only where ``voiced [B, C, N]``
        > 0.5, if given; ``unpitched``: ``HarmonicBranch.controls``)."""
        if detail_gain is None and log2_f0 is None:
            return super().finish(x)
        with torch.autocast(device_type=x.device.type, enabled=False):
            log_mag, phase, change = self.head_spectra(x.float())
            if detail_gain is not None:
                log_mag = postfilter(log_mag, detail_gain, self.postfilter_bins, self.postfilter_power_bins)
            if time_gain is not None and self.postfilter_time_frames:
                log_mag = time_postfilter(log_mag, time_gain, self.postfilter_time_frames)
            return self.render((log_mag, phase, change), x.float(), log2_f0, voiced, unpitched)


def log_mag_envelope(log_mag: torch.Tensor, bins: int) -> torch.Tensor:
    """Each frame's envelope: ``log_mag [B, C, F, N]`` averaged over ``bins`` neighbouring bins."""
    # Pooled along F in place, the window shrinking at the edges: no transposes and no padding,
    # which cost more than the pooling itself in onnxruntime.
    return F.avg_pool2d(log_mag, (bins, 1), stride=1, padding=(bins // 2, 0), count_include_pad=False)


def postfilter(
    log_mag: torch.Tensor, detail_gain: torch.Tensor, bins: int, power_bins: int = 0
) -> torch.Tensor:
    """``log_mag [B, C, F, N]`` with its detail around the envelope scaled by ``detail_gain [B]``.

    Peaks rise and the valleys between them fall; each frame's envelope keeps its shape and the
    frame its power, or with ``power_bins`` each window of about that many bins keeps its own
    power, so the balance between bands stays as drawn. It is the global-variance compensation of
    statistical speech synthesis (Toda and Tokuda 2007), for a decoder trained by regression,
    whose partials come out flatter than the clips' (their valleys filled with noise).
    """
    envelope = log_mag_envelope(log_mag, bins)
    sharper = envelope + detail_gain.view(-1, 1, 1, 1) * (log_mag - envelope)
    # the power is kept, per band or per frame: a sharper frame is not a louder one (raised peaks
    # clipped 11 % of the triggers when it was not kept)
    if power_bins:
        return sharper + 0.5 * (_local_log_power(log_mag, power_bins) - _local_log_power(sharper, power_bins))
    return sharper + 0.5 * (_log_power(log_mag) - _log_power(sharper))


def time_postfilter(log_mag: torch.Tensor, gain: torch.Tensor, frames: int) -> torch.Tensor:
    """``log_mag [B, C, F, N]`` with each bin's detail over time, around its moving average over
    ``frames`` frames, scaled by ``gain [B]``: attacks rise above what precedes them and the
    gaps between a loop's hits deepen. The postfilter's global-variance compensation along time,
    where Toda and Tokuda apply it: a decoder trained by regression blurs the hits of loops and
    softens attacks (its magnitudes do: decoded with the clips' own phase, they still do).

    The detail is measured with values below ``TIME_FLOOR`` (decoded silence) counted as it, so
    a silent stretch cannot pull the moving average down beside an onset and inflate it, and
    silence stays as it is. At gain 1 it is the identity."""
    floored = log_mag.clamp_min(TIME_FLOOR)
    return log_mag + (gain.view(-1, 1, 1, 1) - 1) * (floored - _moving_average(floored, frames))


def _moving_average(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``x [B, C, F, N]`` averaged over ``frames`` neighbouring frames (fewer at the edges).

    Pooled as ``[B * C * F, 1, N]`` rows: onnxruntime's 2-D pooling with a ``(1, frames)`` window
    took twice as long (docs/benchmarks/generate-time-postfilter.md)."""
    b, c, f, n = x.shape
    rows = F.avg_pool1d(
        x.reshape(b * c * f, 1, n), frames, stride=1, padding=frames // 2, count_include_pad=False
    )
    return rows.reshape(b, c, f, n)


def under_ceiling(audio: torch.Tensor) -> torch.Tensor:
    """``audio [B, C, T]`` with each gesture whose peak passes ``PEAK_CEILING`` turned down as a
    whole to it (not clipped); the others as they are."""
    peak = audio.abs().amax(dim=(1, 2), keepdim=True)
    return audio * torch.clamp(PEAK_CEILING / (peak + 1e-9), max=1.0)


# the loudest sample a gesture plays with the time postfilter on: prepare's peak ceiling (-1 dBFS)
PEAK_CEILING = 10 ** (PrepareConfig.peak_ceiling_db / 20)


def to_data_loudness(audio: torch.Tensor, loudness_db: torch.Tensor, hop: int) -> torch.Tensor:
    """``audio [B, C, T]`` with each gesture brought to the dataset's loudness as ``prepare``
    brings each clip: its RMS over its sound at ``loudness_db[0]`` dBFS, unless its peak would
    then pass ``loudness_db[1]`` dBFS (``loudness_db [2]``: the dataset's target and ceiling).

    Its sound ends, as in ``prepare``, with its last ``hop``-sample frame of the mono mix within
    ``CONTENT_RANGE_DB`` of its loudest, so a short hit is not raised for the silence after it.
    A gesture is raised by ``MAX_RAISE_DB`` at most, so a decoded near-silence stays quiet.
    The decoder's level drifts from the clips' (3.5 to 5 dB quieter in the default before this
    stage, docs/evaluation/bakeoff.md, stop 37); what it learnt is a shape, the level is a rule."""
    b, c, t = audio.shape
    n = t // hop
    framed = audio[:, :, : n * hop].reshape(b, c, n, hop)
    power = framed.pow(2).mean(dim=(1, 3))  # [B, N], over channels as prepare's RMS
    mono = framed.mean(dim=1).pow(2).mean(dim=2)  # [B, N], the envelope prepare trims by
    loud = (mono > mono.amax(dim=1, keepdim=True) * CONTENT_RANGE).to(audio.dtype)
    index = torch.arange(1, n + 1, device=audio.device, dtype=audio.dtype)  # [N]
    end = (loud * index).amax(dim=1, keepdim=True)  # [B, 1]: frames up to the last loud one
    inside = (index <= end).to(audio.dtype)
    # a silent gesture has no loud frame: counted as one, it stays silent instead of 0 / 0
    rms = torch.sqrt((power * inside).sum(dim=1) / end.squeeze(1).clamp_min(1) + 1e-20)  # [B]
    peak = audio.abs().amax(dim=(1, 2))
    target, ceiling = torch.pow(10.0, loudness_db / 20).unbind(0)
    gain = torch.minimum(target / rms, ceiling / (peak + 1e-9)).clamp(max=MAX_RAISE)
    return audio * gain.view(b, 1, 1)


# prepare's trim: a clip's sound is its frames within 50 dB of its loudest frame
CONTENT_RANGE = 10 ** (-50 / 10)
# the most ``to_data_loudness`` raises a gesture (24 dB)
MAX_RAISE = 10 ** (24 / 20)

# log-magnitude that counts as silence for ``time_postfilter`` (e^-11.5: about 140 dB below a
# full-scale partial in a 1024-point frame)
TIME_FLOOR = -11.5


def _local_log_power(log_mag: torch.Tensor, bins: int) -> torch.Tensor:
    """``log`` of the mean ``|S|^2`` over about ``bins`` neighbouring bins, ``[B, C, F, N]``, from
    ``log_mag [B, C, F, N]`` (clamped as ``_log_power``).

    Summed in blocks of ``POWER_BLOCK`` bins, averaged over ``bins // POWER_BLOCK`` blocks (odd)
    and interpolated back to every bin: a window pooled bin by bin cost onnxruntime three times
    the whole generator (docs/benchmarks/generate-band-power.md), and the correction it feeds is
    smooth across bins anyway."""
    power = torch.exp((2 * log_mag).clamp(max=80.0))
    blocks = F.avg_pool2d(power, (POWER_BLOCK, 1), stride=(POWER_BLOCK, 1), ceil_mode=True)
    span = max(1, bins // POWER_BLOCK) | 1
    bands = F.avg_pool2d(blocks, (span, 1), stride=1, padding=(span // 2, 0), count_include_pad=False)
    smooth = F.interpolate(bands, size=log_mag.shape[2:], mode="bilinear", align_corners=False)
    return torch.log(smooth + 1e-30)


# bins per block of the band power (``_local_log_power``)
POWER_BLOCK = 4


def _log_power(log_mag: torch.Tensor) -> torch.Tensor:
    """Each frame's ``log sum |S|^2`` ``[B, C, 1, N]`` from ``log_mag [B, C, F, N]``.

    Not ``torch.logsumexp``: onnxruntime's ReduceLogSumExp takes several times as long as Exp,
    ReduceSum and Log (docs/benchmarks/generate-half-istft.md). Safe without its max shift: the
    clamp keeps the sum finite (``e^80`` times 513 bins is below float32's largest), and the floor
    keeps a silent frame's log finite.
    """
    return torch.log(torch.exp((2 * log_mag).clamp(max=80.0)).sum(dim=2, keepdim=True) + 1e-30)


class SpectralEncoder(nn.Module):
    """Audio ``[B, C, T]`` -> posterior ``(mu, logvar)``, each ``[B, D]``.

    Strided 1-D convolutions over STFT frames down to at most 16 frames, then a linear map
    of the whole (flattened) sequence: the code keeps *when* things happen, which a mean
    over time would throw away.
    """

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__()
        self.logmag = LogMagnitude(m.n_fft)
        bins = m.n_fft // 2 + 1
        width = max(m.width // 2, 32)
        frames = shape.n_samples // (m.n_fft // 4) + 1
        self.inp = nn.Conv1d(shape.channels * bins, width, 1)
        downs = []
        while frames > 16:
            downs.append(nn.Conv1d(width, width, 5, stride=2, padding=2))
            frames = (frames - 1) // 2 + 1
        self.downs = nn.ModuleList(downs)
        self.mixes = nn.ModuleList(nn.Conv1d(width, width, 3, padding=1) for _ in downs)
        self.out = nn.Linear(width * frames, 2 * m.code_dim)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.logmag(audio)  # [B, C, F, N]
        x = F.leaky_relu(self.inp(x.flatten(1, 2)), 0.2)
        for down, mix in zip(self.downs, self.mixes, strict=True):
            x = F.leaky_relu(down(x), 0.2)
            x = x + F.leaky_relu(mix(x), 0.2)
        mu, logvar = self.out(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 4.0)


class TwoStageCritic(nn.Module):
    """What trains beside the generator: the encoder (stage one) and the discriminator (its adversarial half)."""

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__()
        self.encoder = SpectralEncoder(m, shape)
        self.discriminator = SpectralDiscriminator(m, shape)


class TwoStageGenerator(Generator):
    """``(z [B, D + 1], cond [B, K]) -> audio [B, C, T]`` through the per-category mixture prior and the decoder."""

    family = "twostage"
    representation = "stft-mag-phase"

    def __init__(self, m: ModelConfig, shape: DataShape):
        super().__init__(m.code_dim + 1, shape)
        self.code_dim, self.components = m.code_dim, m.prior_components
        self.prior_text = (
            f"per-category aggregate posterior: one component per training clip, {m.prior_components} at most"
            if m.prior == "posterior"
            else f"per-category diagonal Gaussian mixture, {m.prior_components} components at most"
        )
        if m.prior_typicality > 0:
            self.prior_text += (
                f"; each component weighted by the gesture classifier's probability of its category"
                f" to the power {m.prior_typicality:g}"
            )
            if m.prior_typicality_categories:
                self.prior_text += f" (in {', '.join(m.prior_typicality_categories)})"
        if m.prior_noise_share:
            self.prior_text += (
                f"; in {', '.join(m.prior_noise_share)}, weighted so that half the draws are noisier"
                " than the median clip, as half the clips are"
            )
        self.decoder = SpectralDecoder(m, shape)
        k, c, d = shape.n_categories, m.prior_components, m.code_dim
        cumulative = torch.ones(k, c)  # until fitted: every draw takes component 0, a standard normal
        self.register_buffer("prior_mean", torch.zeros(k, c, d))
        self.register_buffer("prior_std", torch.ones(k, c, d))
        self.register_buffer("prior_cumulative", cumulative)
        # z[:, 0] that selects each component (the middle of its slice of the normal CDF); derived
        # from the cumulative weights whenever they change, so it is never stored.
        self.register_buffer("prior_anchor", torch.zeros(k, c), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _: module.refresh_anchor())
        self.refresh_anchor()
        # Per category: how much the postfilter scales the decoder's detail (1: unchanged until
        # fitted, and in checkpoints from before it existed).
        self.postfilter_bins = m.postfilter_bins
        self.register_buffer("detail_gain", torch.ones(k))
        # ``postfilter_per_component``: each component's own gain ``[K, M]``, picked with it by
        # ``z[:, 0]`` and mixed by ``cond`` like the category gains (``fit_component_gains``)
        self.per_component_gain = bool(m.postfilter_bins and m.postfilter_per_component)
        if self.per_component_gain:
            self.register_buffer("prior_detail_gain", torch.ones(k, c))
        # ``postfilter_time_frames``: each category's gain over time (1 until fitted)
        self.time_postfilter = bool(m.postfilter_bins and m.postfilter_time_frames)
        if self.time_postfilter:
            self.register_buffer("time_gain", torch.ones(k))
        # ``data_loudness``: every gesture at the dataset's loudness rule, (target RMS, peak
        # ceiling) in dBFS, set from the dataset with each prior fit (prepare's defaults until then)
        self.data_loudness = bool(m.data_loudness)
        if self.data_loudness:
            self.loudness_hop = max(shape.sample_rate // 200, 1)  # prepare's 5 ms envelope frames
            self.register_buffer(
                "loudness_db", torch.tensor([PrepareConfig.target_rms_db, PrepareConfig.peak_ceiling_db])
            )
        # With a harmonic branch, each component's f0 contour: its clip's pYIN track (log2 Hz) and
        # voicing (0 or 1) per channel and frame. A drawn gesture plays its component's contour,
        # as the reconstructions it was trained on play their clip's (teacher forcing); the
        # branch's own f0, read from the features, is only a fallback in unvoiced frames. All
        # unvoiced until fitted (a GMM prior, whose components are not clips, keeps it so).
        self.contours = bool(m.harmonics)
        if self.contours:
            frames = self.decoder.n_frames
            self.register_buffer("prior_log2_f0", torch.zeros(k, c, shape.channels, frames))
            self.register_buffer("prior_voiced", torch.zeros(k, c, shape.channels, frames))
        self.register_load_state_dict_pre_hook(_default_detail_gain)

    @torch.no_grad()
    def refresh_anchor(self) -> None:
        cumulative = self.prior_cumulative.double()
        lower = torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], dim=1)
        middle = ((lower + cumulative) / 2).clamp(1e-9, 1 - 1e-9)
        self.prior_anchor.copy_(torch.special.ndtri(middle).float())

    def weights(self) -> torch.Tensor:
        """Component weights ``[K, M]`` from the cumulative ones."""
        lower = torch.cat(
            [torch.zeros_like(self.prior_cumulative[:, :1]), self.prior_cumulative[:, :-1]], dim=1
        )
        return self.prior_cumulative - lower

    def invert(self, code: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The ``z [B, D + 1]`` with which ``forward(z, onehot(argmax cond))`` decodes ``code [B, D]``.

        The code's most likely component in its category gives ``z[:, 0]`` (that component's
        anchor) and ``z[:, 1:] = (code - mean) / std``: a unit step in ``z[:, 1:]`` is a step
        of the component's own spread, which is what ``--amount`` scales.
        """
        b, d = code.shape
        category = cond.argmax(dim=1)  # [B]
        mean, std = self.prior_mean[category], self.prior_std[category]  # [B, M, D]
        log_w = torch.log(self.weights()[category] + 1e-12)  # [B, M]
        log_p = (-0.5 * ((code.unsqueeze(1) - mean) / std) ** 2 - torch.log(std)).sum(-1) + log_w
        j = log_p.argmax(dim=1, keepdim=True)  # [B, 1]
        pick = j.unsqueeze(-1).expand(b, 1, d)
        m, s = mean.gather(1, pick).squeeze(1), std.gather(1, pick).squeeze(1)
        z0 = self.prior_anchor[category].gather(1, j)
        return torch.cat([z0, (code - m) / s], dim=1)

    def component(self, z: torch.Tensor) -> torch.Tensor:
        """The component ``z[:, 0]`` picks in each category: indices ``[B, K]``."""
        u = 0.5 * (1.0 + torch.erf(z[:, :1] / math.sqrt(2.0)))  # [B, 1], uniform in (0, 1)
        above = (u.unsqueeze(-1) > self.prior_cumulative.unsqueeze(0)).to(torch.int64)  # [B, K, M]
        return above.sum(dim=-1).clamp(max=self.prior_cumulative.shape[1] - 1)

    def rows(self, z: torch.Tensor) -> torch.Tensor:
        """Each category's picked component as a row of the tables flattened to ``[K * M, ...]``:
        indices ``[B, K]``. One Gather of ``B * K`` rows; expanding a whole table per draw and
        gathering along it copied every row in onnxruntime."""
        k, m = self.prior_cumulative.shape
        offsets = torch.arange(k, device=z.device).unsqueeze(0) * m  # [1, K]
        return self.component(z) + offsets

    def contour(self, z: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The f0 contour a draw plays: ``(log2_f0, voiced)``, each ``[B, C, N]``.

        Each category's picked component gives its clip's contour; ``cond`` mixes them as it
        mixes the codes, weighted by voicing: where both are voiced a morph glides geometrically
        between the two pitches, where one is, it keeps that one's pitch, and the voicing itself
        crossfades (under 0.5 the branch's own f0 plays)."""
        k, c, channels, frames = self.prior_log2_f0.shape
        rows = self.rows(z)  # [B, K]
        log2_f0 = self.prior_log2_f0.reshape(k * c, channels, frames)[rows]  # [B, K, C, N]
        voiced = self.prior_voiced.reshape(k * c, channels, frames)[rows]
        return mix_contours(log2_f0, voiced, cond)

    def unpitched(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``[B, C, N]``: how much of the contour a draw plays comes from clips in which pYIN heard
        no pitch (their held contour is 0 throughout), mixed by ``cond`` (``unpitched_share``)."""
        k, c, channels, frames = self.prior_log2_f0.shape
        return unpitched_share(self.prior_log2_f0.reshape(k * c, channels, frames)[self.rows(z)], cond)

    def codes(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, D]``: each category's mixture drawn with the same ``z``, mixed by ``cond``."""
        k, c, d = self.prior_mean.shape
        rows = self.rows(z)  # [B, K]
        mean = self.prior_mean.reshape(k * c, d)[rows]  # [B, K, D]
        std = self.prior_std.reshape(k * c, d)[rows]
        per_category = mean + std * z[:, 1:].unsqueeze(1)
        return (cond.unsqueeze(-1) * per_category).sum(dim=1)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.finish(self.decoder.decode_features(self.codes(z, cond)), cond, z)

    def body(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # The prior's draw stays float32 (in the fp16 export too); only the decoder network may be half.
        code = self.codes(z.float(), cond.float())
        return self.decoder.decode_features(code.to(self.decoder.head.weight.dtype))

    def finish(
        self, x: torch.Tensor, cond: torch.Tensor | None = None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Features ``[B, W, N]`` -> audio; with ``cond [B, K]``, through the postfilter at the
        categories' gains mixed by ``cond`` (a morph's detail moves with its categories); with
        ``z`` too and a harmonic branch, its partials play the drawn components' f0 contour."""
        if cond is None:
            return self.decoder.finish(x)
        gain = cond.float() @ self.detail_gain if self.postfilter_bins else None
        if z is not None and self.per_component_gain:
            k, m = self.prior_cumulative.shape
            picked = self.prior_detail_gain.reshape(k * m)[self.rows(z.float())]  # [B, K]
            gain = (cond.float() * picked).sum(dim=1)
        log2_f0 = voiced = unpitched = None
        if z is not None and self.contours:
            log2_f0, voiced = self.contour(z.float(), cond.float())
            if self.decoder.harmonic.gate and self.decoder.harmonic.free_unpitched:
                unpitched = self.unpitched(z.float(), cond.float())
        time_gain = cond.float() @ self.time_gain if self.time_postfilter else None
        audio = self.decoder.finish(x, gain, log2_f0, voiced, unpitched, time_gain)
        return self.leveled(audio)

    def leveled(self, audio: torch.Tensor) -> torch.Tensor:
        """What the decoder played ``[B, C, T]`` at the level the model plays it: the dataset's
        rule (``data_loudness``), else under the peak ceiling when the pass over time (which
        raises peaks) is on, else as it is."""
        if self.data_loudness:
            return to_data_loudness(audio, self.loudness_db, self.loudness_hop)
        if self.time_postfilter:
            return under_ceiling(audio)
        return audio

    def describe(self) -> dict:
        facts = {
            **self.decoder.describe(),
            "family": self.family,
            "code_dim": self.code_dim,
            "prior": self.prior_text,
        }
        if self.contours:
            facts["f0"] = (
                "each prior component plays its training clip's pYIN contour"
                if bool(self.prior_voiced.any())
                else "the harmonic branch's own, from the decoder's features"
            )
        if self.postfilter_bins:
            facts["postfilter"] = {
                "envelope_bins": self.postfilter_bins,
                "power": f"kept per {self.decoder.postfilter_power_bins} bins"
                if self.decoder.postfilter_power_bins
                else "kept per frame",
                "detail_gain": [round(float(g), 3) for g in self.detail_gain],
            }
            if self.per_component_gain:
                weights = self.weights()
                facts["postfilter"]["per_component"] = [
                    {
                        "median": round(float(gains[used].median()), 3),
                        "min": round(float(gains[used].min()), 3),
                        "max": round(float(gains[used].max()), 3),
                    }
                    for gains, used in zip(self.prior_detail_gain, weights > 0, strict=True)
                    if bool(used.any())
                ]
            if self.time_postfilter:
                facts["postfilter"]["time"] = {
                    "frames": self.decoder.postfilter_time_frames,
                    "gain": [round(float(g), 3) for g in self.time_gain],
                }
        if self.data_loudness:
            target, ceiling = (round(float(v), 2) for v in self.loudness_db)
            facts["loudness"] = (
                f"each gesture at {target:g} dBFS RMS over its sound, its peak at most {ceiling:g} dBFS"
                " (the dataset's rule)"
            )
        return facts


def fit_data_loudness(generators: list[TwoStageGenerator], loudness: dict) -> tuple[float, float] | None:
    """Write the dataset's loudness rule (``stats.json``'s ``loudness``: ``target_rms_db``,
    ``peak_ceiling_db``; prepare's defaults where absent) into every generator that plays at it;
    returns ``(target, ceiling)`` in dBFS, or None when ``model.data_loudness`` is off."""
    if not generators[0].data_loudness:
        return None
    target = float(loudness.get("target_rms_db", PrepareConfig.target_rms_db))
    ceiling = float(loudness.get("peak_ceiling_db", PrepareConfig.peak_ceiling_db))
    for g in generators:
        g.loudness_db.copy_(torch.tensor([target, ceiling]))
    return target, ceiling


def _default_detail_gain(module, state_dict, prefix, *args) -> None:
    """Checkpoints from before the postfilter: load with the identity gain; from before the
    prior's contours: unvoiced (the harmonic branch's own f0, as they played)."""
    state_dict.setdefault(prefix + "detail_gain", torch.ones_like(module.detail_gain))
    if module.time_postfilter:
        state_dict.setdefault(prefix + "time_gain", torch.ones_like(module.time_gain))
    if module.data_loudness:
        state_dict.setdefault(prefix + "loudness_db", module.loudness_db.clone())
    if module.per_component_gain:
        # a checkpoint fitted per category: every component starts at its category's gain
        gains = state_dict[prefix + "detail_gain"]
        state_dict.setdefault(
            prefix + "prior_detail_gain", gains.unsqueeze(1).expand_as(module.prior_detail_gain).clone()
        )
    if module.contours:
        state_dict.setdefault(prefix + "prior_log2_f0", torch.zeros_like(module.prior_log2_f0))
        state_dict.setdefault(prefix + "prior_voiced", torch.zeros_like(module.prior_voiced))


class AutoencoderView(nn.Module):
    """Stage one as one module (so DDP sees one forward).

    ``audio [B, C, T] -> (recon [B, C, T], mu [B, D], logvar [B, D], mixed [B, C, T] | None,
    log2_f0 [B, C, N] | None)``. With ``mix [B]`` (weights in [0, 1]), ``mixed`` decodes each
    clip's code moved ``mix`` of the way to the next clip's (``roll(1)`` along the batch): what a
    morph plays between two categories, in the same decoder pass as the reconstructions.
    ``log2_f0`` is the harmonic branch's f0 for the reconstructions (None without the branch).
    """

    def __init__(self, generator: TwoStageGenerator, encoder: SpectralEncoder):
        super().__init__()
        self.generator, self.encoder = generator, encoder

    def forward(
        self,
        audio: torch.Tensor,
        noise: torch.Tensor,
        frozen_encoder: bool = False,
        mix: torch.Tensor | None = None,
        pitch: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``pitch``: the clips' tracked ``(f0_hz, voiced)`` ``[B, C, N]``. The reconstructions then
        play their partials at the tracked f0 in voiced frames (teacher forcing, as DDSP's
        autoencoder plays CREPE's f0): the amplitudes learn where the partials really are while
        the branch's own f0, detached from the audio losses, learns from the pitch loss alone.
        Without it a wrong early f0 taught the amplitudes to fall silent within 500 steps."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen_encoder):
            mu, logvar = self.encoder(audio)
        code = mu + noise * torch.exp(0.5 * logvar)
        decoder = self.generator.decoder
        if mix is not None:
            mixed = torch.lerp(code, code.roll(1, dims=0), mix.to(code.dtype).unsqueeze(1))
            code = torch.cat([code, mixed])
        features = decoder.decode_features(code)
        log2_f0 = played = gate = unpitched = None
        if decoder.harmonic is not None:
            with torch.autocast(device_type=features.device.type, enabled=False):
                predicted = decoder.harmonic.log2_f0(features.float())
            log2_f0 = predicted[: len(audio)]
            if pitch is not None:
                f0_hz, voiced = pitch
                tracked = (voiced > 0.5) & (f0_hz > 0)
                teacher = torch.log2(f0_hz.clamp_min(F0_MIN_HZ))
                if decoder.harmonic.gate:
                    played, gate, unpitched = self._gated_contours(teacher, tracked, f0_hz > 0, mix)
                    if not decoder.harmonic.free_unpitched:
                        unpitched = None
                else:
                    played = predicted.detach().clone()
                    played[: len(audio)] = torch.where(tracked, teacher, played[: len(audio)])
        both = decoder.finish(features, log2_f0=played, voiced=gate, unpitched=unpitched)
        if mix is None:
            return both, mu, logvar, None, log2_f0
        recon, decoded_mix = both.chunk(2, dim=0)
        return recon, mu, logvar, decoded_mix, log2_f0

    @staticmethod
    def _gated_contours(
        teacher: torch.Tensor, tracked: torch.Tensor, pitched: torch.Tensor, mix: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A gated branch's contours for the batch, ``(log2_f0, voicing, unpitched)``: the clips'
        own (``teacher`` log2 f0, held between voiced frames, ``tracked`` voicing, and 1 for a
        clip without a pitch, ``[B, C, N]``), then with ``mix [B]`` each mixed code's, its two
        clips' contours mixed as a drawn morph mixes them (``mix_contours``, ``unpitched_share``),
        so a morph's partials are trained as they will play."""
        voicing = tracked.to(teacher.dtype)
        log2_f0 = torch.where(pitched, teacher, torch.zeros_like(teacher))
        unpitched = (log2_f0 <= 0).to(teacher.dtype)
        if mix is None:
            return log2_f0, voicing, unpitched
        pairs_f0 = torch.stack([log2_f0, log2_f0.roll(1, dims=0)], dim=1)  # [B, 2, C, N]
        pairs_voicing = torch.stack([voicing, voicing.roll(1, dims=0)], dim=1)
        mix = mix.to(teacher.dtype)
        weights = torch.stack([1 - mix, mix], dim=1)
        mixed_f0, mixed_voicing = mix_contours(pairs_f0, pairs_voicing, weights)
        mixed_unpitched = unpitched_share(pairs_f0, weights)
        return (
            torch.cat([log2_f0, mixed_f0]),
            torch.cat([voicing, mixed_voicing]),
            torch.cat([unpitched, mixed_unpitched]),
        )


class LikeEncoder(nn.Module):
    """The exported encoder: ``(audio [B, C, T], cond [B, K]) -> (mu, logvar)`` in the generator's z-space.

    ``mu`` is the ``z`` that plays the sound back in the category ``argmax(cond)``;
    ``logvar`` is 0 on the noise dimensions (a unit step there is the prior component's own
    spread) and -24 on ``z[:, 0]``, the component choice, which a variation keeps.
    """

    def __init__(self, encoder: SpectralEncoder, generator: TwoStageGenerator):
        super().__init__()
        self.encoder, self.generator = encoder, generator

    def forward(self, audio: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code, _ = self.encoder(audio)
        z = self.generator.invert(code, cond)
        logvar = torch.cat([torch.full_like(z[:, :1], -24.0), torch.zeros_like(z[:, 1:])], dim=1)
        return z, logvar


@dataclass(frozen=True)
class PriorFit:
    """What fitting the prior found, per category: components used and the codes it was fitted on."""

    components: dict[str, int]
    codes: dict[str, int]
    # a posterior prior: per category index, the clips (indices into its ``audio``) that its
    # components are, in component order
    kept: dict[int, np.ndarray] = field(default_factory=dict)


@torch.no_grad()
def encode(encoder: SpectralEncoder, audio: np.ndarray, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and standard deviations ``[N, D]`` of clips ``[N, C, T]``."""
    encoder.eval()
    dev = next(encoder.parameters()).device
    mus, stds = [], []
    for i in range(0, len(audio), batch):
        x = torch.from_numpy(np.ascontiguousarray(audio[i : i + batch])).to(dev)
        mu, logvar = encoder(x)
        mus.append(mu.float().cpu().numpy())
        stds.append(torch.exp(0.5 * logvar).float().cpu().numpy())
    encoder.train()
    return np.concatenate(mus), np.concatenate(stds)


def fit_prior(
    generators: list[TwoStageGenerator],
    encoder: SpectralEncoder,
    audio_by_category: list[np.ndarray],
    categories: list[str],
    seed: int = 0,
    draws: int = 8,
    kind: str = "gmm",
    bandwidth: float = 0.0,
    pitch_by_category: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> PriorFit:
    """Fit each category's mixture to its clips' codes and write it into every generator's buffers.

    ``kind="gmm"``: EM on ``draws`` codes per clip from its posterior, so the mixture
    approximates the category's aggregate posterior (what the decoder was trained on) with at
    most ``prior_components`` diagonal components.

    ``kind="posterior"``: the aggregate posterior itself, one equally weighted component per
    clip (its ``mu`` and ``sigma``, widened by ``bandwidth`` x the category's deviation of
    ``mu`` per dimension). Every draw sits where the decoder was trained; a category with more
    clips than components keeps a random subset of them.

    With ``pitch_by_category`` (each category's ``(f0_hz, voiced probability)`` ``[N, C, F]``,
    in the order of its clips) and ``kind="posterior"``, each component also keeps its clip's f0
    contour for a generator with a harmonic branch (``TwoStageGenerator.contour``).

    A category without clips keeps a standard normal.
    """
    from sklearn.mixture import GaussianMixture

    first = generators[0]
    k, c, d = first.prior_mean.shape
    mean = np.zeros((k, c, d), np.float32)
    std = np.ones((k, c, d), np.float32)
    cumulative = np.ones((k, c), np.float32)
    contours = first.contours and pitch_by_category is not None and kind == "posterior"
    log2_f0 = np.zeros(tuple(first.prior_log2_f0.shape), np.float32) if first.contours else None
    voicing = np.zeros_like(log2_f0) if first.contours else None
    rng = np.random.default_rng(seed)
    used, n_codes, kept = {}, {}, {}
    for idx, (name, audio) in enumerate(zip(categories, audio_by_category, strict=True)):
        if len(audio) == 0:
            used[name], n_codes[name] = 0, 0
            continue
        mu, sd = encode(encoder, audio)
        if kind == "posterior":
            keep = np.sort(rng.permutation(len(mu))[:c])
            m = len(keep)
            spread = bandwidth * mu.std(axis=0) if len(mu) > 1 else np.zeros(d, np.float32)
            mean[idx, :m] = mu[keep]
            std[idx, :m] = np.sqrt(sd[keep] ** 2 + spread**2)
            cumulative[idx] = np.minimum(np.arange(1, c + 1) / m, 1.0)
            used[name], n_codes[name] = m, m
            kept[idx] = keep
            if contours:
                f0_hz, probability = pitch_by_category[idx]
                voiced = (probability[keep] > 0.5) & (f0_hz[keep] > 0)
                voicing[idx, :m] = voiced
                # every frame with a pitch, voiced or held (``pitch.hold_pitch``, for a gated
                # branch), so that 0 throughout marks a clip without one (``unpitched_share``)
                pitched = f0_hz[keep] > 0
                log2_f0[idx, :m] = np.where(pitched, np.log2(np.maximum(f0_hz[keep], F0_MIN_HZ)), 0.0)
            continue
        codes = (mu[:, None, :] + sd[:, None, :] * rng.standard_normal((len(mu), draws, d))).reshape(-1, d)
        m = int(min(c, max(1, len(audio) // 4)))
        gmm = GaussianMixture(m, covariance_type="diag", reg_covar=1e-4, random_state=seed, max_iter=200)
        gmm.fit(codes)
        order = np.argsort(-gmm.weights_)
        mean[idx, :m] = gmm.means_[order]
        std[idx, :m] = np.sqrt(gmm.covariances_[order])
        weights = np.zeros(c)
        weights[:m] = gmm.weights_[order]
        cumulative[idx] = np.cumsum(weights / weights.sum())
        cumulative[idx, m - 1 :] = 1.0  # no draw may land past the last fitted component
        used[name], n_codes[name] = m, len(codes)
    for g in generators:
        g.prior_mean.copy_(torch.from_numpy(mean))
        g.prior_std.copy_(torch.from_numpy(std))
        g.prior_cumulative.copy_(torch.from_numpy(cumulative))
        g.refresh_anchor()
        if g.contours:
            g.prior_log2_f0.copy_(torch.from_numpy(log2_f0))
            g.prior_voiced.copy_(torch.from_numpy(voicing))
    return PriorFit(used, n_codes, kept)


# The detail gain is fitted on at most this many clips per category (seconds per fit on a CPU).
POSTFILTER_CLIPS = 48
# The gains tried; the fitted one is interpolated between the two that bracket the clips.
DETAIL_GAINS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
# Flatness is read finer than the decoder draws (10.8 Hz bins at 44.1 kHz): partials it smears
# between its own bins show there as noise between them. Only up to 11 kHz, where tones have
# their partials: above, a geometric mean compares noise floors (near silence in most clips).
FLATNESS_FFT = 4096
FLATNESS_MAX_HZ = 11025.0
_ACTIVE_DB = 40.0  # frames within this of the clip's loudest count


def log_flatness(
    audio: torch.Tensor, sample_rate: int, n_fft: int = FLATNESS_FFT, max_hz: float = FLATNESS_MAX_HZ
) -> torch.Tensor:
    """Per clip ``[B]``: log10 spectral flatness of ``audio [B, C, T]`` (mono mix) below ``max_hz``,
    the geometric over the arithmetic mean of each frame's power, averaged over the frames within
    40 dB of the loudest."""
    mono = audio.float().mean(dim=1)
    window = torch.hann_window(n_fft, device=audio.device)
    spectrum = torch.stft(mono, n_fft, n_fft // 4, window=window, return_complex=True)
    bins = min(spectrum.shape[1], int(max_hz * n_fft / sample_rate) + 1)
    power = spectrum[:, :bins].abs() ** 2 + 1e-10  # [B, F, N]
    flat = torch.exp(torch.log(power).mean(dim=1)) / power.mean(dim=1)  # [B, N]
    level = 10 * torch.log10(power.mean(dim=1))
    active = (level > level.amax(dim=1, keepdim=True) - _ACTIVE_DB).float()
    return torch.log10((flat * active).sum(dim=1) / active.sum(dim=1))


@torch.no_grad()
def fit_postfilter(
    generators: list[TwoStageGenerator],
    reference: TwoStageGenerator,
    encoder: SpectralEncoder,
    audio_by_category: list[np.ndarray],
    seed: int = 0,
) -> dict[int, float] | None:
    """Fit each category's detail gain and write it into every generator.

    Up to ``POSTFILTER_CLIPS`` clips ``[N, C, T]`` per category are reconstructed through
    ``reference``'s decoder (what ships) at each of ``DETAIL_GAINS``; the gain is where the
    median per-clip log10 flatness ratio, reconstruction over clip (``log_flatness``), crosses 0:
    the reconstructions are then as tonal as the clips they reconstruct. 1 where they already
    are, 4 at most (a decoder that far off needs training, not a stronger filter).

    Returns the gains by category index (a category without clips keeps 1), or None when the
    postfilter is off."""
    bins = reference.postfilter_bins
    if not bins:
        return None
    decoder = reference.decoder
    was_training = decoder.training
    decoder.eval()
    dev, rate = decoder.head.weight.device, reference.shape.sample_rate
    rng = np.random.default_rng(seed)
    gains = torch.ones_like(reference.detail_gain)
    for k, audio in enumerate(audio_by_category):
        if len(audio) == 0:
            continue
        chosen = np.ascontiguousarray(audio[np.sort(rng.permutation(len(audio))[:POSTFILTER_CLIPS])])
        mu, _ = encode(encoder, chosen)
        clips = torch.from_numpy(chosen).to(dev)
        ratios = torch.zeros(len(DETAIL_GAINS), len(clips))
        for i in range(0, len(clips), 16):
            features = decoder.decode_features(torch.from_numpy(mu[i : i + 16]).to(dev))
            real = log_flatness(clips[i : i + 16], rate).cpu()
            for j, gain in enumerate(DETAIL_GAINS):
                made = decoder.finish(features, torch.full((len(features),), gain, device=dev))
                ratios[j, i : i + 16] = log_flatness(made, rate).cpu() - real
        gains[k] = _crossing(DETAIL_GAINS, ratios.median(dim=1).values.tolist())
    decoder.train(was_training)
    for g in generators:
        g.detail_gain.copy_(gains)
    return {k: float(v) for k, v in enumerate(gains)}


@torch.no_grad()
def fit_time_gain(
    generators: list[TwoStageGenerator],
    reference: TwoStageGenerator,
    encoder: SpectralEncoder,
    audio_by_category: list[np.ndarray],
    seed: int = 0,
    only: Sequence[int] = (),
) -> dict[int, float] | None:
    """Fit each category's gain over time (``model.postfilter_time_frames``) and write it into
    every generator; with ``only`` (category indices), the others get 1. Call it after
    ``fit_postfilter``: the reconstructions it measures play through the category's detail gain.

    Up to ``POSTFILTER_CLIPS`` clips ``[N, C, T]`` per category are reconstructed; the gain is
    the clips' detail over time (``time_detail``, RMS) over their reconstructions' at gain 1,
    corrected once by the same ratio at that gain, so that the reconstructions move as much as
    the clips; between 1 (it never blurs) and ``MAX_TIME_GAIN``. Returns the gains by category
    index, or None when it is off."""
    if not reference.time_postfilter:
        return None
    decoder = reference.decoder
    was_training = decoder.training
    decoder.eval()
    dev = decoder.head.weight.device
    stft = STFT(decoder.stft_cfg).to(dev)
    frames = decoder.postfilter_time_frames
    rng = np.random.default_rng([seed, 5])
    gains = torch.ones_like(reference.time_gain)
    for k, audio in enumerate(audio_by_category):
        if len(audio) == 0:
            continue
        chosen = np.ascontiguousarray(audio[np.sort(rng.permutation(len(audio))[:POSTFILTER_CLIPS])])
        mu, _ = encode(encoder, chosen)
        clips = torch.from_numpy(chosen).to(dev)
        features = [
            decoder.decode_features(torch.from_numpy(mu[i : i + 16]).to(dev)) for i in range(0, len(mu), 16)
        ]
        real = torch.stack(
            [time_detail(to_mag_phase(clips[i : i + 16], stft)[0], frames) for i in range(0, len(clips), 16)]
        ).sum(0)
        real_rms = float((real[0] / real[1]).sqrt())

        def made_rms(gain: float, k: int = k, features: list = features) -> float:
            total = torch.zeros(2)
            for x in features:
                n = len(x)
                audio_out = decoder.finish(
                    x, reference.detail_gain[k].expand(n), time_gain=torch.full((n,), gain, device=dev)
                )
                total += time_detail(to_mag_phase(audio_out, stft)[0], frames)
            return float((total[0] / total[1].clamp_min(1)).sqrt())

        # the detail does not grow exactly in proportion (the moving average moves too): one
        # correction from where the first ratio lands
        gain = real_rms / max(made_rms(1.0), 1e-12)
        if 1.0 < gain < MAX_TIME_GAIN:
            gain *= real_rms / max(made_rms(gain), 1e-12)
        gains[k] = min(max(gain, 1.0), MAX_TIME_GAIN)
    if only:
        # fitted everywhere and then reset, so the chosen categories get what a full fit gives them
        gains[[k for k in range(len(gains)) if k not in set(only)]] = 1.0
    decoder.train(was_training)
    for g in generators:
        g.time_gain.copy_(gains)
    return {k: float(v) for k, v in enumerate(gains)}


def time_detail(log_mag: torch.Tensor, frames: int) -> torch.Tensor:
    """``[2]``: the sum of squared detail over time of ``log_mag [B, C, F, N]`` (around its moving
    average over ``frames`` frames, as ``time_postfilter`` sees it) over the bins of frames
    louder than ``TIME_ACTIVE``, and how many such bins there are."""
    floored = log_mag.float().clamp_min(TIME_FLOOR)
    smooth = _moving_average(floored, frames)
    active = (floored > TIME_ACTIVE).float()
    return torch.stack([(((floored - smooth) ** 2) * active).sum(), active.sum()]).cpu()


# bins quieter than this log-magnitude (near silence) do not count in ``time_detail``
TIME_ACTIVE = -9.0
# a decoder whose dynamics are off by more needs training, not a stronger filter
MAX_TIME_GAIN = 2.0


@torch.no_grad()
def fit_component_gains(
    generators: list[TwoStageGenerator],
    reference: TwoStageGenerator,
    audio_by_category: list[np.ndarray],
    kept: dict[int, np.ndarray],
    batch: int = 16,
) -> dict[int, np.ndarray]:
    """Fit each posterior component's detail gain (``model.postfilter_per_component``).

    Each component's mean is decoded through ``reference``'s decoder (what ships) at each of
    ``DETAIL_GAINS``; its gain is where the log10 flatness ratio of that decode over its own clip
    (``log_flatness``; the clips ``audio_by_category[k][kept[k]]`` ``[M, C, T]``) crosses 0, as
    ``fit_postfilter`` does for a category's median. A component already as tonal as its clip
    keeps 1. Components not fitted keep their category's gain.

    Returns each category's gains over its fitted components, by category index."""
    decoder = reference.decoder
    was_training = decoder.training
    decoder.eval()
    dev, rate = decoder.head.weight.device, reference.shape.sample_rate
    table = reference.detail_gain.unsqueeze(1).expand_as(reference.prior_detail_gain).clone()
    fitted = {}
    for k, clips_of in kept.items():
        m = len(clips_of)
        if m == 0:
            continue
        clips = audio_by_category[k][clips_of]
        ratios = np.zeros((len(DETAIL_GAINS), m))
        for i in range(0, m, batch):
            means = reference.prior_mean[k, i : min(m, i + batch)]
            features = decoder.decode_features(means.to(decoder.head.weight.dtype))
            real = log_flatness(torch.from_numpy(np.ascontiguousarray(clips[i : i + batch])).to(dev), rate)
            for j, gain in enumerate(DETAIL_GAINS):
                made = decoder.finish(features, torch.full((len(features),), gain, device=dev))
                ratios[j, i : i + len(features)] = (log_flatness(made, rate) - real).cpu().numpy()
        gains = np.array([_crossing(DETAIL_GAINS, ratios[:, j].tolist()) for j in range(m)], np.float32)
        table[k, :m] = torch.from_numpy(gains).to(table)
        fitted[k] = gains
    decoder.train(was_training)
    for g in generators:
        g.prior_detail_gain.copy_(table)
    return fitted


# Draws per prior component that the gesture classifier hears when the prior is weighted by
# typicality: the component's mean and draws around it (seconds per fit on a CPU, per category).
TYPICALITY_DRAWS = 3
TYPICALITY_FLOOR = 0.01


@dataclass(frozen=True)
class TypicalityFit:
    """What weighting the prior by typicality found, per category the classifier knows.

    ``heard``: each component's mean probability of its own category, ``[M]`` (fitted ones
    only); ``share_before`` / ``share_after``: that probability averaged over the prior's
    weights before and after (what a draw is expected to sound like); ``effective``: the
    effective number of components after (``1 / sum(w**2)``), the variety left to draw from."""

    heard: dict[str, np.ndarray]
    share_before: dict[str, float]
    share_after: dict[str, float]
    effective: dict[str, float]


@torch.no_grad()
def weight_by_typicality(
    generators: list[TwoStageGenerator],
    reference: TwoStageGenerator,
    categories: list[str],
    exponent: float,
    seed: int = 0,
    draws: int = TYPICALITY_DRAWS,
    batch: int = 32,
    only: Sequence[str] = (),
) -> TypicalityFit:
    """Reweight each category's prior components by how surely they sound like that category.

    Each fitted component is played through ``reference`` (what ships: the EMA generator, with
    its postfilter and contours) at its mean and ``draws - 1`` draws around it, and the packaged
    gesture classifier gives the probability of the component's own category, averaged over
    them: ``heard``. Its weight becomes ``w * heard ** exponent`` (renormalised), written into
    every generator. A posterior prior has one component per clip, and some clips are heard as
    another category (the classifier recognises 65 to 98 % of the real clips per category); an
    exponent above 0 draws those less often, so a requested category sounds like it, at the
    cost of some variety (``effective``). Categories the classifier does not know keep their
    weights, and so does every category not in ``only`` when it names any.
    A component heard at probability 0 is weighted as if at ``TYPICALITY_FLOOR``.
    """
    from gesturegan.training.classifier import default_classifier
    from gesturegan.training.scoring import features

    clf = default_classifier()
    weights = reference.weights().double().cpu().numpy()  # [K, M]
    new_weights = weights.copy()
    dev = reference.prior_mean.device
    rate = reference.shape.sample_rate
    was_training = reference.training
    reference.eval()
    heard, before, after, effective = {}, {}, {}, {}
    for k, name in enumerate(categories):
        fitted = np.flatnonzero(weights[k] > 0)
        if name not in clf.categories or len(fitted) == 0 or (only and name not in only):
            continue
        rng = np.random.default_rng([seed, k])  # each category's draws, whichever others are judged
        z = rng.standard_normal((len(fitted), draws, reference.latent_dim)).astype(np.float32)
        z[:, 0, 1:] = 0.0  # the component's mean itself
        z[:, :, 0] = reference.prior_anchor[k, fitted].cpu().numpy()[:, None]
        z = torch.from_numpy(z.reshape(-1, reference.latent_dim)).to(dev)
        cond = torch.zeros(len(z), len(categories), device=dev)
        cond[:, k] = 1.0
        audio = torch.cat(
            [reference(z[i : i + batch], cond[i : i + batch]).clamp(-1, 1) for i in range(0, len(z), batch)]
        )
        probability = clf.predict_proba(features(audio.float().cpu().numpy(), rate))
        own = probability[:, clf.categories.index(name)].reshape(len(fitted), draws).mean(axis=1)
        w = weights[k, fitted]
        # a floor keeps every fitted component drawable (and fitted at the next refit)
        reweighted = w * np.maximum(own, TYPICALITY_FLOOR) ** exponent
        if reweighted.sum() > 0:
            new_weights[k, fitted] = reweighted / reweighted.sum()
        heard[name] = own
        before[name] = float((w * own).sum() / w.sum())
        after[name] = float((new_weights[k, fitted] * own).sum())
        effective[name] = float(1.0 / np.sum(new_weights[k, fitted] ** 2))
    reference.train(was_training)
    _write_weights(generators, new_weights)
    return TypicalityFit(heard, before, after, effective)


def _write_weights(generators: list[TwoStageGenerator], weights: np.ndarray) -> None:
    """Component weights ``[K, M]`` (each row summing to 1) written into every generator as
    cumulative weights, with the anchors ``z[:, 0]`` that pick each component."""
    cumulative = np.cumsum(weights, axis=1)
    for k in range(len(cumulative)):
        fitted = np.flatnonzero(weights[k] > 0)
        if len(fitted):
            cumulative[k, fitted[-1] :] = 1.0  # no draw may land past the last fitted component
    for g in generators:
        g.prior_cumulative.copy_(torch.from_numpy(cumulative).float())
        g.refresh_anchor()


# draws per prior component that ``weight_by_noise_share`` plays
NOISE_SHARE_DRAWS = 4


@dataclass(frozen=True)
class NoiseShareFit:
    """What ``weight_by_noise_share`` did, per category it reweighted: the share of draws
    noisier than the category's median clip before and after (the clips: a half), and the
    extreme weights as multiples of the previous ones."""

    before: dict[str, float]
    after: dict[str, float]
    factor_range: dict[str, tuple[float, float]]


@torch.no_grad()
def weight_by_noise_share(
    generators: list[TwoStageGenerator],
    reference: TwoStageGenerator,
    audio_by_category: list[np.ndarray],
    categories: list[str],
    only: Sequence[str],
    seed: int = 0,
    draws: int = NOISE_SHARE_DRAWS,
    batch: int = 16,
) -> NoiseShareFit:
    """Reweight the prior components of the categories in ``only`` so that as many draws are
    noisier than the category's median clip as clips are: a half (``model.prior_noise_share``).

    A category of drones holds tonal pads and noise beds, and its flatness is bimodal (quartiles
    0.25, 1 and 24 times the median in the corpus): a ratio of medians says on which side of
    that cliff the median draw falls. Through ``reference`` (what ships), each fitted component
    plays ``draws`` draws; ``p`` is the share of them noisier (``log_flatness``) than the median
    of the clips ``audio_by_category[k]`` ``[N, C, T]``, ``P`` the weighted share over the
    components. A component's weight ``w`` becomes ``w * ((1 - p) / (1 - P) + p / P) / 2``,
    renormalised: the weighted share is then a half, and a category already at a half keeps
    its weights. Written into every generator."""
    weights = reference.weights().double().cpu().numpy()  # [K, M]
    new_weights = weights.copy()
    dev = reference.prior_mean.device
    rate = reference.shape.sample_rate
    was_training = reference.training
    reference.eval()
    before, after, factors = {}, {}, {}
    for k, name in enumerate(categories):
        fitted = np.flatnonzero(weights[k] > 0)
        clips = audio_by_category[k]
        if name not in only or len(fitted) == 0 or len(clips) == 0:
            continue
        real = torch.cat(
            [
                log_flatness(torch.from_numpy(np.ascontiguousarray(clips[i : i + batch])).to(dev), rate)
                for i in range(0, len(clips), batch)
            ]
        )
        median = float(real.median())
        rng = np.random.default_rng([seed, 11, k])
        z = rng.standard_normal((len(fitted), draws, reference.latent_dim)).astype(np.float32)
        z[:, :, 0] = reference.prior_anchor[k, fitted].cpu().numpy()[:, None]
        z = torch.from_numpy(z.reshape(-1, reference.latent_dim)).to(dev)
        cond = torch.zeros(len(z), len(categories), device=dev)
        cond[:, k] = 1.0
        flatness = torch.cat(
            [
                log_flatness(reference(z[i : i + batch], cond[i : i + batch]), rate)
                for i in range(0, len(z), batch)
            ]
        )
        noisy = (flatness > median).double().cpu().numpy().reshape(len(fitted), draws).mean(axis=1)
        w = weights[k, fitted]
        share = float((w * noisy).sum() / w.sum())
        before[name] = share
        if not 0.0 < share < 1.0:  # every draw on one side: nothing to balance with
            after[name] = share
            continue
        factor = ((1 - noisy) / (1 - share) + noisy / share) / 2
        reweighted = w * factor
        new_weights[k, fitted] = reweighted / reweighted.sum()
        after[name] = float((new_weights[k, fitted] * noisy).sum())
        factors[name] = (float(factor.min()), float(factor.max()))
    reference.train(was_training)
    _write_weights(generators, new_weights)
    return NoiseShareFit(before, after, factors)


def _crossing(xs: tuple[float, ...], ys: list[float]) -> float:
    """Where ``ys`` (falling with ``xs``) first reaches 0, linearly between grid points; the ends outside."""
    if ys[0] <= 0:
        return xs[0]
    for j in range(1, len(xs)):
        if ys[j] <= 0:
            x0, x1, y0, y1 = xs[j - 1], xs[j], ys[j - 1], ys[j]
            return x0 + (x1 - x0) * y0 / (y0 - y1)
    return xs[-1]
