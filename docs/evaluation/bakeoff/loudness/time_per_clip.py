"""A gain over time per prior component (per training clip) instead of per category, evaluated
through torch without exporting (stop 37; not shipped).

    python docs/evaluation/bakeoff/loudness/time_per_clip.py CHECKPOINT --data data/both \
        --categories continuous_repetition --name NAME [--seeds 0 1 2 3]

Each component's mean is decoded at its own detail gain; its time gain is its clip's RMS detail
over time over the decode's (``time_detail``), corrected once at that gain as ``fit_time_gain``
does for a category, between 1 and ``MAX_TIME_GAIN``. Components of other categories keep their
category's gain. A draw takes its component's gain, mixed by ``cond``. Writes
``eval-NAME-sS.json`` as ``gesturegan evaluate --json`` does. Torch runs the network in float32
where the shipped file runs it in fp16, so compare it with a float32 run of the same checkpoint.
"""

import argparse
import json

import numpy as np
import torch

from gesturegan.export.evaluate import Source, evaluate
from gesturegan.training.data import load_dataset
from gesturegan.training.models.twostage import MAX_TIME_GAIN, time_detail
from gesturegan.training.representation import STFT, to_mag_phase
from gesturegan.training.state import read_checkpoint, restore_state

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("--data", required=True)
parser.add_argument("--categories", nargs="*", default=[], help="none: the category gains, as shipped")
parser.add_argument("--name", required=True)
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
args = parser.parse_args()

torch.set_num_threads(2)
state = restore_state(read_checkpoint(args.checkpoint), torch.device("cpu"))
generator = state.ema.eval()
decoder = generator.decoder
data = load_dataset(args.data)
train = data.train_index
k_count, m_count = generator.prior_cumulative.shape
table = generator.time_gain.unsqueeze(1).expand(k_count, m_count).clone()
stft = STFT(decoder.stft_cfg)
frames = decoder.postfilter_time_frames


def detail_rms(audio: torch.Tensor) -> float:
    total, count = time_detail(to_mag_phase(audio, stft)[0], frames)
    return float((total / count.clamp_min(1)).sqrt())


with torch.no_grad():
    for name in args.categories:
        k = data.categories.index(name)
        clips = np.stack([data.audio[i] for i in train[data.labels[train] == k]])
        gains = []
        for i in range(len(clips)):
            features = decoder.decode_features(generator.prior_mean[k, i : i + 1])
            detail = generator.prior_detail_gain[k, i : i + 1]
            real = detail_rms(torch.from_numpy(clips[i : i + 1].copy()))

            def made(gain: float, features=features, detail=detail) -> float:
                return detail_rms(decoder.finish(features, detail, time_gain=torch.tensor([gain])))

            gain = real / max(made(1.0), 1e-12)
            if 1.0 < gain < MAX_TIME_GAIN:
                gain *= real / max(made(gain), 1e-12)
            gains.append(min(max(gain, 1.0), MAX_TIME_GAIN))
        table[k, : len(gains)] = torch.tensor(gains)
        print(
            f"{name}: category {float(generator.time_gain[k]):.2f}, per clip 10/50/90 % "
            + " / ".join(f"{v:.2f}" for v in np.percentile(gains, [10, 50, 90])),
            flush=True,
        )


def generate(z: np.ndarray, cond: np.ndarray) -> np.ndarray:
    z_t, cond_t = torch.from_numpy(z), torch.from_numpy(cond)
    with torch.no_grad():
        features = decoder.decode_features(generator.codes(z_t, cond_t))
        rows = generator.rows(z_t)
        detail = (cond_t * generator.prior_detail_gain.reshape(-1)[rows]).sum(dim=1)
        time_gain = (cond_t * table.reshape(-1)[rows]).sum(dim=1)
        return generator.leveled(decoder.finish(features, detail, time_gain=time_gain)).numpy()


source = Source(args.name, "twostage", data.categories, generator.latent_dim, 44100, 65536, generate)
for seed in args.seeds:
    result = evaluate(source, data, 64, seed, None, progress=False)
    with open(f"eval-{args.name}-s{seed}.json", "w") as f:
        json.dump(result, f, indent=1)
    print(f"seed {seed} written", flush=True)
