"""``gesturegan render``: gestures of one category (or a mix) as WAV files, no audio device needed.

Each gesture's latent comes from its own seed (``seed + i``), so ``render --seed 7`` writes the
same files on every machine and the engine's ``/trigger ... seed`` plays the same gesture.
Files are written under a temporary name and renamed.

``render_like`` writes new takes of a real sound: the model's encoder places the sound in
the generator's latent space (``mu``), and take ``i`` plays ``mu + amount * sigma * e_i``
with ``e_i`` from seed ``seed + i``; ``amount`` 0 is the model's own re-synthesis of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gesturegan.files import write_wav_atomic
from gesturegan.server.core.morph import latent_from_seed, normalise_weights
from gesturegan.server.inference.model import Model


class RenderError(ValueError):
    pass


def category_weights(
    model: Model, category: str | None, weights: list[float] | None
) -> tuple[np.ndarray, str]:
    """The ``cond`` row ``[K]`` and a file-name stem for a category name/index or explicit weights."""
    cats = list(model.info.categories)
    if weights is not None:
        if len(weights) != len(cats):
            raise RenderError(f"--weights needs {len(cats)} numbers ({', '.join(cats)}), got {len(weights)}")
        try:
            w = normalise_weights(weights)
        except ValueError as e:
            raise RenderError(f"--weights: {e}") from e
        return w.astype(np.float32), "mix-" + "-".join(f"{x:.2f}" for x in w)
    if category is None:
        raise RenderError(f"give --category (one of {', '.join(cats)}) or --weights")
    if category.isdigit() and int(category) < len(cats):
        category = cats[int(category)]
    if category not in cats:
        raise RenderError(f"unknown category {category!r}; this model has {', '.join(cats)}")
    w = np.zeros(len(cats), np.float32)
    w[cats.index(category)] = 1.0
    return w, category


def _write_clip(path: Path, clip: np.ndarray, sample_rate: int, subtype: str) -> None:
    peak = float(np.abs(clip).max())
    if peak > 1.0:
        clip = clip / peak
    write_wav_atomic(path, clip.T, sample_rate, subtype)


def render_like(
    model: Model,
    placed,
    out_dir: Path,
    count: int,
    seed: int,
    amount: float,
    stem: str,
    subtype: str = "PCM_24",
) -> list[Path]:
    """Write ``count`` takes of a placed sound (``like.place``) into ``out_dir``; take i uses seed ``seed + i``."""
    from gesturegan.server.inference.like import LikeError, takes

    if count < 1 or count > 10000:
        raise RenderError(f"--count must be 1..10000, not {count}")
    try:
        z = takes(placed, amount, [seed + i for i in range(count)], model.info.latent_dim)
    except LikeError as e:
        raise RenderError(f"--{e}") from e
    cond_row = np.eye(model.info.n_categories, dtype=np.float32)[placed.category]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, count, 16):
        chunk = z[start : start + 16]
        audio = model.generate(chunk, np.repeat(cond_row[None], len(chunk), axis=0))
        for i, take in enumerate(audio):
            path = out_dir / f"{stem}-like-{amount:.2f}-{seed + start + i:06d}.wav"
            _write_clip(path, take.copy(), model.info.sample_rate, subtype)
            paths.append(path)
    return paths


def render(
    model: Model,
    out_dir: Path,
    count: int,
    seed: int,
    category: str | None = None,
    weights: list[float] | None = None,
    real_level: bool = False,
    subtype: str = "PCM_24",
) -> list[Path]:
    """Write ``count`` gestures into ``out_dir``; returns their paths.

    ``real_level`` undoes the dataset normalisation of the category (the level the sounds had in
    the training library), peak-limited to 0 dBFS.
    """
    if count < 1 or count > 10000:
        raise RenderError(f"--count must be 1..10000, not {count}")
    cond_row, stem = category_weights(model, category, weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    gain = 1.0
    if real_level and category is not None:
        gain = model.info.gain_to_real_level(stem)
    batch = 16
    for start in range(0, count, batch):
        n = min(batch, count - start)
        z = np.stack([latent_from_seed(seed + start + i, model.info.latent_dim) for i in range(n)]).astype(
            np.float32
        )
        audio = model.generate(z, np.repeat(cond_row[None], n, axis=0)).copy()
        for i in range(n):
            clip = audio[i] * gain
            peak = float(np.abs(clip).max())
            if peak > 1.0:
                clip /= peak
            path = out_dir / f"{stem}-{seed + start + i:06d}.wav"
            write_wav_atomic(path, clip.T, model.info.sample_rate, subtype)
            paths.append(path)
    return paths
