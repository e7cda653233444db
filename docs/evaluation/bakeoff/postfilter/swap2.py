"""Drones: which property of the decoder's magnitudes makes them noisy (variants beside the plain reconstruction)."""

import sys

import numpy as np
import torch
import torch.nn.functional as F
from _common import envelope, load

from gesturegan.export.second_opinion import describe
from gesturegan.training.representation import to_mag_phase

clips = load(sys.argv[1], sys.argv[2], sys.argv[3].split(",") if len(sys.argv) > 3 else None)
data, audio, labels, codes = clips.data, clips.audio, clips.labels, clips.codes
dec, stft = clips.decoder, clips.stft


def tsmooth(x, k):
    w = torch.hann_window(k + 2)[1:-1]
    w = w / w.sum()
    b, c, f, n = x.shape
    y = F.conv1d(F.pad(x.reshape(-1, 1, n), (k // 2, k // 2), mode="replicate"), w.view(1, 1, -1))
    return y.view(b, c, f, n)


def fsharpen(x, k, gamma):
    env = envelope(x, k)
    return env + gamma * (x - env)


variants = {
    "A dec": lambda lm, ph, ch, tl, tp: (lm, ph, ch),
    "B dec mag+clip ph": lambda lm, ph, ch, tl, tp: (lm, tp, None),
    "C clip mag+dec ph": lambda lm, ph, ch, tl, tp: (tl, ph, ch),
    "E clip mag+0 dev": lambda lm, ph, ch, tl, tp: (tl, torch.zeros_like(tp), None),
    "F dec mag+0 dev": lambda lm, ph, ch, tl, tp: (lm, torch.zeros_like(tp), None),
    "G dec mag t-smooth5": lambda lm, ph, ch, tl, tp: (tsmooth(lm, 5), ph, ch),
    "H dec mag f-sharp1.5": lambda lm, ph, ch, tl, tp: (fsharpen(lm, 9, 1.5), ph, ch),
    "I clip mag jitter-dec": None,
}
out = {k: [] for k in variants}
rough = {"dec": [], "clip": []}
with torch.no_grad():
    for i in range(0, len(codes), 16):
        lm, ph, ch = dec.head_spectra(dec.decode_features(torch.from_numpy(codes[i : i + 16])).float())
        tl, tp = to_mag_phase(torch.from_numpy(audio[i : i + 16]), stft)
        if dec.out.phase_advance:
            tp = tp - dec.out.advance
        for k, fn in variants.items():
            if fn is None:  # the clip's magnitudes with the decoder's frame-to-frame wobble added
                wob = lm - tsmooth(lm, 5)
                args = (tl + wob, tp, None)
            else:
                args = fn(lm, ph, ch, tl, tp)
            out[k].append(dec.out(*args).numpy())
        for name, x in (("dec", lm), ("clip", tl)):
            loud = x > x.amax(dim=(2, 3), keepdim=True) - np.log(10**2)  # within 40 dB of the peak
            d = (x[..., 1:] - x[..., :-1]).abs()
            m = loud[..., 1:] & loud[..., :-1]
            rough[name].extend(((d * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3)).clamp_min(1)).tolist())
sr = data.shape.sample_rate
real = describe(audio, sr).flatness
print("step", clips.step)
for k, name in enumerate(data.categories):
    mine = labels == k
    if not mine.any():
        continue
    print(
        f"{name}: real {np.median(np.log10(real[mine])):.2f}; |dt log mag| in loud bins: dec {np.median(np.array(rough['dec'])[mine]):.3f} clip {np.median(np.array(rough['clip'])[mine]):.3f}"
    )
    for v in variants:
        f = describe(np.concatenate(out[v])[mine], sr).flatness
        print(f"    {v:24s} {np.median(np.log10(f)):.2f}")
