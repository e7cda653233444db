"""The gesture classifier: interpretable features in, a gesture category out.

Fitted with scikit-learn's random forest (``fit_classifier``), stored as plain JSON arrays
(no pickle: a classifier file is data, never code) and evaluated here with numpy, so it
runs on the runtime install. The same object gives ``evaluate`` its embedding (the
standardised feature vector) for Fréchet distances between real and generated sounds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from gesturegan.files import write_json_atomic
from gesturegan.training.audio import AudioFileError, read_audio
from gesturegan.training.features import FEATURE_NAMES, features_from_audio
from gesturegan.training.workers import map_files

#: The four gesture categories of DESIGN.md, in their canonical (``cond``) order.
GESTURE_CATEGORIES: tuple[str, ...] = (
    "trigger",
    "trigger_continuous",
    "continuous_variation",
    "continuous_repetition",
)
CLASSIFIER_FORMAT = 1
DEFAULT_CLASSIFIER = "gesture_classifier.json"


@dataclass(frozen=True)
class Tree:
    """One decision tree as flat arrays (scikit-learn's layout); leaves have ``left == -1``."""

    feature: np.ndarray  # [nodes] int32
    threshold: np.ndarray  # [nodes] float64, go left when x <= threshold
    left: np.ndarray  # [nodes] int32
    right: np.ndarray  # [nodes] int32
    value: np.ndarray  # [nodes, K] float64 class probabilities (meaningful at leaves)
    depth: int


@dataclass(frozen=True)
class GestureClassifier:
    """A fitted forest over :data:`FEATURE_NAMES` with its standardisation constants."""

    categories: tuple[str, ...]
    feature_names: tuple[str, ...]
    mean: np.ndarray  # [F]
    std: np.ndarray  # [F]
    trees: tuple[Tree, ...]
    info: dict

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, K]`` for features ``[N, F]`` (mean over trees)."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected features [N, {len(self.feature_names)}], got {list(x.shape)}")
        rows = np.arange(x.shape[0])
        total = np.zeros((x.shape[0], len(self.categories)))
        for tree in self.trees:
            node = np.zeros(x.shape[0], dtype=np.int64)
            for _ in range(tree.depth):
                inner = tree.left[node] >= 0
                if not inner.any():
                    break
                go_left = x[rows, tree.feature[node]] <= tree.threshold[node]
                nxt = np.where(go_left, tree.left[node], tree.right[node])
                node = np.where(inner, nxt, node)
            total += tree.value[node]
        return total / len(self.trees)

    def predict(self, features: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Category names and their confidence (the winning probability) for ``[N, F]``."""
        proba = self.predict_proba(features)
        best = proba.argmax(axis=1)
        return [self.categories[i] for i in best], proba[np.arange(len(best)), best]

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Standardised features ``[N, F]``: the space Fréchet distances are measured in."""
        return (np.asarray(features, dtype=np.float64) - self.mean) / self.std

    # -- storage -----------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format": CLASSIFIER_FORMAT,
            "kind": "random_forest",
            "categories": list(self.categories),
            "feature_names": list(self.feature_names),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "info": self.info,
            "trees": [
                {
                    "feature": t.feature.tolist(),
                    "threshold": t.threshold.tolist(),
                    "left": t.left.tolist(),
                    "right": t.right.tolist(),
                    # Leaves only: inner nodes are never read.
                    "value": {str(i): np.round(t.value[i], 5).tolist() for i in np.flatnonzero(t.left < 0)},
                    "depth": t.depth,
                }
                for t in self.trees
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> GestureClassifier:
        if data.get("format") != CLASSIFIER_FORMAT or data.get("kind") != "random_forest":
            raise ValueError("not a gesturegan classifier file (format/kind mismatch)")
        names = tuple(data["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError(
                "classifier was fitted on other features than this version computes; refit it "
                "with `python -m gesturegan.training.fit_classifier`"
            )
        k = len(data["categories"])
        trees = []
        for t in data["trees"]:
            n = len(t["left"])
            value = np.zeros((n, k))
            for i, v in t["value"].items():
                value[int(i)] = v
            trees.append(
                Tree(
                    feature=np.maximum(np.asarray(t["feature"], dtype=np.int64), 0),
                    threshold=np.asarray(t["threshold"], dtype=np.float64),
                    left=np.asarray(t["left"], dtype=np.int64),
                    right=np.asarray(t["right"], dtype=np.int64),
                    value=value,
                    depth=int(t["depth"]),
                )
            )
        return cls(
            categories=tuple(data["categories"]),
            feature_names=names,
            mean=np.asarray(data["mean"], dtype=np.float64),
            std=np.asarray(data["std"], dtype=np.float64),
            trees=tuple(trees),
            info=dict(data.get("info", {})),
        )

    def save(self, path: str | Path) -> None:
        """Write as JSON atomically (temporary name in the same folder, then rename)."""
        write_json_atomic(Path(path), self.to_json(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> GestureClassifier:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read classifier {path}: {exc}") from exc
        return cls.from_json(data)


def default_classifier() -> GestureClassifier:
    """The classifier shipped in the package (fitted on the shared sonic-pi labels)."""
    ref = resources.files("gesturegan.training") / "data" / DEFAULT_CLASSIFIER
    return GestureClassifier.from_json(json.loads(ref.read_text()))


# -- features of many files, in parallel --------------------------------------------------
def _file_features(path: str) -> tuple[np.ndarray | None, str | None]:
    try:
        audio, rate = read_audio(path)
        return features_from_audio(audio, rate), None
    except AudioFileError as exc:
        return None, str(exc)


def file_features(
    paths: Sequence[str | Path], workers: int | None = None, progress: bool = False
) -> list[tuple[np.ndarray | None, str | None]]:
    """``(features [F], None)`` or ``(None, reason)`` for each path, in order; uses every core."""
    return map_files(_file_features, [str(p) for p in paths], workers, "features" if progress else None)
