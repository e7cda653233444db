"""How well a harmonic branch knows its pitch, and whether it plays at all (stop 29's figures).

For 12 training clips per category (seeded), each clip is encoded (posterior mean) and decoded;
in the frames pYIN calls voiced (probability above 0.5), the branch's f0 is compared with the
track: median error in octaves and the share within a semitone. Beside it, the branch's summed
partial amplitude per frame (median and largest over the clips' frames; 0: the branch is silent).

    python docs/evaluation/bakeoff/harmonic/pitch_check.py CHECKPOINT data/both [--live]

--live reads the training weights instead of the EMA (the EMA lags ~1,000 steps behind).
"""

import sys

import numpy as np
import torch

from gesturegan.training.config import Config
from gesturegan.training.models import DataShape, build
from gesturegan.training.pitch import PITCH_FILE
from gesturegan.training.state import load_generator, read_checkpoint

path, data = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
generator, ckpt = load_generator(path)
full = read_checkpoint(path)
if "--live" in sys.argv:
    generator.load_state_dict(full["generator"])
_, critic = build(Config.from_dict(full["config"]), DataShape(**full["shape"]))
critic.load_state_dict(full["critic"])
encoder = critic.encoder.eval()
audio = np.load(f"{data}/audio.npy", mmap_mode="r")
labels = np.load(f"{data}/labels.npy")
tracks = np.load(f"{data}/{PITCH_FILE}")
branch = generator.decoder.harmonic
rng = np.random.default_rng(1)
print(f"{path} (step {ckpt['step']}, {'live' if '--live' in sys.argv else 'EMA'})")
print("category | voiced frames | median octave error | within a semitone | amplitude median / max")
for k, name in enumerate(ckpt["categories"]):
    idx = np.sort(rng.choice(np.where(labels == k)[0], 12, replace=False))
    x = torch.from_numpy(np.stack([audio[i] for i in idx]))
    with torch.no_grad():
        mu, _ = encoder(x)
        features = generator.decoder.decode_features(mu)
        log2_f0, amplitudes = branch.controls(branch.logits(features))
    f0, voiced = tracks["f0_hz"][idx], tracks["voiced"][idx]
    heard = (voiced > 0.5) & (f0 > 0)
    error = np.abs(log2_f0.numpy() - np.log2(np.maximum(f0, 30.0)))[heard]
    total = amplitudes.sum(dim=2)
    print(
        f"{name} | {heard.sum()} | {np.median(error):.3f} | {(error < 1 / 12).mean():.3f} | "
        f"{float(total.median()):.4f} / {float(total.max()):.3f}"
    )
