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

A second space that no model is selected on (``second_opinion``: librosa log-mel,
envelope and spectral-shape statistics, PCA fitted on the real clips) gives an outside
opinion beside those figures, per category: diversity ratio, second-opinion accuracy (a
logistic regression fitted on real clips, beside its cross-validated accuracy on them),
nearest-real ratio, flatness ratio and Fréchet distance; and for each pair of categories
the share of morph midpoints given to one of the two and the largest step along the morph
over the median step.

The report is markdown with a sheet of generated spectrograms per category and a morph
strip: the same latent along the path trigger -> ... -> continuous_repetition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gesturegan.export.second_opinion import Descriptors, SecondSpace
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
        from gesturegan.server.inference.model import ModelError, load_model

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
    second = _second_opinion(source, data, generated, rng, progress, count, seed)
    for name, row in per_category.items():
        row["diversity_ratio"] = row["diversity"] / row["diversity_real"] if row["diversity_real"] else None
        row["second_opinion"] = second["per_category"].get(name)
    auto = sum(1 for f in data.label_from or [] if f == "auto")
    result = {
        "model": source.name,
        "family": source.family,
        "data": str(data.path),
        "data_fingerprint": data.stats.get("fingerprint"),
        # examples whose label the packaged classifier chose (prepare --auto-label): on them the
        # conditional accuracy measures the classifier's agreement with itself
        "labels_by_classifier": auto / len(data.labels),
        "count_per_category": count,
        "seed": seed,
        "overall": overall,
        "per_category": per_category,
        "second_opinion": second,
    }
    if out_dir is not None:
        write_report(result, generated, source, out_dir, rng)
    return result


# Latents walked along each pair's morph (fewer when fewer gestures per category are asked
# for). With 8, one latent moved a pair's midpoint figure by 0.125; 24 per pair (144 midpoints
# over the six pairs) keep the overall figure's standard error near 0.04.
MORPH_LATENTS = 24
MORPH_POINTS = 9  # points from one pure category to the other (the middle one is the 50/50 mix)


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b else None


# Per-clip flatness spans about four decades within a category, so a ratio of two medians of
# 64 draws swings widely between draws; the bootstrap interval says how far.
FLATNESS_BOOTSTRAP = 2000


def median_ratio_interval(
    generated: np.ndarray, real: np.ndarray, seed: int = 0, level: float = 0.9
) -> tuple[float, float] | None:
    """Bootstrap interval of ``median(generated) / median(real)``, both ``[N]``, resampled independently.

    ``level`` of the resampled ratios lie inside it; None when either side is empty or a real
    median can be zero."""
    if generated.size == 0 or real.size == 0:
        return None
    rng = np.random.default_rng(seed)
    gen_med = np.median(rng.choice(generated, (FLATNESS_BOOTSTRAP, generated.size)), axis=1)
    real_med = np.median(rng.choice(real, (FLATNESS_BOOTSTRAP, real.size)), axis=1)
    if np.any(real_med <= 0):
        return None
    lo, hi = np.quantile(gen_med / real_med, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _second_opinion(
    source: Source, data: Dataset, generated: dict, rng, progress: bool, count: int, seed: int = 0
) -> dict:
    """Every figure of the second space (see ``second_opinion``), per category, overall and per morph pair."""
    from gesturegan.export.second_opinion import (
        describe,
        fit_space,
        leave_source_out_distances,
        nearest_distances,
    )

    cats = source.categories
    real_audio = np.asarray(data.audio)
    groups = data.sources or [str(i) for i in range(len(real_audio))]
    real = describe(real_audio, data.shape.sample_rate)
    space = fit_space(real.vectors, data.labels, groups, cats)
    real_emb = space.embed(real.vectors)
    split_rng = np.random.default_rng([0, 2])
    per_category, gen_all = {}, []
    for k, name in enumerate(cats):
        gen = describe(generated[name], source.sample_rate)
        emb = space.embed(gen.vectors)
        gen_all.append(emb)
        mine = np.flatnonzero(data.labels == k)
        if mine.size < 2:
            continue
        r_emb = real_emb[mine]
        r_groups = [groups[i] for i in mine]
        perm = split_rng.permutation(len(mine))
        half = len(perm) // 2
        real_nn = leave_source_out_distances(r_emb, r_groups)
        real_nn = real_nn[np.isfinite(real_nn)]
        gen_nn = nearest_distances(emb, r_emb)
        predicted = space.predict_proba(emb).argmax(axis=1)
        diversity, diversity_real = mean_pairwise_distance(emb), mean_pairwise_distance(r_emb)
        per_category[name] = {
            "diversity": diversity,
            "diversity_real": diversity_real,
            "diversity_ratio": _ratio(diversity, diversity_real),
            "accuracy": float(np.mean(predicted == k)),
            "accuracy_real_cv": space.cv_accuracy.get(name),
            "nearest_real": float(np.median(gen_nn)),
            "nearest_real_real": float(np.median(real_nn)) if real_nn.size else None,
            "nearest_real_ratio": _ratio(float(np.median(gen_nn)), float(np.median(real_nn)))
            if real_nn.size
            else None,
            "flatness": float(np.median(gen.flatness)),
            "flatness_real": float(np.median(real.flatness[mine])),
            "flatness_ratio": _ratio(float(np.median(gen.flatness)), float(np.median(real.flatness[mine]))),
            "flatness_ratio_90": median_ratio_interval(np.asarray(gen.flatness), real.flatness[mine], seed=k),
            "frechet": frechet_distance(r_emb, emb),
            "frechet_real_halves": frechet_distance(r_emb[perm[:half]], r_emb[perm[half:]])
            if half >= 2
            else None,
        }
    morphs = _morph_figures(source, space, describe, rng, progress, min(MORPH_LATENTS, count))
    references = real_midpoint_references(space, describe, data, real_emb, np.random.default_rng([seed, 3]))
    for (a, b), reference in references.items():
        pair = morphs.get(f"{cats[a]} -> {cats[b]}")
        if pair is not None:
            pair["midpoint_in_pair_real"] = reference.embedding
            pair["midpoint_in_pair_crossfade"] = reference.crossfade
            pair["max_step_over_median_crossfade"] = reference.crossfade_step_ratio
    gen_all = np.concatenate(gen_all)
    accs = [r["accuracy"] for r in per_category.values()]
    return {
        "space": "librosa log-mel means and deviations (40 bands), RMS envelope (16 segments), "
        "spectral flatness and centroid; standardised and PCA to 16 dims on the real clips",
        "classifier": "logistic regression on the real clips; accuracy_real_cv by 5 folds grouped by source file",
        "overall": {
            "diversity_ratio": _ratio(mean_pairwise_distance(gen_all), mean_pairwise_distance(real_emb)),
            "accuracy": float(np.mean(accs)) if accs else None,
            "accuracy_real_cv": space.cv_accuracy_overall,
            "frechet": frechet_distance(real_emb, gen_all),
            "morph_midpoints_in_pair": float(np.mean([m["midpoint_in_pair"] for m in morphs.values()]))
            if morphs
            else None,
            "morph_worst_step_ratio": max((m["max_step_over_median"] for m in morphs.values()), default=None),
            "morph_worst_step_ratio_crossfade": max(
                (
                    m["max_step_over_median_crossfade"]
                    for m in morphs.values()
                    if m.get("max_step_over_median_crossfade") is not None
                ),
                default=None,
            ),
            "morph_midpoints_real": _mean_of(morphs, "midpoint_in_pair_real"),
            "morph_midpoints_crossfade": _mean_of(morphs, "midpoint_in_pair_crossfade"),
            "morph_latents": min(MORPH_LATENTS, count),
        },
        "per_category": per_category,
        "morph": morphs,
    }


def _morph_figures(source: Source, space, describe, rng, progress: bool, latents: int) -> dict:
    """Per pair of categories, over ``latents`` latents: where the 50/50 mix lands, how even the walk is."""
    from tqdm import tqdm

    k = len(source.categories)
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    z = rng.standard_normal((latents, source.latent_dim)).astype(np.float32)
    t = np.linspace(0.0, 1.0, MORPH_POINTS, dtype=np.float32)
    out = {}
    for a, b in tqdm(pairs, desc="morph", unit="pair", disable=not progress):
        cond = np.zeros((latents, MORPH_POINTS, k), np.float32)
        cond[:, :, a], cond[:, :, b] = 1.0 - t, t
        zz = np.repeat(z, MORPH_POINTS, axis=0)
        audio = _batched(source, zz, cond.reshape(-1, k))
        emb = space.embed(describe(audio, source.sample_rate).vectors).reshape(latents, MORPH_POINTS, -1)
        middle = space.predict_proba(emb[:, MORPH_POINTS // 2]).argmax(axis=1)
        steps = np.sqrt(((emb[:, 1:] - emb[:, :-1]) ** 2).sum(-1)).ravel()
        name = f"{source.categories[a]} -> {source.categories[b]}"
        out[name] = {
            "midpoint_in_pair": float(np.mean((middle == a) | (middle == b))),
            "midpoint_shares": {c: float(np.mean(middle == i)) for i, c in enumerate(source.categories)},
            "max_step_over_median": float(steps.max() / max(np.median(steps), 1e-12)),
        }
    return out


# The morph references are model-independent (their own generator), so every model is read
# against the same figures. Embeddings' midpoints cost next to nothing: every pair of clips is
# taken up to this many (256 random pairs per category pair swung the overall figure by 0.03
# between seeds); each crossfade is described anew, so those are drawn.
MORPH_REAL_PAIRS = 200_000
MORPH_CROSSFADES = 48
# Crossfade walks (MORPH_POINTS mixes of one pair, for the evenness reference): the first this
# many of the drawn pairs, about a minute of describing for six pairs of categories on two cores.
MORPH_CROSSFADE_WALKS = 16


@dataclass(frozen=True)
class MidpointReference:
    """Where midpoints between real clips of two categories land: shares given to one of the two."""

    embedding: float  # the middle of the two clips' embeddings in the second space
    crossfade: float  # the two clips mixed 50/50, described like any audio
    # the largest step over the median step of walks from one clip to the other in MORPH_POINTS
    # crossfades: how uneven the plainest morph of real sounds is in this space
    crossfade_step_ratio: float | None = None


def real_midpoint_references(
    space: SecondSpace,
    describe: Callable[[np.ndarray, int], Descriptors],
    data: Dataset,
    real_emb: np.ndarray,
    rng: np.random.Generator,
    pairs_per: int = MORPH_REAL_PAIRS,
    crossfades_per: int = MORPH_CROSSFADES,
    walks_per: int = MORPH_CROSSFADE_WALKS,
) -> dict[tuple[int, int], MidpointReference]:
    """Per pair of categories ``(a, b)``: how often real clips' midpoints are given to ``a`` or ``b``:
    the middle of the embeddings of every pair of clips (``pairs_per`` drawn when there are more),
    and ``crossfades_per`` random pairs mixed 50/50 and described. The first ``walks_per`` of those
    pairs are also crossfaded in ``MORPH_POINTS`` steps, the model's morph walk for real sounds:
    their largest step over their median step is the evenness a plain crossfade reaches.

    The morph target reads a 50/50 mix's class. Where a third category lies between two in this
    space, even the straight line between real clips of the two crosses it; these figures say how
    often, so a model's midpoints can be read against what real sounds do. ``real_emb [N, 16]``."""
    audio = np.asarray(data.audio)
    rate = data.shape.sample_rate
    k = len(data.categories)
    out = {}
    for a in range(k):
        for b in range(a + 1, k):
            ia, ib = np.flatnonzero(data.labels == a), np.flatnonzero(data.labels == b)
            if ia.size == 0 or ib.size == 0:
                continue
            every_a, every_b = np.repeat(ia, ib.size), np.tile(ib, ia.size)  # every pair of clips
            if every_a.size > pairs_per:
                keep = rng.choice(every_a.size, pairs_per, replace=False)
                every_a, every_b = every_a[keep], every_b[keep]
            middle = space.predict_proba(0.5 * (real_emb[every_a] + real_emb[every_b])).argmax(axis=1)
            fa, fb = rng.choice(ia, crossfades_per), rng.choice(ib, crossfades_per)
            mixed = describe(0.5 * (audio[fa] + audio[fb]), rate).vectors
            faded = space.predict_proba(space.embed(mixed)).argmax(axis=1)
            out[(a, b)] = MidpointReference(
                float(np.mean((middle == a) | (middle == b))),
                float(np.mean((faded == a) | (faded == b))),
                crossfade_walk_ratio(space, describe, audio, real_emb, fa[:walks_per], fb[:walks_per], rate)
                if walks_per
                else None,
            )
    return out


def crossfade_walk_ratio(
    space: SecondSpace,
    describe: Callable[[np.ndarray, int], Descriptors],
    audio: np.ndarray,
    real_emb: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    sample_rate: int,
) -> float:
    """Largest step over median step of the walks ``audio[first[i]] -> audio[second[i]]`` in
    ``MORPH_POINTS`` crossfades, embedded like the model's morph walk (``audio [N, C, T]``; the ends
    are the clips, whose embeddings ``real_emb [N, 16]`` already hold)."""
    t = np.linspace(0.0, 1.0, MORPH_POINTS, dtype=np.float32)[1:-1, None, None]  # [P-2, 1, 1]
    inner = np.concatenate([(1 - t) * audio[i] + t * audio[j] for i, j in zip(first, second, strict=True)])
    inner_emb = space.embed(describe(inner, sample_rate).vectors).reshape(len(first), len(t), -1)
    walk = np.concatenate([real_emb[first][:, None], inner_emb, real_emb[second][:, None]], axis=1)
    steps = np.sqrt(((walk[:, 1:] - walk[:, :-1]) ** 2).sum(-1)).ravel()
    return float(steps.max() / max(np.median(steps), 1e-12))


def _mean_of(morphs: dict, key: str) -> float | None:
    values = [m[key] for m in morphs.values() if m.get(key) is not None]
    return float(np.mean(values)) if values else None


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


def _same_classifier_warning(result: dict) -> list[str]:
    share = result.get("labels_by_classifier") or 0.0
    if share <= 0:
        return []
    return [
        f"**Note:** {share:.0%} of the dataset's labels were chosen by this same classifier "
        "(`prepare --auto-label`): for those examples the conditional accuracy measures the model "
        "against the classifier's own opinion, not a person's. The second opinion below is "
        "independent of it.",
        "",
    ]


# A category whose gestures sit further than this from the real clips' median level gets a note:
# the second space reads band levels and the envelope in dB, so a level gap moves every draw.
LEVEL_GAP_DB = 3.0


def level_gaps(result: dict) -> dict[str, float]:
    """Per category: the generated gestures' median RMS level minus the real clips' (dB), where
    it is more than ``LEVEL_GAP_DB`` either way. The stop 36 default played 3.5 to 5 dB quiet,
    and that gap was most of its second-space distance (docs/evaluation/bakeoff.md, stop 37)."""
    gaps = {}
    for name, row in result["per_category"].items():
        real = row.get("real_median_rms_dbfs")
        if real is None:
            continue
        gap = row["median_rms_dbfs"] - real
        if abs(gap) > LEVEL_GAP_DB:
            gaps[name] = float(gap)
    return gaps


def _level_lines(result: dict) -> list[str]:
    gaps = level_gaps(result)
    if not gaps:
        return []
    said = ", ".join(f"{name} {gap:+.1f} dB" for name, gap in gaps.items())
    return [
        f"level: the gestures' median level is off the real clips' ({said}); the second space reads "
        "level, so part of its distance is loudness, not sound. A two-stage model plays at the "
        "dataset's rule with model.data_loudness (under it, gestures whose peaks stand higher than "
        "their clips' stay below the RMS target, held by the peak ceiling)."
    ]


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
        *_same_classifier_warning(result),
        *[f"**Note:** {line}" for line in _level_lines(result)],
        *([""] if level_gaps(result) else []),
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
    lines += second_opinion_lines(result, f)
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


def second_opinion_lines(result: dict, f) -> list[str]:
    """The report's section on the second measurement space (markdown lines)."""
    second = result.get("second_opinion")
    if not second:
        return []
    o = second["overall"]
    lines = [
        "",
        "## Second opinion: a space no model is selected on",
        "",
        f"Space: {second['space']}. Classifier: {second['classifier']}.",
        "",
        "| category | diversity ratio, classifier space | diversity ratio, second space | second-opinion accuracy "
        "(on real, cross-validated) | nearest-real ratio | flatness ratio (90 % bootstrap) | Fréchet (real halves) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c, r in result["per_category"].items():
        s = r.get("second_opinion")
        if not s:
            continue
        lines.append(
            f"| {c} | {f(r.get('diversity_ratio'), 2)} | {f(s['diversity_ratio'], 2)} | {f(s['accuracy'], 2)} "
            f"({f(s['accuracy_real_cv'], 2)}) | {f(s['nearest_real_ratio'], 2)} | {f(s['flatness_ratio'], 2)} "
            f"{_interval_text(s.get('flatness_ratio_90'))} | "
            f"{f(s['frechet'], 2)} ({f(s['frechet_real_halves'], 2)}) |"
        )
    lines += [
        f"| all | | {f(o['diversity_ratio'], 2)} | {f(o['accuracy'], 2)} ({f(o['accuracy_real_cv'], 2)}) | | | "
        f"{f(o['frechet'], 2)} |",
        "",
        "Ratios are generated / real: diversity is the mean pairwise distance within a category; nearest-real "
        "is the median distance from a gesture to its nearest real clip of the category over the same for "
        "real clips, each against the clips of other source files (under 1: close to copies; over 1: off the "
        "corpus); flatness is the median spectral flatness (over 1: noisier than the real sounds), with "
        "the 90 % interval of that ratio over bootstrap resamples of both sides: per-clip flatness spans "
        "decades, so one draw's figure can be far from the model's.",
        "",
        "| morph pair | midpoints given to one of the two | real clips' midpoints (their crossfades) "
        "| largest step / median step (real crossfades') |",
        "| --- | --- | --- | --- |",
    ]
    for pair, m in second["morph"].items():
        lines.append(
            f"| {pair} | {f(m['midpoint_in_pair'], 2)} | {f(m.get('midpoint_in_pair_real'), 2)} "
            f"({f(m.get('midpoint_in_pair_crossfade'), 2)}) | {f(m['max_step_over_median'], 2)} "
            f"({f(m.get('max_step_over_median_crossfade'), 2)}) |"
        )
    lines += [
        f"| all | {f(o['morph_midpoints_in_pair'], 2)} | {f(o.get('morph_midpoints_real'), 2)} "
        f"({f(o.get('morph_midpoints_crossfade'), 2)}) | {f(o['morph_worst_step_ratio'], 2)} "
        f"({f(o.get('morph_worst_step_ratio_crossfade'), 2)}) |",
        "",
        "Real clips' midpoints: for every pair of real clips, one of each category, the middle of their "
        "two embeddings in this space, and (in brackets) 48 random such pairs mixed 50/50 as audio, classified "
        "the same way. Where a third category lies between two, real sounds' midpoints land in it too. "
        f"The steps' reference walks {MORPH_CROSSFADE_WALKS} of those pairs from one clip to the other in "
        f"{MORPH_POINTS} crossfades: a plain crossfade's own unevenness in this space.",
    ]
    return lines


def _interval_text(interval) -> str:
    return "" if not interval else f"({interval[0]:.2f} to {interval[1]:.2f})"


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
        line = f"  {c:24s} accuracy {'n/a' if a is None else f'{a:.2f}'}  Fréchet {r['frechet']:.3f}"
        s = r.get("second_opinion")
        if s:
            line += (
                f"  | second space: diversity ratio {s['diversity_ratio']:.2f}, accuracy {s['accuracy']:.2f} "
                f"(real {s['accuracy_real_cv']:.2f}), nearest-real ratio {s['nearest_real_ratio']:.2f}, "
                f"flatness ratio {s['flatness_ratio']:.2f}"
            )
        lines.append(line)
    second = result.get("second_opinion")
    if second and second["overall"]["morph_midpoints_in_pair"] is not None:
        o = second["overall"]
        lines.append(
            f"  morph midpoints given to one of their two categories {o['morph_midpoints_in_pair']:.2f}"
            + (
                f" (real clips' midpoints {o['morph_midpoints_real']:.2f}, their crossfades "
                f"{o['morph_midpoints_crossfade']:.2f})"
                if o.get("morph_midpoints_real") is not None
                else ""
            )
            + f", largest step / median step {o['morph_worst_step_ratio']:.2f}"
            + (
                f" (real crossfades {o['morph_worst_step_ratio_crossfade']:.2f})"
                if o.get("morph_worst_step_ratio_crossfade") is not None
                else ""
            )
        )
    lines += [f"  {line}" for line in _level_lines(result)]
    share = result.get("labels_by_classifier") or 0.0
    if share > 0:
        lines.append(
            f"  note: {share:.0%} of the dataset's labels came from this classifier (--auto-label); "
            "accuracy there is its agreement with itself"
        )
    return "\n".join(lines)


__all__ = ["EvaluateError", "evaluate", "level_gaps", "run_evaluate", "source_from_path", "summary_text"]
