"""``gesturegan evaluate``: how good are the gestures a run (or an exported model) makes?

Everything is measured with the gesture classifier that ships with the package, trained
on real sounds only (never a discriminator). Per category and overall:

- conditional accuracy: the share of gestures generated for category c that the
  classifier calls c (only for categories the classifier knows);
- Fréchet distance between real and generated classifier embeddings, printed beside the
  same distance between two random halves of the real data (what "as close as real data
  is to itself" looks like);
- diversity: mean pairwise embedding distance, generated and real;
- loudness (median RMS dBFS, at the model's output level) and the shares of silent
  (peak below -60 dBFS) and clipped (peak at full scale) gestures.

The report is markdown with a sheet of generated spectrograms per category and a morph
strip: the same latent along the path trigger -> ... -> continuous_repetition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gesturegan.files import write_json_atomic, write_text_atomic
from gesturegan.training.classifier import default_classifier
from gesturegan.training.data import Dataset, load_dataset
from gesturegan.training.scoring import features, frechet_distance, mean_pairwise_distance

GenerateFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z [B, Z], cond [B, K]) -> audio [B, C, T]


class EvaluateError(Exception):
    """Evaluation cannot run; the message says why."""


@dataclass
class Source:
    """What is evaluated: a name, the model's categories and shape, and a generate function."""

    name: str
    family: str
    categories: list[str]
    latent_dim: int
    sample_rate: int
    n_samples: int
    generate: GenerateFn


def source_from_path(path: str | Path) -> Source:
    """A run folder / checkpoint (PyTorch, EMA weights) or an exported ``.onnx`` (onnxruntime)."""
    path = Path(path)
    if path.suffix == ".onnx":
        from gesturegan.server.model import ModelError, load_model

        try:
            model = load_model(path, batch_sizes=())
        except ModelError as e:
            raise EvaluateError(str(e)) from e
        i = model.info
        return Source(
            str(path),
            i.family,
            list(i.categories),
            i.latent_dim,
            i.sample_rate,
            i.n_samples,
            lambda z, c: model.generate(z, c).copy(),
        )
    import torch

    from gesturegan.training.state import CheckpointError, load_generator

    try:
        gen, ckpt = load_generator(path)
    except CheckpointError as e:
        raise EvaluateError(str(e)) from e

    def generate(z: np.ndarray, cond: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return gen(torch.from_numpy(z), torch.from_numpy(cond)).clamp(-1, 1).numpy()

    shape = ckpt["shape"]
    return Source(
        f"{path} (step {ckpt['step']})",
        ckpt["family"],
        list(ckpt["categories"]),
        gen.latent_dim,
        shape["sample_rate"],
        shape["n_samples"],
        generate,
    )


def _batched(source: Source, z: np.ndarray, cond: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.concatenate(
        [source.generate(z[i : i + batch], cond[i : i + batch]) for i in range(0, len(z), batch)]
    )


def _level_stats(audio: np.ndarray) -> dict:
    peak = np.abs(audio).reshape(len(audio), -1).max(axis=1)
    rms = np.sqrt((audio.reshape(len(audio), -1).astype(np.float64) ** 2).mean(axis=1))
    return {
        "median_rms_dbfs": float(np.median(20 * np.log10(rms + 1e-12))),
        "silent_rate": float((peak < 10 ** (-60 / 20)).mean()),
        "clipped_rate": float((peak >= 0.999).mean()),
    }


def evaluate(
    source: Source,
    data: Dataset,
    count: int = 64,
    seed: int = 0,
    out_dir: Path | None = None,
    progress: bool = True,
) -> dict:
    """Metrics (see module doc) from ``count`` gestures per category; report files in ``out_dir``."""
    if source.categories != data.categories:
        raise EvaluateError(
            f"the model's categories {source.categories} differ from the dataset's {data.categories}"
        )
    if source.sample_rate != data.shape.sample_rate:
        raise EvaluateError(
            f"the model runs at {source.sample_rate} Hz, the dataset at {data.shape.sample_rate} Hz"
        )
    clf = default_classifier()
    known = set(clf.categories)
    rng = np.random.default_rng(seed)
    # The real data's halves come from their own generator, so every model is compared
    # with the same split whatever its latent size.
    split_rng = np.random.default_rng([seed, 1])
    k = len(source.categories)
    from tqdm import tqdm

    per_category, all_gen, all_real, generated = {}, [], [], {}
    bar = tqdm(source.categories, desc="evaluate", unit="category", disable=not progress)
    for idx, name in enumerate(bar):
        z = rng.standard_normal((count, source.latent_dim)).astype(np.float32)
        cond = np.zeros((count, k), np.float32)
        cond[:, idx] = 1.0
        audio = _batched(source, z, cond)
        generated[name] = audio
        gen_feat = features(audio, source.sample_rate)
        real_idx = np.flatnonzero(data.labels == idx)
        real_audio = np.stack([data.audio[i] for i in real_idx])
        real_feat = features(real_audio, data.shape.sample_rate)
        gen_emb, real_emb = clf.embed(gen_feat), clf.embed(real_feat)
        all_gen.append(gen_emb)
        all_real.append(real_emb)
        perm = split_rng.permutation(len(real_emb))
        half = len(perm) // 2
        row = {
            "n_generated": count,
            "n_real": len(real_emb),
            "frechet": frechet_distance(real_emb, gen_emb),
            "frechet_real_halves": frechet_distance(real_emb[perm[:half]], real_emb[perm[half:]])
            if half >= 2
            else None,
            "diversity": mean_pairwise_distance(gen_emb),
            "diversity_real": mean_pairwise_distance(real_emb),
            **_level_stats(audio),
            "real_median_rms_dbfs": _level_stats(real_audio)["median_rms_dbfs"],
        }
        if name in known:
            predicted, _ = clf.predict(gen_feat)
            row["conditional_accuracy"] = float(np.mean([p == name for p in predicted]))
            real_pred, _ = clf.predict(real_feat)
            row["classifier_accuracy_on_real"] = float(np.mean([p == name for p in real_pred]))
        per_category[name] = row
    gen_all, real_all = np.concatenate(all_gen), np.concatenate(all_real)
    perm = split_rng.permutation(len(real_all))
    half = len(perm) // 2
    accs = [r["conditional_accuracy"] for r in per_category.values() if "conditional_accuracy" in r]
    overall = {
        "frechet": frechet_distance(real_all, gen_all),
        "frechet_real_halves": frechet_distance(real_all[perm[:half]], real_all[perm[half:]]),
        "mean_category_frechet": float(np.mean([r["frechet"] for r in per_category.values()])),
        "conditional_accuracy": float(np.mean(accs)) if accs else None,
        "diversity": mean_pairwise_distance(gen_all),
        "diversity_real": mean_pairwise_distance(real_all),
        **_level_stats(np.concatenate(list(generated.values()))),
    }
    result = {
        "model": source.name,
        "family": source.family,
        "data": str(data.path),
        "data_fingerprint": data.stats.get("fingerprint"),
        "count_per_category": count,
        "seed": seed,
        "overall": overall,
        "per_category": per_category,
    }
    if out_dir is not None:
        write_report(result, generated, source, out_dir, rng)
    return result


def morph_path(k: int, steps_between: int = 3) -> np.ndarray:
    """Weights ``[(K-1) * steps_between + 1, K]`` walking category 0 -> 1 -> ... -> K-1 in straight lines."""
    rows = []
    for a in range(k - 1):
        for t in np.linspace(0, 1, steps_between, endpoint=False):
            w = np.zeros(k, np.float32)
            w[a], w[a + 1] = 1 - t, t
            rows.append(w)
    last = np.zeros(k, np.float32)
    last[-1] = 1
    return np.stack([*rows, last])


def write_report(result: dict, generated: dict, source: Source, out_dir: Path, rng) -> Path:
    from gesturegan.training.sheets import spectrogram_sheet

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spectrogram_sheet(
        {c: list(a[:8]) for c, a in generated.items()},
        source.sample_rate,
        out_dir / "generated.png",
        title=f"{source.family}: generated, 8 per category",
    )
    weights = morph_path(len(source.categories))
    z = np.repeat(rng.standard_normal((1, source.latent_dim)).astype(np.float32), len(weights), axis=0)
    morph = _batched(source, z, weights)
    caps = [" / ".join(f"{w:.2f}" for w in row) for row in weights]
    spectrogram_sheet(
        {"morph": list(morph)},
        source.sample_rate,
        out_dir / "morph.png",
        title="one latent along " + " -> ".join(source.categories),
        columns=len(weights),
        captions={"morph": caps},
    )
    o = result["overall"]

    def f(x, nd=3):
        return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))

    lines = [
        f"# Evaluation of {source.name}",
        "",
        f"Family `{result['family']}`; {result['count_per_category']} gestures per category (seed {result['seed']}) "
        f"against the real examples of `{result['data']}` (dataset {result['data_fingerprint']}). "
        "Measured with the packaged gesture classifier (trained on real sounds only).",
        "",
        "## Overall",
        "",
        "| measure | generated | real data, for scale |",
        "| --- | --- | --- |",
        f"| Fréchet distance (all categories) | {f(o['frechet'])} | {f(o['frechet_real_halves'])} (two halves of the real data) |",
        f"| mean per-category Fréchet distance | {f(o['mean_category_frechet'])} | |",
        f"| conditional accuracy | {f(o['conditional_accuracy'])} | |",
        f"| diversity (mean pairwise distance) | {f(o['diversity'])} | {f(o['diversity_real'])} |",
        f"| median RMS (dBFS) | {f(o['median_rms_dbfs'], 1)} | |",
        f"| silent / clipped gestures | {f(o['silent_rate'], 2)} / {f(o['clipped_rate'], 2)} | |",
        "",
        "## Per category",
        "",
        "| category | cond. accuracy | classifier on real | Fréchet | Fréchet real halves | diversity (real) | RMS dBFS (real) | silent | clipped |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c, r in result["per_category"].items():
        lines.append(
            f"| {c} | {f(r.get('conditional_accuracy'), 2)} | {f(r.get('classifier_accuracy_on_real'), 2)} | "
            f"{f(r['frechet'])} | {f(r['frechet_real_halves'])} | {f(r['diversity'])} ({f(r['diversity_real'])}) | "
            f"{f(r['median_rms_dbfs'], 1)} ({f(r['real_median_rms_dbfs'], 1)}) | {f(r['silent_rate'], 2)} | "
            f"{f(r['clipped_rate'], 2)} |"
        )
    lines += [
        "",
        "Fréchet distances are between Gaussians fitted to standardised classifier features; lower is "
        "closer to the real data. Real examples are level-normalised by `prepare`, so RMS compares "
        "the model's output level with the training level.",
        "",
        "## Generated gestures",
        "",
        "![generated](generated.png)",
        "",
        "## Morph strip",
        "",
        "![morph](morph.png)",
        "",
    ]
    report = out_dir / "report.md"
    write_text_atomic(report, "\n".join(lines))
    write_json_atomic(out_dir / "metrics.json", result)
    return report


def run_evaluate(
    model: str | Path,
    data: str | Path,
    count: int,
    out_dir: Path | None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    return evaluate(source_from_path(model), load_dataset(data), count, seed, out_dir, progress)


def summary_text(result: dict) -> str:
    o = result["overall"]
    acc = "n/a" if o["conditional_accuracy"] is None else f"{o['conditional_accuracy']:.2f}"
    lines = [
        f"{result['model']}: Fréchet {o['frechet']:.3f} (real halves {o['frechet_real_halves']:.3f}), "
        f"conditional accuracy {acc}, diversity {o['diversity']:.3f} (real {o['diversity_real']:.3f}), "
        f"silent {o['silent_rate']:.2f}, clipped {o['clipped_rate']:.2f}"
    ]
    for c, r in result["per_category"].items():
        a = r.get("conditional_accuracy")
        lines.append(f"  {c:24s} accuracy {'n/a' if a is None else f'{a:.2f}'}  Fréchet {r['frechet']:.3f}")
    return "\n".join(lines)


__all__ = ["EvaluateError", "evaluate", "run_evaluate", "source_from_path", "summary_text"]
