"""Evaluate an exported model with a level rule applied after it, outside the graph: how much of
its distance from the corpus is level (stop 37).

    python docs/evaluation/bakeoff/loudness/level_after.py MODEL.onnx --data data/both \
        --rule category|prepare --name NAME [--seeds 0 1 2 3]

``category``: one gain per category, the real clips' median RMS (dBFS) minus the model's, read
from 256 draws per category at seed 1000 (not an evaluated seed); each gesture's peak then held
at -1 dBFS. ``prepare``: each gesture brought to prepare's rule (RMS over its sound at -20 dBFS,
unless its peak would pass -1 dBFS), as ``model.data_loudness`` does in the graph. Writes
``eval-NAME-sS.json`` as ``gesturegan evaluate --json`` does.
"""

import argparse
import json

import numpy as np
import torch

from gesturegan.export.evaluate import _batched, evaluate, source_from_path
from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import to_data_loudness

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model")
parser.add_argument("--data", required=True)
parser.add_argument("--rule", choices=("category", "prepare"), required=True)
parser.add_argument("--name", required=True)
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
args = parser.parse_args()

source = source_from_path(args.model)
data = load_dataset(args.data)
k = len(source.categories)
made = source.generate


def median_rms_db(audio: np.ndarray) -> float:
    rms = np.sqrt((audio.reshape(len(audio), -1).astype(np.float64) ** 2).mean(axis=1))
    return float(np.median(20 * np.log10(rms + 1e-12)))


if args.rule == "category":
    rng = np.random.default_rng(1000)
    gains_db = []
    for i in range(k):
        z = rng.standard_normal((256, source.latent_dim)).astype(np.float32)
        cond = np.zeros((256, k), np.float32)
        cond[:, i] = 1
        real = np.stack([data.audio[j] for j in np.flatnonzero(data.labels == i)])
        gains_db.append(median_rms_db(real) - median_rms_db(_batched(source, z, cond)))
    print("gains (dB):", ", ".join(f"{c} {g:+.2f}" for c, g in zip(source.categories, gains_db, strict=True)))
    gains = (10 ** (np.array(gains_db) / 20)).astype(np.float32)
    ceiling = 10 ** (-1 / 20)

    def generate(z: np.ndarray, cond: np.ndarray) -> np.ndarray:
        audio = made(z, cond) * (cond @ gains)[:, None, None]
        peak = np.abs(audio).reshape(len(audio), -1).max(axis=1)
        return audio * np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))[:, None, None].astype(np.float32)

else:
    rule = torch.tensor([-20.0, -1.0])
    hop = source.sample_rate // 200

    def generate(z: np.ndarray, cond: np.ndarray) -> np.ndarray:
        return to_data_loudness(torch.from_numpy(made(z, cond)), rule, hop).numpy()


source.generate = generate
for seed in args.seeds:
    result = evaluate(source, data, 64, seed, None, progress=False)
    with open(f"eval-{args.name}-s{seed}.json", "w") as f:
        json.dump(result, f, indent=1)
    print(f"seed {seed}: Fréchet {result['overall']['frechet']:.2f} (classifier space)", flush=True)
