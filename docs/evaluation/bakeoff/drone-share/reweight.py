"""Weight one category's prior components so that as many of its draws are noisier than its clips'
median as the clips are (a half), in the model's own flatness (``log_flatness``); not trained.

    python docs/evaluation/bakeoff/drone-share/reweight.py CHECKPOINT OUT.pt --data data/both \
        [--category continuous_variation] [--draws 4]

Since stop 37 this is ``model.prior_noise_share`` (``weight_by_noise_share``, which training runs
at every prior fit, and ``component-gain/refit.py --noise-share``); this tool calls it and records
the key. Stop 36's figures came from its first version, which drew with another generator: on the
default it gave 0.59 to 0.51 with weights 0.84 to 1.23 times uniform, this one 0.60 to 0.51 and
0.84 to 1.24.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import weight_by_noise_share
from gesturegan.training.state import read_checkpoint, restore_state, save_checkpoint

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("out")
parser.add_argument("--data", required=True)
parser.add_argument("--category", default="continuous_variation")
parser.add_argument("--draws", type=int, default=4)
args = parser.parse_args()

torch.set_num_threads(2)
checkpoint = read_checkpoint(args.checkpoint)
if args.category not in checkpoint["categories"]:
    raise SystemExit(f"--category {args.category}: not in {', '.join(checkpoint['categories'])}")
checkpoint["config"]["model"]["prior_noise_share"] = [args.category]
state = restore_state(checkpoint, torch.device("cpu"))
data = load_dataset(args.data)
train = data.train_index
by_category = [
    np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(len(data.categories))
]
fit = weight_by_noise_share(
    [state.generator, state.ema],
    state.ema,
    by_category,
    state.categories,
    [args.category],
    state.config.train.seed,
    draws=args.draws,
)
low, high = fit.factor_range.get(args.category, (1.0, 1.0))
print(
    f"{args.category}: draws noisier than the clips' median: {fit.before[args.category]:.2f} before, "
    f"{fit.after[args.category]:.2f} after (the clips: 0.50); weights x {low:.2f} to {high:.2f}"
)
save_checkpoint(state, Path(args.out))
print(f"wrote {args.out}")
