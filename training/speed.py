"""Training speed per family: ``python -m gesturegan.training.speed DATA [--config cpu] [--steps 5]``.

``--from-step N`` starts the count at ``N``: past ``train.adversarial_from`` it times the
adversarial stage (discriminator, feature matching, R1) instead of the reconstruction stage.

Runs the real step function of each family on batches of DATA (no checkpoints, previews or
logging, which the loop adds every N steps) and reports the median seconds per generator
update and steps/s. With ``--device cuda`` it synchronises before reading the clock.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gesturegan.training.config import FAMILIES, load_config
from gesturegan.training.data import BatchSampler, load_dataset
from gesturegan.training.loop import Dist, _wrap, pick_device
from gesturegan.training.state import new_state, update_ema
from gesturegan.training.steps import STEPS


def measure(
    data_dir: Path, family: str, config: str | None, steps: int, device: str, from_step: int = 0
) -> dict:
    data = load_dataset(data_dir)
    dev = pick_device(device, Dist())
    cfg = load_config(family, config)
    state = new_state(cfg, data.shape, data.categories, {}, dev)
    _wrap(state, Dist())
    state.step = from_step
    sampler = BatchSampler(data, cfg.train.batch_size, cfg.train.balanced, state.rng)
    times, logs = [], {}
    for i in range(steps + 1):
        start = time.perf_counter()
        logs = STEPS[family](state, sampler)
        state.step += 1
        update_ema(state)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step pays for allocation and autotuning
            times.append(time.perf_counter() - start)
    med = float(np.median(times))
    return {
        "family": family,
        "config": config or "default",
        "batch_size": cfg.train.batch_size,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "steps": steps,
        "from_step": from_step,
        "losses": sorted(k for k in logs if k.startswith("loss/")),  # what the timed step computed
        "median_s_per_step": med,
        "steps_per_s": 1.0 / med,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gesturegan.training.speed", description=__doc__)
    p.add_argument("data", type=Path)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--config", help="shipped name or TOML (default: the family defaults)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument(
        "--from-step",
        type=int,
        default=0,
        help="start counting here (past train.adversarial_from: time the adversarial stage)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = []
    for family in a.families.split(","):
        r = measure(a.data, family, a.config, a.steps, a.device, a.from_step)
        rows.append(r)
        print(
            f"{family:8s} {r['config']:8s} batch {r['batch_size']:3d} {r['device']:5s} "
            f"{r['median_s_per_step']:.3f} s/step = {r['steps_per_s']:.2f} steps/s",
            flush=True,
        )
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
