"""Weight a two-stage checkpoint's prior by typicality (``model.prior_typicality``) without training.

Training does this at every checkpoint when the key is set; this applies it to a checkpoint made
without it (the rebuilt default, a harmonic run), and records the exponent in the checkpoint's
config so that ``describe()`` and the model card say so. The codes, contours and postfilter are
kept as they are; only the components' weights change:

    python docs/evaluation/bakeoff/typicality/refit.py CHECKPOINT OUT.pt --exponent 2 \
        [--categories continuous_variation continuous_repetition]
    gesturegan export OUT.pt --out OUT.onnx --half-weights
    gesturegan evaluate OUT.onnx --data data/both --count 64 --out DIR
"""

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from gesturegan.training.models.twostage import weight_by_typicality
from gesturegan.training.state import read_checkpoint, restore_state, save_checkpoint

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("out")
parser.add_argument("--exponent", type=float, required=True, help="model.prior_typicality (0: equal weights)")
parser.add_argument(
    "--categories", nargs="*", default=[], help="model.prior_typicality_categories (none: every category)"
)
args = parser.parse_args()

torch.set_num_threads(2)
checkpoint = read_checkpoint(args.checkpoint)
if checkpoint["family"] != "twostage":
    raise SystemExit(
        f"{args.checkpoint} is a {checkpoint['family']} checkpoint; only twostage has a prior to weight"
    )
unknown = set(args.categories) - set(checkpoint["categories"])
if unknown:
    raise SystemExit(
        f"--categories: {', '.join(sorted(unknown))} not in {', '.join(checkpoint['categories'])}"
    )
checkpoint["config"]["model"]["prior_typicality"] = args.exponent
checkpoint["config"]["model"]["prior_typicality_categories"] = list(args.categories)
state = restore_state(checkpoint, torch.device("cpu"))
model = replace(
    state.config.model, prior_typicality=args.exponent, prior_typicality_categories=tuple(args.categories)
)
state.config = replace(state.config, model=model)
fit = weight_by_typicality(
    [state.generator, state.ema],
    state.ema,
    state.categories,
    args.exponent,
    state.config.train.seed,
    only=args.categories,
)
save_checkpoint(state, Path(args.out))
for name in fit.heard:
    print(
        f"{name}: heard as itself {fit.share_before[name]:.2f} -> {fit.share_after[name]:.2f}, "
        f"effective components {fit.effective[name]:.0f} of {len(fit.heard[name])}"
    )
print(f"wrote {args.out} (step {state.step})")
