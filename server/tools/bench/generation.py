"""Generation speed: onnxruntime per batch size, models side by side in one run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


# -- generation -------------------------------------------------------------------------------
def _inputs(latent_dim: int, n_categories: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``z [B, Z]`` and one-hot ``cond [B, K]`` cycling over the categories, the same every run."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, latent_dim)).astype(np.float32)
    cond = np.eye(n_categories, dtype=np.float32)[np.arange(batch) % n_categories]
    return z, cond


def _time_calls(model, z: np.ndarray, cond: np.ndarray, seconds: float, at_least: int = 5) -> list[float]:
    """Seconds per ``model.generate`` call, for ``seconds`` (at least ``at_least`` calls, at most 500)."""
    times, start = [], time.perf_counter()
    while len(times) < at_least or (time.perf_counter() - start < seconds and len(times) < 500):
        t = time.perf_counter()
        model.generate(z, cond)
        times.append(time.perf_counter() - t)
    return times


def _row(path: Path, info, provider: str, batch: int, times: list[float]) -> dict:
    med = float(np.median(times))
    return {
        "model": path.name,
        "family": info.family,
        "engine": "onnxruntime",
        "device": provider,
        "batch": batch,
        "calls": len(times),
        "median_ms": med * 1e3,
        "p99_ms": float(np.percentile(times, 99)) * 1e3,
        "ms_per_gesture": med * 1e3 / batch,
        "realtime_factor": info.duration_s * batch / med,
    }


def _providers() -> list[str]:
    from gesturegan.server.inference.model import provider_candidates

    return ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in provider_candidates("auto") else [])


def generation(model_path: Path, batches=(1, 16, 64), seconds: float = 1.5) -> list[dict]:
    """ms per gesture and real-time factor of ``model_path`` on each onnxruntime provider here."""
    from gesturegan.server.inference.model import load_model

    rows = []
    for provider in _providers():
        model = load_model(model_path, provider=provider, batch_sizes=batches)
        info = model.info
        for b in batches:
            z, cond = _inputs(info.latent_dim, info.n_categories, b)
            rows.append(_row(Path(model_path), info, provider, b, _time_calls(model, z, cond, seconds)))
    return rows


def generation_side_by_side(
    models: list[Path], batches=(1, 16, 64), rounds: int = 12, seconds: float = 0.25
) -> list[dict]:
    """``generation`` of several models, loaded together and timed in turn, ``seconds`` each per round.

    A shared machine's speed drifts within a minute; short turns over many rounds let the drift
    fall on every model alike. Each row pools all its calls over the rounds. The sessions spin
    between calls, as in ``generation``; a spinning session stops soon after its turn, so it
    barely touches the next model's.
    """
    from gesturegan.server.inference.model import load_model

    out = []
    for provider in _providers():
        loaded = [load_model(p, provider=provider, batch_sizes=batches) for p in models]
        for b in batches:
            times: list[list[float]] = [[] for _ in loaded]
            for _ in range(rounds):
                for i, model in enumerate(loaded):
                    z, cond = _inputs(model.info.latent_dim, model.info.n_categories, b)
                    times[i] += _time_calls(model, z, cond, seconds, at_least=2)
            out += [
                dict(_row(Path(p), m.info, provider, b, t), rounds=rounds)
                for p, m, t in zip(models, loaded, times, strict=True)
            ]
    return out
