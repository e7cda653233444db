"""Reading a prepared dataset folder (see ``prepare``) for training and evaluation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.models.base import DataShape
from gesturegan.training.pitch import PitchTracks
from gesturegan.training.prepare import DATASET_FORMAT


class DatasetError(Exception):
    """DATA is not a usable dataset folder; the message says what is missing."""


@dataclass
class Dataset:
    """A prepared dataset: audio ``[N, C, T]`` (memory-mapped), labels ``[N]``, splits and stats."""

    path: Path
    audio: np.ndarray
    labels: np.ndarray
    stats: dict
    train_index: np.ndarray
    val_index: np.ndarray
    sources: list[str] | None = None  # the source file of each example (windows of one file share it)
    label_from: list[str] | None = (
        None  # per example: "folder", "csv", "own-csv" or "auto" (the classifier's)
    )
    pitch: PitchTracks | None = None  # pYIN tracks, loaded by training when a model needs them

    @property
    def categories(self) -> list[str]:
        return list(self.stats["categories"])

    @property
    def shape(self) -> DataShape:
        return DataShape(
            n_categories=len(self.categories),
            channels=int(self.audio.shape[1]),
            n_samples=int(self.audio.shape[2]),
            sample_rate=int(self.stats["sample_rate"]),
        )

    def summary(self) -> dict:
        """What a model's metadata says about its training data."""
        return {
            "fingerprint": self.stats.get("fingerprint"),
            "n_examples": int(self.audio.shape[0]),
            "n_files": self.stats.get("n_files"),
            "counts": {c: int((self.labels == i).sum()) for i, c in enumerate(self.categories)},
            "loudness": self.stats.get("loudness"),
        }


def load_dataset(path: str | Path) -> Dataset:
    """Open ``path`` written by ``gesturegan prepare``; refuse anything else clearly."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(
            f"{path} is not a folder; make a dataset with `gesturegan prepare SRC --out {path}`"
        )
    need = ("audio.npy", "labels.npy", "manifest.json", "stats.json")
    missing = [n for n in need if not (path / n).exists()]
    if missing:
        raise DatasetError(f"{path} is not a gesturegan dataset (missing {', '.join(missing)})")
    try:
        stats = json.loads((path / "stats.json").read_text())
        manifest = json.loads((path / "manifest.json").read_text())
        audio = np.load(path / "audio.npy", mmap_mode="r")
        labels = np.load(path / "labels.npy")
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path} is damaged: {e}") from e
    if stats.get("format") != DATASET_FORMAT:
        raise DatasetError(
            f"{path} has dataset format {stats.get('format')!r}; this version reads {DATASET_FORMAT}"
        )
    if audio.ndim != 3 or audio.dtype != np.float32 or not audio.shape[0] == labels.shape[0] == len(manifest):
        raise DatasetError(
            f"{path}: audio.npy {audio.shape}, labels.npy {labels.shape} and manifest disagree"
        )
    if audio.shape[0] == 0:
        raise DatasetError(f"{path} holds no examples")
    split = np.array([r.get("split", "train") for r in manifest])
    train = np.flatnonzero(split == "train")
    val = np.flatnonzero(split == "val")
    if train.size == 0:
        raise DatasetError(f"{path} has no training examples")
    sources = [str(r.get("source", r.get("file", i))) for i, r in enumerate(manifest)]
    label_from = [str(r.get("label_from", "folder")) for r in manifest]
    return Dataset(path, audio, labels.astype(np.int64), stats, train, val, sources, label_from)


MIN_EXAMPLES_PER_CATEGORY = 4  # fewer gives the checkpoint score (a Fréchet distance) no covariance


def check_trainable(data: Dataset) -> None:
    """Refuse, before any step, a dataset a model cannot learn every category of."""
    counts = np.bincount(data.labels[data.train_index], minlength=len(data.categories))
    thin = [
        f"{c} has {int(n)}"
        for c, n in zip(data.categories, counts, strict=True)
        if n < MIN_EXAMPLES_PER_CATEGORY
    ]
    if thin:
        raise DatasetError(
            f"{data.path}: too few training examples ({'; '.join(thin)}); training needs at least "
            f"{MIN_EXAMPLES_PER_CATEGORY} per category. Add sounds, or prepare again with --categories "
            "naming only the categories you have"
        )


class BatchSampler:
    """Draws training batches with a seeded ``torch.Generator`` (saved in checkpoints).

    ``balanced``: pick a category uniformly, then an example of it, so rare categories are
    learnt as well as common ones.
    """

    def __init__(self, data: Dataset, batch_size: int, balanced: bool, generator: torch.Generator):
        self.data, self.batch_size, self.generator = data, batch_size, generator
        labels = data.labels[data.train_index]
        self.by_category = [data.train_index[labels == k] for k in range(len(data.categories))]
        self.present = [k for k, idx in enumerate(self.by_category) if idx.size]
        self.balanced = balanced

    def category_weights(self) -> torch.Tensor:
        """How often each category is drawn ``[K]`` (also used for the generator's categories)."""
        counts = torch.tensor([float(len(i)) for i in self.by_category])
        if self.balanced:
            counts = (counts > 0).float()
        return counts / counts.sum()

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``audio [B, C, T]`` float32 and ``labels [B]`` int64."""
        audio, labels, _ = self.sample_indexed()
        return audio, labels

    def sample_indexed(self) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """``audio [B, C, T]``, ``labels [B]`` and which examples they are ``[B]`` (into the dataset)."""
        cats = torch.multinomial(self.category_weights(), self.batch_size, True, generator=self.generator)
        idx = []
        for k in cats.tolist():
            pool = self.by_category[k]
            idx.append(int(pool[int(torch.randint(len(pool), (1,), generator=self.generator))]))
        audio = torch.from_numpy(np.stack([self.data.audio[i] for i in idx]))
        return audio, torch.from_numpy(self.data.labels[idx]), np.asarray(idx)
