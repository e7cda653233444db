"""How closely a two-stage checkpoint's autoencoder reconstructs the corpus, per category.

    python -m gesturegan.export.reconstruction CKPT [CKPT ...] --data DATA [--out table.md]

A two-stage model can only play what its decoder can draw: a drone whose reconstructions are
noisy stays noisy whatever the prior does. For each checkpoint, the training clips of each
category are encoded to their posterior means and decoded by the EMA decoder and its postfilter
at the clip's category (what ships), and both sides are measured in ``evaluate``'s second space
(22.05 kHz, 21.5 Hz bins):

- median log10 spectral flatness of the real clips and of their reconstructions, and the
  10th / 50th / 90th percentiles of the per-clip log10 ratio (over 0: noisier than the clip);
- the mean second-space distance from a clip to its reconstruction over the mean distance
  between two clips of the category (0: exact; 1: as far as another clip of the category).

Checkpoints side by side in one table, so settings trained to the same step compare directly.
Shapes: audio ``[N, C, T]``; codes ``[N, D]``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.data import Dataset, DatasetError, load_dataset
from gesturegan.training.pitch import F0_MIN_HZ, read_tracks
from gesturegan.training.state import CheckpointError, read_checkpoint, restore_state


@dataclass(frozen=True)
class CategoryReconstruction:
    """One category's figures for one checkpoint."""

    clips: int
    flatness_real: float  # median log10 spectral flatness of the clips
    flatness_reconstructed: float  # the same for their reconstructions
    flatness_log_ratio: tuple[float, float, float]  # per-clip log10(recon / real): p10, p50, p90
    distance_ratio: float  # mean |embed(recon) - embed(clip)| / mean distance between two clips


@dataclass(frozen=True)
class Reconstruction:
    checkpoint: str
    step: int
    n_fft: int
    hop: int
    per_category: dict[str, CategoryReconstruction]


@torch.no_grad()
def reconstruct(
    checkpoint: str | Path,
    audio: np.ndarray,
    labels: np.ndarray | None = None,
    batch: int = 16,
    pitch: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, int, dict]:
    """``audio [N, C, T]`` through the checkpoint's encoder (posterior means) and EMA decoder,
    and with ``labels [N]`` (category indices) through its postfilter at each clip's category,
    as the model plays. With a harmonic branch and ``pitch`` (the clips' tracked ``f0_hz`` and
    voicing probability ``[N, C, F]``), the partials play the tracked f0 in voiced frames, as in
    training and as a draw plays its component's contour; without, the branch's own f0.

    Returns the reconstructions ``[N, C, T]``, the checkpoint's step and its model config."""
    from gesturegan.training.models.twostage import encode

    ckpt = read_checkpoint(checkpoint)
    if ckpt["config"].get("family") != "twostage":
        raise CheckpointError(
            f"{checkpoint} is a {ckpt['config'].get('family')!r} checkpoint; only twostage ones have an encoder"
        )
    shape = ckpt["shape"]
    if audio.shape[1:] != (shape["channels"], shape["n_samples"]):
        raise CheckpointError(
            f"{checkpoint} was trained on clips of {shape['channels']} x {shape['n_samples']} samples, "
            f"the dataset's are {audio.shape[1]} x {audio.shape[2]}: pass the dataset the run trained on"
        )
    state = restore_state(ckpt, torch.device("cpu"))
    codes, _ = encode(state.critic.encoder, audio, batch=batch)
    generator = state.ema.eval()
    onehot = None if labels is None else torch.eye(generator.detail_gain.numel())[torch.from_numpy(labels)]
    out = []
    for i in range(0, len(codes), batch):
        features = generator.decoder.decode_features(torch.from_numpy(codes[i : i + batch]))
        cond = None if onehot is None else onehot[i : i + batch]
        if pitch is not None and generator.contours:
            f0_hz, probability = (torch.from_numpy(np.asarray(a[i : i + batch])) for a in pitch)
            voiced = ((probability > 0.5) & (f0_hz > 0)).float()
            log2_f0 = torch.log2(f0_hz.clamp_min(F0_MIN_HZ))
            gain = cond @ generator.detail_gain if cond is not None and generator.postfilter_bins else None
            time_gain = cond @ generator.time_gain if cond is not None and generator.time_postfilter else None
            played = generator.decoder.finish(features, gain, log2_f0, voiced, time_gain=time_gain)
            out.append((played if cond is None else generator.leveled(played)).float().numpy())
            continue
        out.append(generator.finish(features, cond).float().numpy())
    return np.concatenate(out), int(ckpt["step"]), dict(ckpt["config"]["model"])


def measure(checkpoint: str | Path, data: Dataset, split: str = "train") -> Reconstruction:
    """Every figure of this module for one checkpoint, on ``data``'s ``split`` clips."""
    index = data.train_index if split == "train" else data.val_index
    if index.size == 0:
        raise DatasetError(f"{data.path} has no {split} clips; measure another --split")
    audio = np.asarray(data.audio[index], dtype=np.float32)
    groups = [data.sources[i] for i in index] if data.sources else [str(i) for i in index]
    # a harmonic branch plays the clips' tracked f0 where training cached it (pYIN is not rerun here)
    pitch = None
    model_cfg = read_checkpoint(checkpoint)["config"]["model"]
    if model_cfg.get("harmonics"):
        tracks = read_tracks(
            data.path, data.audio.shape, int(model_cfg["hop"]), data.stats.get("fingerprint")
        )
        pitch = None if tracks is None else (tracks.f0_hz[index], tracks.voiced[index])
    recon, step, model = reconstruct(checkpoint, audio, np.asarray(data.labels[index]), pitch=pitch)
    per_category = compare(audio, recon, data.labels[index], groups, data.categories, data.shape.sample_rate)
    return Reconstruction(str(checkpoint), step, int(model["n_fft"]), int(model["hop"]), per_category)


def compare(
    real: np.ndarray,
    made: np.ndarray,
    labels: np.ndarray,
    groups: list[str],
    categories: list[str],
    sample_rate: int,
) -> dict[str, CategoryReconstruction]:
    """Clips ``real [N, C, T]`` against their reconstructions ``made [N, C, T]``, per category.

    The second space is fitted on the real clips (``labels [N]``, source files ``groups``)."""
    from gesturegan.export.second_opinion import describe, fit_space

    real_d, made_d = describe(real, sample_rate), describe(made, sample_rate)
    space = fit_space(real_d.vectors, labels, groups, categories)
    real_emb, made_emb = space.embed(real_d.vectors), space.embed(made_d.vectors)
    per_category = {}
    for k, name in enumerate(categories):
        mine = np.flatnonzero(labels == k)
        if mine.size < 2:
            continue
        log_real = np.log10(real_d.flatness[mine])
        log_made = np.log10(made_d.flatness[mine])
        emb = real_emb[mine]
        between = np.sqrt(((emb[:, None] - emb[None]) ** 2).sum(-1))
        mean_between = between[np.triu_indices(mine.size, 1)].mean()
        to_recon = np.sqrt(((made_emb[mine] - emb) ** 2).sum(-1)).mean()
        p10, p50, p90 = np.percentile(log_made - log_real, [10, 50, 90])
        per_category[name] = CategoryReconstruction(
            clips=int(mine.size),
            flatness_real=float(np.median(log_real)),
            flatness_reconstructed=float(np.median(log_made)),
            flatness_log_ratio=(float(p10), float(p50), float(p90)),
            distance_ratio=float(to_recon / mean_between),
        )
    return per_category


def table(results: list[Reconstruction]) -> str:
    """The checkpoints side by side: one row per category and figure, one column per checkpoint."""
    head = (
        "| category | figure | "
        + " | ".join(f"{_run_name(r)} step {r.step}, n_fft {r.n_fft}" for r in results)
        + " |"
    )
    lines = [head, "|" + " --- |" * (2 + len(results))]
    names = list(dict.fromkeys(n for r in results for n in r.per_category))
    rows = (
        (
            "log10 flatness, real / reconstructed",
            lambda c: f"{c.flatness_real:.2f} / {c.flatness_reconstructed:.2f}",
        ),
        (
            "per-clip log10 ratio p10 / p50 / p90",
            lambda c: " / ".join(f"{v:.2f}" for v in c.flatness_log_ratio),
        ),
        ("distance to clip / between clips", lambda c: f"{c.distance_ratio:.2f}"),
    )
    for name in names:
        for label, cell in rows:
            cells = [cell(r.per_category[name]) if name in r.per_category else "" for r in results]
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _run_name(result: Reconstruction) -> str:
    """``RUN`` of ``RUN/checkpoints/step-N.pt``, so two runs of one setting stay apart in a table."""
    path = Path(result.checkpoint)
    return f"{path.parent.parent.name}," if path.parent.name == "checkpoints" else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gesturegan.export.reconstruction",
        description="How closely two-stage checkpoints reconstruct a dataset's clips, per category, side by side.",
    )
    parser.add_argument(
        "checkpoints", nargs="+", type=Path, metavar="CKPT", help="twostage checkpoints (.pt)"
    )
    parser.add_argument("--data", type=Path, required=True, help="the dataset the runs trained on")
    parser.add_argument("--split", choices=("train", "val"), default="train")
    parser.add_argument(
        "--out", type=Path, help="also write the table (.md) and the figures (.json beside it)"
    )
    args = parser.parse_args(argv)
    try:
        data = load_dataset(args.data)
        results = [measure(c, data, args.split) for c in args.checkpoints]
    except (DatasetError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = table(results)
    print(text, end="")
    if args.out:
        import json

        from gesturegan.files import write_text_atomic

        write_text_atomic(args.out, text)
        write_text_atomic(args.out.with_suffix(".json"), json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
