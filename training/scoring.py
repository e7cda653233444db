"""Quality measures in the gesture classifier's feature space (no torch).

Used by the training loop (a checkpoint's score) and by ``evaluate`` (the full report).
The classifier is trained on real data only and is independent of every discriminator.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from gesturegan.training.classifier import GestureClassifier
from gesturegan.training.features import features_from_audio


def features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Classifier features ``[N, F]`` of gestures ``[N, C, T]``."""
    return np.stack([features_from_audio(np.asarray(a), sample_rate) for a in audio])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to embeddings ``a [N, D]`` and ``b [M, D]``;
    NaN when it cannot be measured (a generator gone to NaN or inf, a singular product), so a
    checkpoint is still written, with no score, rather than lost to an exception."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    # A small ridge keeps the square root defined when there are fewer samples than dims.
    eye = np.eye(a.shape[1]) * 1e-6
    cov_a = np.cov(a, rowvar=False) + eye
    cov_b = np.cov(b, rowvar=False) + eye
    try:
        covmean = linalg.sqrtm(cov_a @ cov_b)
    except (linalg.LinAlgError, ValueError):
        return float("nan")
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def mean_pairwise_distance(a: np.ndarray) -> float:
    """Mean Euclidean distance between distinct rows of ``a [N, D]`` (diversity)."""
    if a.shape[0] < 2:
        return 0.0
    d = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))
    return float(d.sum() / (a.shape[0] * (a.shape[0] - 1)))


def checkpoint_score(
    generated: dict[str, np.ndarray],
    real_embeddings: dict[str, np.ndarray],
    sample_rate: int,
    classifier: GestureClassifier,
) -> float:
    """Mean over categories of the Fréchet distance, generated vs real (lower is better)."""
    scores = []
    for name, audio in generated.items():
        real = real_embeddings.get(name)
        if real is None or real.shape[0] < 2 or audio.shape[0] < 2:
            continue
        scores.append(frechet_distance(classifier.embed(features(audio, sample_rate)), real))
    return float(np.mean(scores)) if scores else float("nan")
