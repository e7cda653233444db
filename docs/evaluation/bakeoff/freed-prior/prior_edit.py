"""Stop 35's edits of a finished two-stage checkpoint's prior, without training (the freed run's
drones; docs/evaluation/bakeoff.md). Each reads CHECKPOINT and writes OUT.pt:

    prior_edit.py ungate CHECKPOINT OUT.pt CATEGORY...      contours zeroed: partials at the branch's own f0, ungated
    prior_edit.py equal CHECKPOINT OUT.pt CATEGORY...       equal weights over the fitted components
    prior_edit.py fidelity CHECKPOINT OUT.pt --data DIR --exponent A CATEGORY...
        each component weighted by 10 ** (-A * max(0, d)), d the decades by which its decode
        (mean and two draws, log_flatness) is flatter than its own clip
    prior_edit.py gain CHECKPOINT OUT.pt CATEGORY=GAIN...    a category's postfilter gain set by hand

then ``gesturegan export OUT.pt --half-weights`` and ``gesturegan evaluate`` with seeds 0 to 3.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import log_flatness
from gesturegan.training.state import read_checkpoint, restore_state, save_checkpoint


def _equalise(g, k: int) -> None:
    m = int((g.weights()[k] > 0).sum())
    g.prior_cumulative[k].copy_(torch.clamp(torch.arange(1, g.prior_cumulative.shape[1] + 1) / m, max=1.0))


@torch.no_grad()
def _flatter_than_clip(g, data, k: int, draws: int = 3) -> np.ndarray:
    """Per fitted component of category ``k``: decades by which its decodes are flatter than its clip."""
    train = data.train_index
    clips = torch.from_numpy(np.stack([data.audio[i] for i in train[data.labels[train] == k]]))
    fitted = np.flatnonzero(g.weights()[k].numpy() > 0)
    if len(fitted) != len(clips):
        raise SystemExit(
            f"category {k}: {len(fitted)} components for {len(clips)} clips; refit the prior first"
        )
    rate = g.shape.sample_rate
    real = torch.cat([log_flatness(clips[i : i + 32], rate) for i in range(0, len(clips), 32)]).numpy()
    z = np.random.default_rng(k).standard_normal((len(fitted), draws, g.latent_dim)).astype(np.float32)
    z[:, 0, 1:] = 0.0
    z[:, :, 0] = g.prior_anchor[k, fitted].numpy()[:, None]
    z = torch.from_numpy(z.reshape(-1, g.latent_dim))
    cond = torch.zeros(len(z), g.prior_cumulative.shape[0])
    cond[:, k] = 1.0
    audio = torch.cat([g(z[i : i + 32], cond[i : i + 32]).clamp(-1, 1) for i in range(0, len(z), 32)])
    made = torch.cat([log_flatness(audio[i : i + 32], rate) for i in range(0, len(audio), 32)]).numpy()
    return made.reshape(-1, draws).mean(axis=1) - real


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("edit", choices=["ungate", "equal", "fidelity", "gain"])
parser.add_argument("checkpoint")
parser.add_argument("out")
parser.add_argument("targets", nargs="+", help="categories (gain: CATEGORY=GAIN)")
parser.add_argument("--data", help="fidelity: the dataset the checkpoint was trained on")
parser.add_argument("--exponent", type=float, default=1.0, help="fidelity: A")
args = parser.parse_args()

torch.set_num_threads(2)
state = restore_state(read_checkpoint(args.checkpoint), torch.device("cpu"))
state.ema.eval()
data = load_dataset(args.data) if args.edit == "fidelity" else None
for target in args.targets:
    name, _, value = target.partition("=")
    k = state.categories.index(name)
    if args.edit == "fidelity":
        off = _flatter_than_clip(state.ema, data, k)
        fitted = np.flatnonzero(state.ema.weights()[k].numpy() > 0)
        print(
            f"{name}: {np.mean(off > 1):.0%} of the components decode more than a decade flatter than their clip"
        )
    for g in (state.generator, state.ema):
        if args.edit == "ungate":
            g.prior_log2_f0[k].zero_()
            g.prior_voiced[k].zero_()
        elif args.edit == "equal":
            _equalise(g, k)
        elif args.edit == "gain":
            g.detail_gain[k] = float(value)
        else:
            weights = g.weights()[k].double()
            weights[fitted] = weights[fitted] * torch.from_numpy(
                10.0 ** (-args.exponent * np.maximum(off, 0.0))
            )
            g.prior_cumulative[k].copy_(torch.cumsum(weights / weights.sum(), 0).clamp(max=1.0).float())
            g.prior_cumulative[k, fitted[-1] :] = 1.0
        g.refresh_anchor()
save_checkpoint(state, Path(args.out))
print(f"wrote {args.out} (step {state.step})")
