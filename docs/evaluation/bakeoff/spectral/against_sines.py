"""How far a harmonic checkpoint's draws move when its partials are written into the spectrum.

    python docs/evaluation/bakeoff/spectral/against_sines.py CHECKPOINT [--count 32]

Per category, ``count`` draws (seed = the category's index) are played twice by the same torch
generator, with ``model.harmonic_synthesis`` "time" (sines summed per sample) and "spectral"
(FFT^-1 synthesis), and the difference's energy is given in dB of the first's: median, 90th
percentile and worst draw. Steady partials alone are within -60 dB; what is left is where f0 and
the partials' levels move fast (docs/training.md).
"""

import argparse

import torch

from gesturegan.training.state import load_generator

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("--count", type=int, default=32)
args = parser.parse_args()

torch.set_num_threads(2)
generator, checkpoint = load_generator(args.checkpoint)
branch = generator.decoder.harmonic
if branch is None:
    raise SystemExit(f"{args.checkpoint} has no harmonic branch (model.harmonics = 0)")
for k, name in enumerate(checkpoint["categories"]):
    torch.manual_seed(k)
    z = torch.randn(args.count, generator.latent_dim)
    cond = torch.zeros(args.count, len(checkpoint["categories"]))
    cond[:, k] = 1
    with torch.no_grad():
        branch.spectral = False
        sines = generator(z, cond)
        branch.spectral = True
        spectral = generator(z, cond)
    error = 10 * torch.log10((spectral - sines).pow(2).sum(-1) / sines.pow(2).sum(-1)).flatten()
    print(
        f"{name:24s} spectral against sines: median {error.median():.1f} dB, "
        f"90th percentile {error.quantile(0.9):.1f} dB, worst {error.max():.1f} dB"
    )
