"""Fit the gesture classifier on a labelled folder and report how well it generalises.

    python -m gesturegan.training.fit_classifier ../shared/corpus/sonic-pi \\
        --labels ../shared/corpus/sonic-pi/labels.csv \\
        --out training/data/gesture_classifier.json --report docs/classifier.md

Cross-validation is grouped by source file (one feature vector per file, so every fold
holds whole files), stratified by category and repeated over several seeds. Needs the
``train`` extra (scikit-learn); the fitted file is plain JSON read by numpy alone.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gesturegan.training.classifier import GESTURE_CATEGORIES, GestureClassifier, Tree, file_features
from gesturegan.training.features import FEATURE_NAMES

FOREST = {"n_estimators": 300, "min_samples_leaf": 2, "max_features": "sqrt"}


def read_labels(csv_path: Path) -> list[tuple[str, str]]:
    """Rows ``(file, category)`` of a ``file,category[,confidence]`` CSV."""
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"file", "category"} <= set(reader.fieldnames):
            raise ValueError(f"{csv_path}: expected a header with 'file' and 'category' columns")
        return [(r["file"].strip(), r["category"].strip()) for r in reader if r["file"].strip()]


def _forest(seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, n_jobs=-1, **FOREST)


def fit(
    features: np.ndarray, labels: list[str], categories: tuple[str, ...], seed: int = 0
) -> GestureClassifier:
    """Fit the forest on ``features`` ``[N, F]`` and convert it to a :class:`GestureClassifier`."""
    y = np.array([categories.index(c) for c in labels])
    forest = _forest(seed).fit(features.astype(np.float32), y)
    trees = []
    for est in forest.estimators_:
        t = est.tree_
        value = np.zeros((t.node_count, len(categories)))
        # scikit-learn only sees the classes present in the data; map them back to ours.
        raw = t.value[:, 0, :]
        value[:, forest.classes_] = raw / raw.sum(axis=1, keepdims=True)
        trees.append(
            Tree(
                feature=t.feature.astype(np.int64),
                threshold=t.threshold.astype(np.float64),
                left=t.children_left.astype(np.int64),
                right=t.children_right.astype(np.int64),
                value=value,
                depth=int(t.max_depth),
            )
        )
    std = features.std(axis=0)
    return GestureClassifier(
        categories=categories,
        feature_names=FEATURE_NAMES,
        mean=features.mean(axis=0).astype(np.float64),
        std=np.where(std > 1e-9, std, 1.0).astype(np.float64),
        trees=tuple(trees),
        info={"n_files": len(labels), "forest": FOREST, "seed": seed},
    )


@dataclass
class CrossValidation:
    accuracies: list[float]  # one per repeat
    confusion: np.ndarray  # [K, K] summed over repeats: rows true, columns predicted
    wrong: dict[str, tuple[str, dict[str, int]]]  # file -> (true, {predicted: times})
    repeats: int


def cross_validate(
    features: np.ndarray,
    labels: list[str],
    files: list[str],
    categories: tuple[str, ...],
    folds: int = 5,
    repeats: int = 5,
) -> CrossValidation:
    """Stratified k-fold over files, repeated with different shuffles."""
    from sklearn.model_selection import StratifiedKFold

    y = np.array([categories.index(c) for c in labels])
    k = len(categories)
    confusion = np.zeros((k, k), dtype=np.int64)
    accs, wrong = [], {}
    for rep in range(repeats):
        pred = np.empty_like(y)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=rep).split(features, y):
            model = fit(features[train], [labels[i] for i in train], categories, seed=rep)
            pred[test] = model.predict_proba(features[test]).argmax(axis=1)
        accs.append(float((pred == y).mean()))
        np.add.at(confusion, (y, pred), 1)
        for i in np.flatnonzero(pred != y):
            entry = wrong.setdefault(files[i], (labels[i], {}))
            name = categories[pred[i]]
            entry[1][name] = entry[1].get(name, 0) + 1
    return CrossValidation(accs, confusion, wrong, repeats)


def report_markdown(cv: CrossValidation, categories: tuple[str, ...], n_files: int, source: str) -> str:
    acc = np.array(cv.accuracies)
    lines = [
        "# The gesture classifier: cross-validated on the shared labels",
        "",
        f"Data: `{source}`, {n_files} files. Features: {len(FEATURE_NAMES)} interpretable envelope and",
        "spectrum descriptors (`gesturegan/training/features.py`). Model: random forest "
        f"({FOREST['n_estimators']} trees, min {FOREST['min_samples_leaf']} files per leaf).",
        "",
        "Stratified 5-fold cross-validation grouped by file (each file is one example, so no file is",
        f"ever on both sides), repeated {cv.repeats} times with different shuffles.",
        "",
        f"**Accuracy: {acc.mean():.1%} ± {acc.std():.1%}** (per repeat: "
        + ", ".join(f"{a:.1%}" for a in acc)
        + ").",
        "",
        f"Confusion matrix (rows: label, columns: prediction; summed over the {cv.repeats} repeats):",
        "",
        "| label \\ predicted | " + " | ".join(categories) + " | recall |",
        "| --- | " + " | ".join("---:" for _ in categories) + " | ---: |",
    ]
    for i, c in enumerate(categories):
        row = cv.confusion[i]
        recall = row[i] / max(row.sum(), 1)
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + f" | {recall:.0%} |")
    lines += [
        "",
        "## Files the classifier disagrees with",
        "",
        "Files misclassified in at least half of the repeats, with what it said instead. Most sit",
        "on a boundary the category definitions leave open (see the corpus README): long decays",
        "that keep moving (trigger vs trigger_continuous), loops whose level drifts",
        "(continuous_variation vs continuous_repetition).",
        "",
        "| file | label | predicted (times out of repeats) |",
        "| --- | --- | --- |",
    ]
    for f, (true, preds) in sorted(cv.wrong.items()):
        if sum(preds.values()) * 2 >= cv.repeats:
            said = ", ".join(f"{p} ({n})" for p, n in sorted(preds.items(), key=lambda kv: -kv[1]))
            lines.append(f"| `{f}` | {true} | {said} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m gesturegan.training.fit_classifier",
        description="Fit the gesture classifier on labelled audio and report cross-validated accuracy.",
    )
    ap.add_argument("src", type=Path, help="folder the CSV's file paths are relative to")
    ap.add_argument("--labels", type=Path, required=True, help="CSV with header file,category")
    ap.add_argument("--out", type=Path, required=True, help="where to write the classifier JSON")
    ap.add_argument("--report", type=Path, help="write the cross-validation report (markdown) here")
    ap.add_argument("--repeats", type=int, default=5, help="cross-validation repeats (default 5)")
    args = ap.parse_args(argv)

    rows = read_labels(args.labels)
    found = sorted({c for _, c in rows})
    categories = GESTURE_CATEGORIES if set(found) <= set(GESTURE_CATEGORIES) else tuple(found)
    results = file_features([args.src / f for f, _ in rows], progress=True)
    files, labels, feats = [], [], []
    for (f, c), (x, err) in zip(rows, results, strict=True):
        if x is None:
            print(f"skipped {f}: {err}", file=sys.stderr)
            continue
        files.append(f)
        labels.append(c)
        feats.append(x)
    features = np.stack(feats)
    if args.report:
        cv = cross_validate(features, labels, files, categories, repeats=args.repeats)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report_markdown(cv, categories, len(files), str(args.src)))
        print(f"cross-validated accuracy {np.mean(cv.accuracies):.1%} ± {np.std(cv.accuracies):.1%}")
    model = fit(features, labels, categories, seed=0)
    model.info.update({"source": args.src.name, "cv_accuracy": None})
    if args.report:
        model.info["cv_accuracy"] = round(float(np.mean(cv.accuracies)), 4)
    model.save(args.out)
    print(f"wrote {args.out} ({len(files)} files, categories: {', '.join(categories)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
