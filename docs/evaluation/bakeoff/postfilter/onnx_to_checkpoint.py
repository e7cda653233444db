"""Rebuild a two-stage checkpoint from an exported model pair (MODEL.onnx and MODEL.encoder.onnx),
fit its postfilter on a dataset, and write it, so `gesturegan export` can write the model again
with the postfilter inside.

    python docs/evaluation/bakeoff/postfilter/onnx_to_checkpoint.py server/models/default.onnx \
        --data data/both --out rebuilt.pt

The shipped default's training checkpoint was not kept; its weights are all in the two files.
The generator's network weights come from MODEL.onnx (fp16 there, so exactly what plays), its
prior from MODEL.encoder.onnx (float32 there), the encoder from MODEL.encoder.onnx. The
discriminator and the optimisers are not in either file: the checkpoint is for export and
measurement, not for resuming. Prints the largest difference between the rebuilt generator and
onnxruntime on the same latents before the postfilter is fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

from gesturegan.training.config import Config
from gesturegan.training.data import load_dataset
from gesturegan.training.models.base import DataShape
from gesturegan.training.models.twostage import fit_postfilter
from gesturegan.training.state import new_state, save_checkpoint


def weights(path: Path) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    meta = {p.key: p.value for p in onnx.load(str(args.model), load_external_data=False).metadata_props}
    training = json.loads(meta["training"])
    cfg = Config.from_dict(training["run"]["config"])
    if training["run"]["config"].get("family") != "twostage" or cfg.model.prior != "posterior":
        print(
            f"error: {args.model} is not a two-stage model with the posterior prior; nothing written",
            file=sys.stderr,
        )
        return 2
    categories = json.loads(meta["categories"])
    shape = DataShape(
        len(categories), int(meta["channels"]), int(meta["n_samples"]), int(meta["sample_rate"])
    )
    # what export writes back as the model's training data and per-category loudness
    data_facts = {"summary": training["data"], "stats": {"loudness": json.loads(meta.get("loudness", "{}"))}}
    state = new_state(cfg, shape, categories, data_facts, torch.device("cpu"))

    gen_w = weights(args.model)
    enc_w = weights(args.model.with_suffix(".encoder.onnx"))
    sd = {}
    for name, value in gen_w.items():
        for prefix in ("half_generator.", "generator."):
            if name.startswith(prefix):
                sd[name[len(prefix) :]] = torch.from_numpy(value.astype(np.float32))
    mean = enc_w["encoder.generator.prior_mean"]
    sd["prior_mean"] = torch.from_numpy(mean)
    sd["prior_std"] = torch.from_numpy(enc_w["encoder.generator.prior_std"])
    # prior = "posterior": one equally weighted component per clip; unused slots are all zero
    used = (np.abs(mean).sum(-1) > 0).sum(-1)
    c = mean.shape[1]
    sd["prior_cumulative"] = torch.from_numpy(
        np.minimum(np.arange(1, c + 1)[None, :] / np.maximum(used, 1)[:, None], 1.0).astype(np.float32)
    )
    missing, unexpected = state.ema.load_state_dict(sd, strict=False)
    if [k for k in missing if k != "detail_gain"] or unexpected:
        print(f"error: weights do not match: missing {missing}, unexpected {unexpected}", file=sys.stderr)
        return 2
    state.generator.load_state_dict(state.ema.state_dict())
    enc_sd = {
        k[len("encoder.encoder.") :]: torch.from_numpy(v)
        for k, v in enc_w.items()
        if k.startswith("encoder.encoder.")
    }
    state.critic.encoder.load_state_dict(enc_sd)

    # the rebuilt generator against onnxruntime, on the same latents
    session = ort.InferenceSession(str(args.model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    z = rng.standard_normal((8, state.ema.latent_dim)).astype(np.float32)
    cond = np.eye(len(categories), dtype=np.float32)[np.arange(8) % len(categories)]
    played = session.run(None, {"z": z, "cond": cond})[0]
    with torch.no_grad():
        rebuilt = state.ema(torch.from_numpy(z), torch.from_numpy(cond)).clamp(-1, 1).numpy()
    print(
        f"rebuilt generator against onnxruntime: max |difference| {np.abs(rebuilt - played).max():.2e}, "
        f"peak {np.abs(played).max():.2f}"
    )

    data = load_dataset(args.data)
    train = data.train_index
    by_category = [
        np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(len(categories))
    ]
    gains = fit_postfilter(
        [state.generator, state.ema], state.ema, state.critic.encoder, by_category, cfg.train.seed
    )
    print("detail gains:", {categories[k]: round(v, 3) for k, v in gains.items()})
    state.step = int(training["run"]["step"])
    state.best_score = float(training["run"]["best_score"])
    save_checkpoint(state, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
