"""Refit a harmonic checkpoint's prior with each clip's f0 contour, or without it, for a side-by-side test.

The prior, the contours and the postfilter are refitted exactly as training does at a checkpoint
(``loop._fit_prior``, with the dataset's cached pYIN tracks). ``--own-f0`` then marks every
frame unvoiced, so the copy plays the harmonic branch's own f0 (as before the prior held
contours) and differs from the other copy in nothing else:

    python docs/evaluation/bakeoff/harmonic/contours.py CHECKPOINT data/both OUT.pt [--own-f0]
    gesturegan export OUT.pt --out OUT.onnx --half-weights
    gesturegan evaluate OUT.onnx --data data/both --count 64 --out DIR
"""

import argparse
from pathlib import Path

import torch

from gesturegan.training.data import load_dataset
from gesturegan.training.loop import _fit_prior
from gesturegan.training.pitch import load_or_track
from gesturegan.training.state import read_checkpoint, restore_state, save_checkpoint

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--own-f0", action="store_true", help="every frame unvoiced: the branch's own f0 plays")
args = parser.parse_args()

torch.set_num_threads(2)
state = restore_state(read_checkpoint(args.checkpoint), torch.device("cpu"))
if not state.config.model.harmonics:
    raise SystemExit(f"{args.checkpoint} has no harmonic branch (model.harmonics = 0)")
data = load_dataset(args.data)
data.pitch = load_or_track(
    data.path, data.audio, data.shape.sample_rate, state.config.model.hop, data.stats.get("fingerprint")
)
gains = _fit_prior(state, data)
for generator in (state.generator, state.ema):
    if args.own_f0:
        generator.prior_voiced.zero_()
voiced = float(state.ema.prior_voiced.mean())
save_checkpoint(state, Path(args.out))
print(f"{args.out}: step {state.step}, voiced share of the prior's frames {voiced:.3f}; postfilter {gains}")
