"""Generation speed: onnxruntime per batch size, models side by side in one run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


# -- generation -------------------------------------------------------------------------------
def generation(model_path: Path, batches=(1, 16, 64), seconds: float = 1.5) -> list[dict]:
    """ms per gesture and real-time factor of ``model_path`` on each onnxruntime provider here."""
    from gesturegan.server.inference.model import load_model, provider_candidates

    rows = []
    providers = ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in provider_candidates("auto") else [])
    for provider in providers:
        model = load_model(model_path, provider=provider, batch_sizes=batches)
        info = model.info
        for b in batches:
            rng = np.random.default_rng(0)
            z = rng.standard_normal((b, info.latent_dim)).astype(np.float32)
            cond = np.eye(info.n_categories, dtype=np.float32)[np.arange(b) % info.n_categories]
            times, start = [], time.perf_counter()
            while len(times) < 5 or (time.perf_counter() - start < seconds and len(times) < 500):
                t = time.perf_counter()
                model.generate(z, cond)
                times.append(time.perf_counter() - t)
            med = float(np.median(times))
            rows.append(
                {
                    "model": model_path.name,
                    "family": info.family,
                    "engine": "onnxruntime",
                    "device": provider,
                    "batch": b,
                    "calls": len(times),
                    "median_ms": med * 1e3,
                    "p99_ms": float(np.percentile(times, 99)) * 1e3,
                    "ms_per_gesture": med * 1e3 / b,
                    "realtime_factor": info.duration_s * b / med,
                }
            )
    return rows


def generation_side_by_side(models: list[Path], batches=(1, 16, 64), rounds: int = 3) -> list[dict]:
    """``generation`` of several models, interleaved round by round so the machine's drift (heat,
    other load) falls on all alike; each row is the round whose median is the median of the rounds."""
    runs: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for path in models:
            for row in generation(path, batches, seconds=1.0):
                runs.setdefault((str(path), row["device"], row["batch"]), []).append(row)
    out = []
    for rows in runs.values():
        rows = sorted(rows, key=lambda r: r["median_ms"])
        out.append(dict(rows[len(rows) // 2], rounds=len(rows)))
    return out
