"""Is what the decoder loses in its magnitudes or in its phase? Swaps on the real clips.

    python docs/evaluation/bakeoff/time-postfilter/oracle.py CHECKPOINT --data data/both

Each category's training clips are encoded and decoded, and each set below is measured in
``evaluate``'s second space against the clips:

- ``recon``: through the postfilter at the category's gains, as the checkpoint plays;
- ``magnitudes``: the clip's own log-magnitudes with the decoder's phase;
- ``phase``: the decoder's (postfiltered) log-magnitudes with the clip's own phase;
- ``no postfilter``: the decoder's log-magnitudes and phase as drawn.

Printed per set: the Fréchet distance and its mean term, the flatness ratio, and the mean shift
of descriptor groups in units of the real clips' standard deviation (``mel``: log-mel band means;
``high``: the top 10 bands; ``sd``: the bands' deviation over time; ``attack``: the first of the
16 envelope segments; ``flat``/``centroid``: their means and deviations over time).
"""

import argparse

import numpy as np
import torch

from gesturegan.export.second_opinion import describe, fit_space
from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import encode, postfilter, time_postfilter
from gesturegan.training.representation import STFT, to_mag_phase
from gesturegan.training.scoring import frechet_distance
from gesturegan.training.state import read_checkpoint, restore_state

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("--data", required=True, help="the dataset the checkpoint was trained on")
args = parser.parse_args()

torch.set_num_threads(2)
data = load_dataset(args.data)
real = describe(np.asarray(data.audio), data.shape.sample_rate)
groups = data.sources or [str(i) for i in range(len(data.audio))]
space = fit_space(real.vectors, data.labels, groups, data.categories)
state = restore_state(read_checkpoint(args.checkpoint), torch.device("cpu"))
generator = state.ema.eval()
decoder = generator.decoder
head = decoder.out
stft = STFT(decoder.stft_cfg)


def line(name: str, audio: np.ndarray, mine: np.ndarray) -> str:
    made = describe(audio, data.shape.sample_rate)
    reference = space.embed(real.vectors[mine])
    embedded = space.embed(made.vectors)
    shift = (made.vectors.mean(0) - real.vectors[mine].mean(0)) / space.std
    mean_term = float(((embedded.mean(0) - reference.mean(0)) ** 2).sum())
    flat = np.median(made.flatness) / np.median(real.flatness[mine])
    return (
        f"| {name} | {frechet_distance(reference, embedded):.2f} | {mean_term:.2f} | {flat:.2f} "
        f"| {shift[:40].mean():+.2f} | {shift[30:40].mean():+.2f} | {shift[40:80].mean():+.2f} "
        f"| {shift[80]:+.2f} | {shift[96]:+.2f} / {shift[97]:+.2f} | {shift[98]:+.2f} / {shift[99]:+.2f} |"
    )


print(
    "| category / set | Fréchet | mean term | flatness ratio | mel | high | sd | attack | flat | centroid |"
)
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
with torch.no_grad():
    for k, name in enumerate(data.categories):
        mine = np.flatnonzero(data.labels == k)
        audio = np.stack([data.audio[i] for i in mine]).astype(np.float32)
        codes, _ = encode(state.critic.encoder, audio, batch=16)
        sets: dict[str, list[torch.Tensor]] = {
            "recon": [],
            "magnitudes": [],
            "phase": [],
            "no postfilter": [],
        }
        for i in range(0, len(codes), 16):
            log_mag, phase, change = decoder.head_spectra(
                decoder.decode_features(torch.from_numpy(codes[i : i + 16]))
            )
            n = len(log_mag)
            played = postfilter(
                log_mag,
                generator.detail_gain[k].expand(n),
                decoder.postfilter_bins,
                decoder.postfilter_power_bins,
            )
            if generator.time_postfilter:
                played = time_postfilter(
                    played, generator.time_gain[k].expand(n), decoder.postfilter_time_frames
                )
            clip_log_mag, clip_phase = to_mag_phase(torch.from_numpy(audio[i : i + 16]), stft)
            # the head adds each bin's own rotation to the phase it is given
            clip_deviation = clip_phase - head.advance if head.phase_advance else clip_phase
            sets["recon"].append(head(played, phase, change))
            sets["magnitudes"].append(head(clip_log_mag, phase, change))
            sets["phase"].append(head(played, clip_deviation, None))
            sets["no postfilter"].append(head(log_mag, phase, change))
        for set_name, parts in sets.items():
            print(line(f"{name} / {set_name}", torch.cat(parts).clamp(-1, 1).numpy(), mine))
