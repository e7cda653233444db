"""How much of a harmonic model's drawn gestures the branch carries, and how tonal each part is.

32 draws per category (seed 7), with the prior's contours: the branch's share of the energy
(median), pYIN-voiced share of the frames, and median log10 flatness (4,096-point STFT below
11 kHz) of the whole, the STFT head alone and the branch alone:

    python docs/evaluation/bakeoff/harmonic/branch_share.py CHECKPOINT.pt
"""

import sys

import torch

from gesturegan.training.models.twostage import log_flatness
from gesturegan.training.state import load_generator

torch.set_num_threads(2)
g, ck = load_generator(sys.argv[1])
g.eval()
k = len(ck["categories"])
for c, name in enumerate(ck["categories"]):
    z = torch.randn(32, g.latent_dim, generator=torch.Generator().manual_seed(7))
    cond = torch.eye(k)[[c] * 32]
    with torch.no_grad():
        x = g.decoder.decode_features(g.codes(z, cond))
        total = g.finish(x, cond, z)
        l2, v = g.contour(z, cond)
        branch = g.decoder.harmonic(x.float(), l2, v)
        head = total - branch
    share = (branch.square().mean(dim=(1, 2)) / total.square().mean(dim=(1, 2)).clamp_min(1e-12)).median()
    voiced = (v > 0.5).float().mean()
    print(
        f"{name}: voiced frames {voiced:.2f}, branch energy share median {share:.3f}, "
        f"log10 flatness total {log_flatness(total, 44100).median():.2f} head {log_flatness(head, 44100).median():.2f} branch {log_flatness(branch, 44100).median():.2f}"
    )
