"""The spectral representation every generator speaks, and its one-pass inverse.

Generators predict, per STFT frame and bin, a log-magnitude ``m`` and a phase ``p``
(Vocos-style); audio is ``iSTFT(exp(m) * (cos p + i sin p))``. Both transforms are fixed
convolutions with DFT bases (``Conv1d`` analysis, ``ConvTranspose1d`` synthesis, then
division by the summed squared window), so the whole path exports to ONNX and runs in
onnxruntime; ``torch.stft``/``torch.istft`` do not export. No Griffin-Lim anywhere here.

Shapes: audio ``[B, C, T]``; spectra ``[B, C, F, N]`` with ``F = n_fft // 2 + 1`` bins and
``N = T // hop + 1`` frames (``center=True``: reflect padding of ``n_fft // 2``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Floor under magnitudes before the log: -140 dB, far below 24-bit audio's noise floor.
LOG_FLOOR = 1e-7


@dataclass(frozen=True)
class STFTConfig:
    """The transform's constants; stored with every run and in every exported model."""

    n_fft: int = 1024
    hop: int = 256
    window: str = "hann"

    def __post_init__(self) -> None:
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            raise ValueError(f"n_fft must be a power of two >= 16, not {self.n_fft}")
        if not 0 < self.hop <= self.n_fft // 2 or self.n_fft % self.hop:
            raise ValueError(f"hop must divide n_fft and be at most n_fft/2 for overlap-add, not {self.hop}")
        if self.window != "hann":
            raise ValueError(f"only the hann window is supported, not {self.window!r}")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, n_samples: int) -> int:
        """Frames of a ``center=True`` STFT of ``n_samples`` samples."""
        return n_samples // self.hop + 1

    def to_dict(self) -> dict:
        return asdict(self)


def _exporting() -> bool:
    """True while ``torch.onnx.export`` traces: then the conv forms, which export, are used."""
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()


def _window(cfg: STFTConfig) -> torch.Tensor:
    return torch.hann_window(cfg.n_fft, periodic=True, dtype=torch.float64)


def _dft_basis(cfg: STFTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Windowed cosine and sine bases ``[F, n_fft]`` in float64."""
    n = torch.arange(cfg.n_fft, dtype=torch.float64)
    k = torch.arange(cfg.bins, dtype=torch.float64)
    angle = 2 * math.pi * k[:, None] * n[None, :] / cfg.n_fft
    return torch.cos(angle), torch.sin(angle)


class STFT(nn.Module):
    """Waveform ``[B, C, T]`` to complex spectrum as ``(real, imag)``, each ``[B, C, F, N]``.

    Equal to ``torch.stft(x, n_fft, hop, window=hann, center=True, pad_mode="reflect",
    onesided=True)`` but written as one strided ``Conv1d`` so it exports to ONNX.
    """

    def __init__(self, cfg: STFTConfig):
        super().__init__()
        self.cfg = cfg
        cos, sin = _dft_basis(cfg)
        w = _window(cfg)
        basis = torch.cat([cos * w, -sin * w])[:, None, :]  # [2F, 1, n_fft]
        self.register_buffer("basis", basis.float(), persistent=False)
        self.register_buffer("window", w.float(), persistent=False)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv(audio) if _exporting() else self.fft(audio)

    def fft(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same transform through ``torch.stft``: many times faster to train with."""
        b, c, t = audio.shape
        spec = torch.stft(
            audio.reshape(b * c, t),
            self.cfg.n_fft,
            self.cfg.hop,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        spec = spec.reshape(b, c, *spec.shape[-2:])
        return spec.real, spec.imag

    def conv(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exported form: one strided ``Conv1d`` with the windowed DFT basis."""
        b, c, t = audio.shape
        pad = self.cfg.n_fft // 2
        x = F.pad(audio.reshape(b * c, 1, t), (pad, pad), mode="reflect")
        spec = F.conv1d(x, self.basis, stride=self.cfg.hop)  # [B*C, 2F, N]
        spec = spec.reshape(b, c, 2, self.cfg.bins, spec.shape[-1])
        return spec[:, :, 0], spec[:, :, 1]


class ISTFT(nn.Module):
    """Complex spectrum ``(real, imag)`` ``[B, C, F, N]`` to waveform ``[B, C, T]``.

    Inverse DFT and synthesis window as one ``ConvTranspose1d``, overlap-added, divided by
    the summed squared window (as ``torch.istft`` does), trimmed by ``n_fft // 2`` at both
    ends. ``length`` fixes ``T`` (default ``(N - 1) * hop``, at most ``(N - 1) * hop + n_fft // 2``).
    """

    def __init__(self, cfg: STFTConfig):
        super().__init__()
        self.cfg = cfg
        cos, sin = _dft_basis(cfg)
        w = _window(cfg)
        # One-sided spectrum: DC and Nyquist count once, every other bin twice.
        scale = torch.full((cfg.bins, 1), 2.0, dtype=torch.float64)
        scale[0] = scale[-1] = 1.0
        scale = scale / cfg.n_fft
        basis = torch.cat([cos * scale * w, -sin * scale * w])[:, None, :]  # [2F, 1, n_fft]
        self.register_buffer("basis", basis.float(), persistent=False)
        # The first half frame (positions 0 .. n_fft/2) of each part; the second half mirrors it,
        # since cos and the periodic Hann window are even about n_fft/2 and sin is odd.
        half = cfg.n_fft // 2 + 1
        self.register_buffer(
            "cos_half", (cos * scale * w)[:, :half].float(), persistent=False
        )  # [F, n_fft/2 + 1]
        self.register_buffer("sin_half", (sin * scale * w)[:, :half].float(), persistent=False)
        self.register_buffer("window_sq", (w**2).float()[None, None, :], persistent=False)
        self.register_buffer("window", w.float(), persistent=False)
        self._envelopes: dict[tuple[int, int], np.ndarray] = {}

    def forward(self, real: torch.Tensor, imag: torch.Tensor, length: int | None = None) -> torch.Tensor:
        if _exporting():
            return self.matmul(real, imag, length)
        return self.fft(real, imag, length)

    def matmul(self, real: torch.Tensor, imag: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """The exported form: the inverse DFT as two half-size MatMuls, then overlap-add by shifted sums.

        A real frame is even-plus-odd about its middle: with ``C = Re @ cos`` and ``S = Im @ sin``
        over positions ``0 .. n_fft/2`` (window folded in), position ``n`` is ``C - S`` and position
        ``n_fft - n`` is ``C + S``. That is half the multiplies of one ``[2F, n_fft]`` MatMul.
        Overlap-add: ``n_fft / hop`` slices of the frames, each padded to its offset and summed (in
        onnxruntime about a third faster than ``ConvTranspose1d``; ``docs/representation.md``).
        """
        b, c, f, n = real.shape
        length = self._check_length(n, length)
        hop, k, half = self.cfg.hop, self.cfg.n_fft // self.cfg.hop, self.cfg.n_fft // 2
        even = real.reshape(b * c, f, n).transpose(1, 2) @ self.cos_half  # [B*C, N, n_fft/2 + 1]
        odd = imag.reshape(b * c, f, n).transpose(1, 2) @ self.sin_half
        first, second = even - odd, even + odd
        frames = torch.cat([first[..., :half], torch.flip(second[..., 1:], dims=[-1])], dim=-1)
        frames = frames.reshape(b * c, n, k, hop)  # [B*C, N, k, hop]
        y = None
        for j in range(k):  # slice j of frame i lands at (i + j) * hop
            part = F.pad(frames[:, :, j, :].reshape(b * c, n * hop), (j * hop, (k - 1 - j) * hop))
            y = part if y is None else y + part
        pad = self.cfg.n_fft // 2
        inv = torch.from_numpy(self._inverse_envelope(n, length)).to(device=y.device, dtype=y.dtype)
        y = y[:, pad : pad + length] * inv  # a constant in the exported graph
        return y.reshape(b, c, -1)

    def _inverse_envelope(self, n: int, length: int) -> np.ndarray:
        """``1 / sum of squared windows`` at each output sample, for ``n`` frames (numpy, cached)."""
        key = (n, length)
        cached = self._envelopes.get(key)
        if cached is None:
            w2 = self.window_sq.reshape(-1).cpu().double().numpy()
            env = np.zeros((n - 1) * self.cfg.hop + self.cfg.n_fft)
            for i in range(n):
                env[i * self.cfg.hop : i * self.cfg.hop + self.cfg.n_fft] += w2
            pad = self.cfg.n_fft // 2
            cached = self._envelopes[key] = (1.0 / np.maximum(env[pad : pad + length], 1e-11)).astype(
                np.float32
            )
        return cached

    def _check_length(self, n: int, length: int | None) -> int:
        length = (n - 1) * self.cfg.hop if length is None else length
        # The last frame reaches n_fft/2 past its centre; beyond that no frame holds the signal.
        if length > (n - 1) * self.cfg.hop + self.cfg.n_fft // 2:
            raise ValueError(
                f"{n} frames cover {(n - 1) * self.cfg.hop + self.cfg.n_fft // 2} samples, not {length}"
            )
        return length

    def fft(self, real: torch.Tensor, imag: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """The same inverse through ``torch.istft`` (training speed; it does not export)."""
        b, c, f, n = real.shape
        length = self._check_length(n, length)
        spec = torch.complex(real.float(), imag.float()).reshape(b * c, f, n)
        y = torch.istft(spec, self.cfg.n_fft, self.cfg.hop, window=self.window, center=True, length=length)
        return y.reshape(b, c, -1)

    def conv(self, real: torch.Tensor, imag: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """The exported form: ``ConvTranspose1d`` with the inverse DFT basis, then overlap-add."""
        b, c, f, n = real.shape
        spec = torch.cat([real, imag], dim=2).reshape(b * c, 2 * f, n)
        y = F.conv_transpose1d(spec, self.basis, stride=self.cfg.hop)  # [B*C, 1, (N-1)*hop + n_fft]
        ones = torch.ones(1, 1, n, dtype=real.dtype, device=real.device)
        envelope = F.conv_transpose1d(ones, self.window_sq, stride=self.cfg.hop)
        pad = self.cfg.n_fft // 2
        length = self._check_length(n, length)
        y = y[..., pad : pad + length] / envelope[..., pad : pad + length].clamp_min(1e-11)
        return y.reshape(b, c, -1)


class MagPhase(nn.Module):
    """The generators' output head: log-magnitude and phase ``[B, C, F, N]`` to audio ``[B, C, T]``.

    ``exp`` is clamped so a wild logit cannot overflow to inf on the live path.

    ``phase_advance``: the network's phase is a *deviation* from each bin's own rotation,
    ``2 pi k hop / n_fft`` per frame (a phase vocoder's prior), added here as a constant
    ``[F, N]``. Without it a steady sinusoid needs a per-bin ramp over frames that a conv stack
    cannot make; it settles for near-constant phase, which overlap-adds into a pulse train
    at the frame rate (a comb at ``sample_rate / hop`` Hz).

    ``change`` (optional, ``[B, C, F, N]``): a phase change per frame, summed over frames and
    added (GANSynth's instantaneous frequency). A partial between two bins needs a deviation
    that grows by the same amount every frame: a ramp over hundreds of frames, which a conv
    stack cannot draw (it jitters, and the jitter fills the valleys between partials with
    noise), but a constant once summed.
    """

    def __init__(
        self, cfg: STFTConfig, n_samples: int, max_log_mag: float = 11.0, phase_advance: bool = False
    ):
        super().__init__()
        self.cfg, self.n_samples, self.max_log_mag = cfg, n_samples, max_log_mag
        self.istft = ISTFT(cfg)
        self.phase_advance = phase_advance
        if phase_advance:
            k = torch.arange(cfg.bins, dtype=torch.float64)[:, None]
            n = torch.arange(cfg.frames(n_samples), dtype=torch.float64)[None, :]
            advance = torch.remainder(2 * math.pi * k * cfg.hop / cfg.n_fft * n, 2 * math.pi)
            self.register_buffer("advance", advance.float(), persistent=False)

    def forward(
        self, log_mag: torch.Tensor, phase: torch.Tensor, change: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.istft(*self.spectrum(log_mag, phase, change), self.n_samples)

    def spectrum(
        self, log_mag: torch.Tensor, phase: torch.Tensor, change: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The complex spectrum ``(real, imag)`` ``[B, C, F, N]`` that ``forward`` inverts."""
        mag = torch.exp(log_mag.clamp(max=self.max_log_mag))
        if change is not None:
            phase = phase + torch.cumsum(change, dim=-1)
        if self.phase_advance:
            phase = phase + self.advance
        return mag * torch.cos(phase), mag * torch.sin(phase)


def to_mag_phase(audio: torch.Tensor, stft: STFT) -> tuple[torch.Tensor, torch.Tensor]:
    """Training targets: ``(log |S|, angle S)`` of audio ``[B, C, T]``, each ``[B, C, F, N]``."""
    real, imag = stft(audio)
    mag = torch.sqrt(real**2 + imag**2).clamp_min(LOG_FLOOR)
    return torch.log(mag), torch.atan2(imag, real)
