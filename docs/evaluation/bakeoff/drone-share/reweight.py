"""Weight one category's prior components so that as many of its draws are noisier than its clips'
median as the clips are (a half), in the model's own flatness (``log_flatness``); not trained.

    python docs/evaluation/bakeoff/drone-share/reweight.py CHECKPOINT OUT.pt --data data/both \
        [--category continuous_variation] [--draws 4]

Each component is decoded ``--draws`` times (``z[1:]`` standard normal, as a draw plays), through
the generator as it ships; ``p_k`` is the share of its decodes noisier than the median training
clip of the category, ``p`` their mean. Component ``k`` gets the weight
``(1 - p_k) * 0.5 / (1 - p) + p_k * 0.5 / p`` (normalised): the weighted share of noisy draws is
then one half, as the clips'. Prints the shares before and after.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import log_flatness
from gesturegan.training.state import read_checkpoint, restore_state, save_checkpoint

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("out")
parser.add_argument("--data", required=True)
parser.add_argument("--category", default="continuous_variation")
parser.add_argument("--draws", type=int, default=4)
args = parser.parse_args()

torch.set_num_threads(2)
state = restore_state(read_checkpoint(args.checkpoint), torch.device("cpu"))
data = load_dataset(args.data)
k = state.categories.index(args.category)
train = data.train_index
clips = np.stack([data.audio[i] for i in train[data.labels[train] == k]])
rate = data.shape.sample_rate
generator = state.ema.eval()
with torch.no_grad():
    real = torch.cat(
        [log_flatness(torch.from_numpy(clips[i : i + 16]), rate) for i in range(0, len(clips), 16)]
    )
    median = float(real.median())
    weights = generator.weights()[k]
    used = torch.nonzero(weights > 0).squeeze(1)
    anchors = generator.prior_anchor[k, used]
    noisy = torch.zeros(len(used))
    rng = torch.Generator().manual_seed(0)
    cond = torch.zeros(1, len(state.categories))
    cond[0, k] = 1
    for j, anchor in enumerate(anchors):
        z = torch.randn(args.draws, generator.latent_dim, generator=rng)
        z[:, 0] = anchor
        made = generator(z, cond.expand(args.draws, -1))
        noisy[j] = (log_flatness(made, rate) > median).float().mean()
    before = float((weights[used] * noisy).sum() / weights[used].sum())
    share = float(noisy.mean())
    new = (1 - noisy) * 0.5 / (1 - share) + noisy * 0.5 / share
    new = new / new.sum()
    table = torch.zeros_like(weights)
    table[used] = new
    for g in (state.generator, state.ema):
        g.prior_cumulative[k] = torch.cumsum(table, dim=0).clamp(max=1.0)
        g.prior_cumulative[k, used[-1] :] = 1.0
        g.refresh_anchor()
    after = float((table[used] * noisy).sum())
print(
    f"{args.category}: {len(used)} components; draws noisier than the clips' median: "
    f"{before:.2f} before, {after:.2f} after (the clips: 0.50); weights {float(new.min() * len(used)):.2f}"
    f" to {float(new.max() * len(used)):.2f} x uniform"
)
save_checkpoint(state, Path(args.out))
print(f"wrote {args.out}")
