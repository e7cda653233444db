"""Global-variance postfilter test: the decoder's fine spectral structure against the clips', and flatness after scaling it."""

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
cats = sys.argv[3].split(",")
gammas = [float(g) for g in sys.argv[4].split(",")]
K = int(sys.argv[5]) if len(sys.argv) > 5 else 9
data = load_dataset(data_path)
idx = data.train_index
idx = idx[np.isin(data.labels[idx], [data.categories.index(c) for c in cats])]
audio = np.asarray(data.audio[idx], dtype=np.float32)
labels = data.labels[idx]
ckpt = read_checkpoint(ckpt_path)
state = restore_state(ckpt, torch.device("cpu"))
codes, _ = encode(state.critic.encoder, audio, batch=16)
dec = state.ema.decoder.eval()
stft = STFT(dec.stft_cfg)


def env_of(x, k):
    b, c, f, n = x.shape
    xt = x.permute(0, 1, 3, 2).reshape(-1, 1, f)
    env = F.avg_pool1d(F.pad(xt, (k // 2, k // 2), mode="replicate"), k, stride=1)
    return env.view(b, c, n, f).permute(0, 1, 3, 2)


out = {g: [] for g in gammas}
fine = {"dec": [], "clip": []}
with torch.no_grad():
    for i in range(0, len(codes), 16):
        lm, ph, ch = dec.head_spectra(dec.decode_features(torch.from_numpy(codes[i : i + 16])).float())
        tl, _ = to_mag_phase(torch.from_numpy(audio[i : i + 16]), stft)
        for name, x in (("dec", lm), ("clip", tl)):
            e = env_of(x, K)
            loud = e > e.amax(dim=(2, 3), keepdim=True) - np.log(10**2.5)
            d = (x - e) ** 2
            fine[name].extend(
                ((d * loud).sum(dim=(1, 2, 3)) / loud.sum(dim=(1, 2, 3)).clamp_min(1)).sqrt().tolist()
            )
        e = env_of(lm, K)
        for g in gammas:
            out[g].append(dec.out(e + g * (lm - e), ph, ch).numpy())
sr = data.shape.sample_rate
real = describe(audio, sr).flatness
print("step", ckpt["step"], "env", K)
for k, name in enumerate(data.categories):
    mine = labels == k
    if not mine.any():
        continue
    r = np.array(fine["clip"])[mine] / np.array(fine["dec"])[mine]
    print(
        f"{name}: real {np.median(np.log10(real[mine])):.2f}; fine-structure rms clip/dec median {np.median(r):.2f} (p10 {np.percentile(r, 10):.2f} p90 {np.percentile(r, 90):.2f})"
    )
    for g in gammas:
        f = describe(np.concatenate(out[g])[mine], sr).flatness
        print(f"    gamma {g:.2f}  {np.median(np.log10(f)):.2f}")
