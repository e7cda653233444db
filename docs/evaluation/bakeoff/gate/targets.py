"""Issue 14's targets from `gesturegan evaluate --json` files: per figure and category, the mean
of the given draws (seeds), each draw in parentheses, met targets in bold.

    python docs/evaluation/bakeoff/gate/targets.py eval-seed0.json eval-seed1.json
"""

import json
import sys
from pathlib import Path

import numpy as np

CATS = ["trigger", "trigger_continuous", "continuous_variation", "continuous_repetition"]


def rows(files):
    ds = [json.loads(Path(f).read_text()) for f in files]

    def fig(get):
        v = [get(d) for d in ds]
        return np.mean(v), v

    out = []
    for name, get, ok in [
        (
            "diversity ratio, classifier",
            lambda d, c: d["per_category"][c]["diversity_ratio"],
            lambda x, d, c: x >= 0.7,
        ),
        (
            "diversity ratio, second",
            lambda d, c: d["second_opinion"]["per_category"][c]["diversity_ratio"],
            lambda x, d, c: x >= 0.7,
        ),
        (
            "accuracy, shipped classifier",
            lambda d, c: d["per_category"][c]["conditional_accuracy"],
            lambda x, d, c: x >= 0.85,
        ),
        (
            "second opinion",
            lambda d, c: d["second_opinion"]["per_category"][c]["accuracy"],
            lambda x, d, c: x >= d["second_opinion"]["per_category"][c]["accuracy_real_cv"] - 0.1,
        ),
        (
            "flatness ratio",
            lambda d, c: d["second_opinion"]["per_category"][c]["flatness_ratio"],
            lambda x, d, c: 0.5 <= x <= 2,
        ),
        (
            "nearest-real ratio",
            lambda d, c: d["second_opinion"]["per_category"][c]["nearest_real_ratio"],
            lambda x, d, c: 0.5 <= x <= 2,
        ),
        (
            "second-space Frechet / halves",
            lambda d, c: (
                d["second_opinion"]["per_category"][c]["frechet"]
                / d["second_opinion"]["per_category"][c]["frechet_real_halves"]
            ),
            lambda x, d, c: x <= 3,
        ),
        ("clipped", lambda d, c: d["per_category"][c]["clipped_rate"], lambda x, d, c: True),
    ]:
        cells = []
        for c in CATS:
            m, v = fig(lambda d, get=get, c=c: get(d, c))
            mark = "**" if ok(m, ds[0], c) else ""
            cells.append(f"{mark}{m:.2f}{mark} ({', '.join(f'{x:.2f}' for x in v)})")
        out.append(f"| {name} | " + " / ".join(cells) + " |")
    for name, get in [
        ("Frechet classifier, all", lambda d: d["overall"]["frechet"]),
        ("Frechet second, all", lambda d: d["second_opinion"]["overall"]["frechet"]),
        ("morph midpoints", lambda d: d["second_opinion"]["overall"]["morph_midpoints_in_pair"]),
        ("morph worst step ratio", lambda d: d["second_opinion"]["overall"]["morph_worst_step_ratio"]),
    ]:
        m, v = fig(get)
        out.append(f"| {name} | {m:.2f} ({', '.join(f'{x:.2f}' for x in v)}) |")
    return out


if __name__ == "__main__":
    print("\n".join(rows(sys.argv[1:])))
