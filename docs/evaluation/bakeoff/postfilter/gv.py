"""Global-variance postfilter test: the decoder's fine spectral structure against the clips', and flatness after scaling it."""

import sys

import numpy as np
import torch
from _common import envelope, load

from gesturegan.export.second_opinion import describe
from gesturegan.training.representation import to_mag_phase

clips = load(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
gammas = [float(g) for g in sys.argv[4].split(",")]
K = int(sys.argv[5]) if len(sys.argv) > 5 else 9
data, audio, labels, codes = clips.data, clips.audio, clips.labels, clips.codes
dec, stft = clips.decoder, clips.stft


out = {g: [] for g in gammas}
fine = {"dec": [], "clip": []}
with torch.no_grad():
    for i in range(0, len(codes), 16):
        lm, ph, ch = dec.head_spectra(dec.decode_features(torch.from_numpy(codes[i : i + 16])).float())
        tl, _ = to_mag_phase(torch.from_numpy(audio[i : i + 16]), stft)
        for name, x in (("dec", lm), ("clip", tl)):
            e = envelope(x, K)
            loud = e > e.amax(dim=(2, 3), keepdim=True) - np.log(10**2.5)
            d = (x - e) ** 2
            fine[name].extend(
                ((d * loud).sum(dim=(1, 2, 3)) / loud.sum(dim=(1, 2, 3)).clamp_min(1)).sqrt().tolist()
            )
        e = envelope(lm, K)
        for g in gammas:
            out[g].append(dec.out(e + g * (lm - e), ph, ch).numpy())
sr = data.shape.sample_rate
real = describe(audio, sr).flatness
print("step", clips.step, "env", K)
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
