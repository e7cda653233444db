"""Median log10 flatness (4,096-point STFT, below 11 kHz) of prior draws beside the real clips, per detail gain.

The postfilter's fit compares each reconstruction with its own clip (paired). This reads the
distribution instead: 64 draws of each category at gain 1, the checkpoint's fitted gain, 1.5
and 2, against the category's real clips.

    python docs/evaluation/bakeoff/postfilter/generated_flatness.py CHECKPOINT.pt DATA
"""

import sys

import numpy as np
import torch

from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import log_flatness
from gesturegan.training.state import load_generator

torch.set_num_threads(2)
gen, _ = load_generator(sys.argv[1])
data = load_dataset(sys.argv[2])
rate = data.shape.sample_rate
k = len(data.categories)
rng = np.random.default_rng(0)
for c in range(k):
    real = torch.from_numpy(np.stack([data.audio[i] for i in np.flatnonzero(data.labels == c)]))
    real_flat = torch.cat([log_flatness(real[i : i + 32], rate) for i in range(0, len(real), 32)])
    z = torch.from_numpy(rng.standard_normal((64, gen.latent_dim)).astype(np.float32))
    cond = torch.zeros(64, k)
    cond[:, c] = 1
    with torch.no_grad():
        feats = gen.decoder.decode_features(gen.codes(z, cond))
        row = []
        for g in (1.0, float(gen.detail_gain[c]), 1.5, 2.0):
            made = torch.cat([gen.decoder.finish(f, torch.full((len(f),), g)) for f in feats.split(16)])
            row.append(f"gain {g:.2f}: {float(log_flatness(made, rate).median()):.2f}")
    print(data.categories[c], f"real {float(real_flat.median()):.2f}", " | ".join(row), flush=True)
