"""Variations of a real sound: a file, placed in the model's latent space by its encoder (numpy).

``load_like`` reads a file and prepares it as ``prepare`` prepared the training clips: the
model's channels and rate, cut at its onset (the first 5 ms frame within 50 dB of the
peak, with 5 ms of pre-roll), cropped or zero-padded to the model's length with a short
fade, and brought to the loudness in the model's metadata (RMS target, peak ceiling).

``place`` asks the encoder (``MODEL.encoder.onnx``) where that clip sits: the latent
``mu [Z]`` that plays it back, the spread ``sigma [Z]`` a take may wander by, and the
category. Given no category, the model chooses: the one whose prior holds the sound with
the smallest latent (the most typical place for it). A take at ``amount`` plays
``mu + amount * sigma * noise``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gesturegan.server.core.contract import ModelInfo


class LikeError(ValueError):
    """The file cannot be used as a sound to vary; the message says why."""


@dataclass(frozen=True)
class Placed:
    """Where a real sound sits in a model: its latent, the spread of its takes, its category."""

    mu: np.ndarray  # [Z]
    sigma: np.ndarray  # [Z]
    category: int
    clip: np.ndarray  # [C, T] as the encoder heard it


def load_like(path: str | Path, info: ModelInfo) -> np.ndarray:
    """The file as a clip ``[channels, n_samples]`` float32, prepared like the training data."""
    import soundfile as sf
    import soxr

    path = Path(path)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)  # [T, C]
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise LikeError(f"{path.name}: cannot read it as audio ({e})") from e
    if audio.size == 0 or not np.isfinite(audio).all():
        raise LikeError(f"{path.name}: empty or not finite")
    mono_or_kept = audio.mean(axis=1, keepdims=True) if info.channels == 1 else audio
    if mono_or_kept.shape[1] != info.channels:
        mono_or_kept = np.repeat(mono_or_kept[:, :1], info.channels, axis=1)
    if rate != info.sample_rate:
        mono_or_kept = soxr.resample(mono_or_kept, rate, info.sample_rate, quality="HQ")
    x = np.ascontiguousarray(mono_or_kept.T, dtype=np.float32)  # [C, T]
    peak = float(np.abs(x).max())
    if peak < 1e-3:  # -60 dBFS, prepare's silence floor
        raise LikeError(f"{path.name}: silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS)")
    hop = max(info.sample_rate // 200, 1)
    n = x.shape[1] // hop
    env = 20 * np.log10(
        np.sqrt((x[:, : n * hop].mean(axis=0).reshape(max(n, 1), -1) ** 2).mean(axis=1)) + 1e-10
    )
    active = np.flatnonzero(env > max(env.max() - 50.0, -60.0))
    onset = max(int(active[0]) * hop - hop, 0) if active.size else 0
    clip = np.zeros((info.channels, info.n_samples), np.float32)
    seg = x[:, onset : onset + info.n_samples]
    clip[:, : seg.shape[1]] = seg
    if onset + info.n_samples < x.shape[1]:  # cut before the sound ended: fade out cleanly
        tail = min(info.n_samples // 8, int(0.05 * info.sample_rate))
        clip[:, info.n_samples - tail :] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
    content = clip[:, : max(seg.shape[1], 1)].astype(np.float64)
    rms = float(np.sqrt((content**2).mean()) + 1e-12)
    target = float(info.loudness.get("target_rms_db", -20.0))
    ceiling = float(info.loudness.get("peak_ceiling_db", -1.0))
    gain_db = min(target - 20 * np.log10(rms), ceiling - 20 * np.log10(float(np.abs(content).max()) + 1e-12))
    return clip * np.float32(10 ** (gain_db / 20))


def place(encoder, clip: np.ndarray, n_categories: int, category: int | None = None) -> Placed:
    """Encode ``clip [C, T]`` in ``category`` (or the model's choice, see the module doc)."""
    cats = range(n_categories) if category is None else [category]
    cond = np.eye(n_categories, dtype=np.float32)[list(cats)]
    batch = np.repeat(clip[None].astype(np.float32), len(cond), axis=0)
    mu, logvar = encoder.encode(batch, cond)
    sigma = np.exp(0.5 * logvar)
    # The most typical place: the smallest latent, counting only the dimensions a take moves.
    spread = (sigma > 1e-3).astype(np.float64)
    best = int(np.argmin(((mu * spread) ** 2).sum(axis=1)))
    return Placed(mu[best].astype(np.float32), sigma[best].astype(np.float32), int(cond[best].argmax()), clip)


def takes(placed: Placed, amount: float, seeds: list[int], latent_dim: int) -> np.ndarray:
    """Latents ``[len(seeds), Z]`` of takes at ``amount`` (0: the sound itself, 1: as varied as the model)."""
    from gesturegan.server.core.morph import latent_from_seed

    if not 0.0 <= amount <= 4.0:
        raise LikeError(
            f"amount must be in 0..4 (0: the sound itself, 1: as varied as the model), not {amount}"
        )
    noise = np.stack([latent_from_seed(s, latent_dim) for s in seeds])
    return (placed.mu[None] + amount * placed.sigma[None] * noise).astype(np.float32)
