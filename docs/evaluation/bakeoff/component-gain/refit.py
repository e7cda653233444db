"""Fit a detail gain per prior component (``model.postfilter_per_component``) into a finished
two-stage checkpoint, without training. Training does this at every prior fit when the key is set;
this applies it to a checkpoint made without it (the rebuilt default) and records the key in its
config. The codes, weights and category gains stay as they are:

    python docs/evaluation/bakeoff/component-gain/refit.py CHECKPOINT OUT.pt --data data/both \
        [--categories trigger continuous_repetition] [--power-bins 37] [--time-frames 33] \
        [--data-loudness]
    gesturegan export OUT.pt --out OUT.onnx --half-weights

``--power-bins N``: the postfilter keeps each N bins' power (``model.postfilter_power_bins``) and
the category gains are refitted with it first. ``--time-frames N``: the postfilter's pass over time
(``model.postfilter_time_frames``), its gains fitted last; ``--time-categories``: only in these. ``--data-loudness``: every
gesture at the dataset's loudness rule (``model.data_loudness``). ``--noise-share NAME ...``: those
categories' components reweighted last, so half their draws are noisier than their median clip
(``model.prior_noise_share``). ``--categories``: fit only these; the others keep their category's gain in every component.
The checkpoint's prior must hold every training clip of a category as its components, in order
(a posterior prior with at least as many components as clips, as the shipped default's).
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import (
    fit_component_gains,
    fit_data_loudness,
    fit_postfilter,
    fit_time_gain,
    weight_by_noise_share,
)
from gesturegan.training.state import read_checkpoint, restore_state, save_checkpoint

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("out")
parser.add_argument("--data", required=True, help="the dataset the checkpoint was trained on")
parser.add_argument("--categories", nargs="*", default=[], help="fit only these (default: every category)")
parser.add_argument(
    "--power-bins", type=int, default=None, help="model.postfilter_power_bins (refits the category gains)"
)
parser.add_argument(
    "--time-frames", type=int, default=None, help="model.postfilter_time_frames (fits its gains)"
)
parser.add_argument(
    "--data-loudness",
    action="store_true",
    help="model.data_loudness: every gesture at the dataset's loudness rule (read from --data)",
)
parser.add_argument(
    "--noise-share",
    nargs="*",
    default=[],
    help="model.prior_noise_share: reweight these categories' components so half their draws are noisier "
    "than their median clip (last)",
)
parser.add_argument(
    "--time-categories",
    nargs="*",
    default=[],
    help="model.postfilter_time_categories: fit the pass over time only in these (the others get 1)",
)
args = parser.parse_args()

torch.set_num_threads(2)
checkpoint = read_checkpoint(args.checkpoint)
if checkpoint["family"] != "twostage" or checkpoint["config"]["model"].get("prior") != "posterior":
    raise SystemExit(
        f"{args.checkpoint}: only a twostage checkpoint with a posterior prior has a gain per clip"
    )
for flag, names in (
    ("--categories", args.categories),
    ("--time-categories", args.time_categories),
    ("--noise-share", args.noise_share),
):
    unknown = set(names) - set(checkpoint["categories"])
    if unknown:
        raise SystemExit(f"{flag}: {', '.join(sorted(unknown))} not in {', '.join(checkpoint['categories'])}")
checkpoint["config"]["model"]["postfilter_per_component"] = True
if args.power_bins is not None:
    checkpoint["config"]["model"]["postfilter_power_bins"] = args.power_bins
if args.time_frames is not None:
    checkpoint["config"]["model"]["postfilter_time_frames"] = args.time_frames
    checkpoint["config"]["model"]["postfilter_time_categories"] = list(args.time_categories)
if args.data_loudness:
    checkpoint["config"]["model"]["data_loudness"] = True
if args.noise_share:
    checkpoint["config"]["model"]["prior_noise_share"] = list(args.noise_share)
state = restore_state(checkpoint, torch.device("cpu"))
data = load_dataset(args.data)
rule = fit_data_loudness([state.generator, state.ema], data.stats.get("loudness", {}))
if rule is not None:
    print(f"loudness: {rule[0]:g} dBFS RMS over each gesture's sound, peak at most {rule[1]:g} dBFS")
train = data.train_index
by_category = [
    np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(len(data.categories))
]
if args.power_bins is not None:
    fitted_gains = fit_postfilter(
        [state.generator, state.ema], state.ema, state.critic.encoder, by_category, state.config.train.seed
    )
    print("category gains:", ", ".join(f"{state.categories[k]} {v:.2f}" for k, v in fitted_gains.items()))
weights = state.ema.weights().numpy()
kept = {}
for k, name in enumerate(state.categories):
    fitted = np.flatnonzero(weights[k] > 0)
    if len(fitted) != len(by_category[k]):
        raise SystemExit(
            f"{name}: {len(fitted)} components for {len(by_category[k])} training clips; refit the prior first"
        )
    if not args.categories or name in args.categories:
        kept[k] = fitted
gains = fit_component_gains([state.generator, state.ema], state.ema, by_category, kept)
if args.time_frames:
    time_gains = fit_time_gain(
        [state.generator, state.ema],
        state.ema,
        state.critic.encoder,
        by_category,
        state.config.train.seed,
        only=[state.categories.index(c) for c in args.time_categories],
    )
    print("time gains:", ", ".join(f"{state.categories[k]} {v:.2f}" for k, v in time_gains.items()))
if args.noise_share:
    share = weight_by_noise_share(
        [state.generator, state.ema],
        state.ema,
        by_category,
        state.categories,
        args.noise_share,
        state.config.train.seed,
    )
    for name, value in share.after.items():
        low, high = share.factor_range.get(name, (1.0, 1.0))
        print(
            f"{name}: draws noisier than the median clip {share.before[name]:.2f} -> {value:.2f}, "
            f"weights x {low:.2f} to {high:.2f}"
        )
save_checkpoint(state, Path(args.out))
for k, g in gains.items():
    print(
        f"{state.categories[k]}: category gain {float(state.ema.detail_gain[k]):.2f}, per component "
        f"10/50/90 % {np.percentile(g, 10):.2f} / {np.median(g):.2f} / {np.percentile(g, 90):.2f}"
    )
print(f"wrote {args.out} (step {state.step})")
