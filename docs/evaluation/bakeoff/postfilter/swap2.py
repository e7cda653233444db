"""Drones: which property of the decoder's magnitudes makes them noisy (variants beside the plain reconstruction)."""

import sys

import numpy as np
import torch
import torch.nn.functional as F

from gesturegan.export.second_opinion import describe
from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import encode
from gesturegan.training.representation import STFT, to_mag_phase
from gesturegan.training.state import read_checkpoint, restore_state

torch.set_num_threads(1)
ckpt_path, data_path = sys.argv[1], sys.argv[2]
cats = sys.argv[3].split(",") if len(sys.argv) > 3 else None
data = load_dataset(data_path)
idx = data.train_index
keep = (
    np.isin(data.labels[idx], [data.categories.index(c) for c in cats]) if cats else np.ones(len(idx), bool)
)
idx = idx[keep]
audio = np.asarray(data.audio[idx], dtype=np.float32)
labels = data.labels[idx]
ckpt = read_checkpoint(ckpt_path)
state = restore_state(ckpt, torch.device("cpu"))
codes, _ = encode(state.critic.encoder, audio, batch=16)
dec = state.ema.decoder.eval()
stft = STFT(dec.stft_cfg)


def tsmooth(x, k):
    w = torch.hann_window(k + 2)[1:-1]
    w = w / w.sum()
    b, c, f, n = x.shape
    y = F.conv1d(F.pad(x.reshape(-1, 1, n), (k // 2, k // 2), mode="replicate"), w.view(1, 1, -1))
    return y.view(b, c, f, n)


def fsharpen(x, k, gamma):
    b, c, f, n = x.shape
    xt = x.permute(0, 1, 3, 2).reshape(-1, 1, f)
    env = F.avg_pool1d(F.pad(xt, (k // 2, k // 2), mode="replicate"), k, stride=1)
    env = env.view(b, c, n, f).permute(0, 1, 3, 2)
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
print("step", ckpt["step"])
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
