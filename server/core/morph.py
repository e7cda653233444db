"""Where the performer is in the model's space: category weights and the latent (pure numpy).

- ``xy_weights``: an XY pad with one category at each corner, bilinear in between.
- ``normalise_weights``: explicit weights, clipped at zero and summed to one.
- ``slerp``: spherical interpolation between two latents (Gaussian latents live near a
  sphere; a straight line between two of them passes through unusually quiet, short ones).
- ``LatentState``: a seeded base latent, a second latent to slerp towards, per-trigger
  jitter and a random walk with a speed, all from one seeded ``numpy`` generator so a
  recorded performance replays identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Corner order of the XY pad: (x=0, y=0), (1, 0), (0, 1), (1, 1).
CORNERS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))


def xy_weights(x: float, y: float, n_categories: int = 4) -> np.ndarray:
    """Bilinear weights ``[4]`` for a point of the unit square (clamped); corner k is category k.

    Models with other than four categories map the pad onto the first four and give the
    rest zero; use explicit weights for those.
    """
    if n_categories < 1:
        raise ValueError("a model has at least one category")
    x, y = float(np.clip(x, 0.0, 1.0)), float(np.clip(y, 0.0, 1.0))
    corner = np.array([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y])
    out = np.zeros(n_categories, np.float64)
    m = min(4, n_categories)
    out[:m] = corner[:m]
    return normalise_weights(out)


def normalise_weights(weights) -> np.ndarray:
    """Non-negative weights summing to 1 ``[K]``; refuses an all-zero or non-finite vector."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size == 0 or not np.isfinite(w).all():
        raise ValueError("weights must be finite numbers")
    w = np.maximum(w, 0.0)
    total = w.sum()
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    return w / total


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1), both ``[Z]``."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return (1 - t) * a + t * b
    cos = np.clip(np.dot(a / na, b / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def latent_from_seed(seed: int, latent_dim: int) -> np.ndarray:
    """The standard-normal latent ``[Z]`` of an integer seed (the same on every machine)."""
    return np.random.default_rng(np.uint64(seed & 0xFFFFFFFFFFFFFFFF)).standard_normal(latent_dim)


@dataclass
class LatentState:
    """The latent a trigger uses: the base (or the walk from it) + jitter."""

    latent_dim: int
    seed: int = 0
    jitter: float = 0.3  # standard deviation of the per-trigger noise, relative to the unit prior
    walk_speed: float = 0.0  # radians of the random walk per second
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def __post_init__(self) -> None:
        self.base = latent_from_seed(self.seed, self.latent_dim)
        self.walk = self.base.copy()
        self.scale: np.ndarray | None = None  # per-dimension jitter scale while playing a real sound

    def set_like(self, mu: np.ndarray, sigma: np.ndarray) -> None:
        """Play variations of a real sound: its latent ``mu [Z]`` as the base, jitter scaled by ``sigma [Z]``."""
        self.base = np.asarray(mu, np.float64).copy()
        self.walk = self.base.copy()
        self.scale = np.asarray(sigma, np.float64).copy()

    def set_seed(self, seed: int) -> None:
        """A new base latent (and walk origin)."""
        self.seed = int(seed)
        self.base = latent_from_seed(self.seed, self.latent_dim)
        self.walk = self.base.copy()
        self.scale = None

    def advance(self, seconds: float) -> None:
        """Move the random walk: a rotation of ``walk_speed * seconds`` towards a random direction."""
        if self.walk_speed <= 0 or seconds <= 0:
            return
        direction = self.rng.standard_normal(self.latent_dim)
        self.walk = slerp(
            self.walk,
            direction * (np.linalg.norm(self.walk) / np.linalg.norm(direction)),
            min(1.0, self.walk_speed * seconds / (np.pi / 2)),
        )

    def current(self) -> np.ndarray:
        """The latent without per-trigger jitter ``[Z]``."""
        return self.walk if self.walk_speed > 0 else self.base

    def sample(self, seed: int | None = None) -> np.ndarray:
        """The latent of one trigger ``[Z]`` float32: an explicit seed, or the current one plus jitter."""
        if seed is not None:
            return latent_from_seed(seed, self.latent_dim).astype(np.float32)
        noise = self.rng.standard_normal(self.latent_dim)
        if self.scale is not None:
            noise *= self.scale
        z = self.current() + self.jitter * noise
        return z.astype(np.float32)
