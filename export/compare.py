"""Several evaluations side by side: every figure of ``evaluate``'s ``metrics.json``, one column each.

    python -m gesturegan.export.compare NAME=metrics.json NAME=metrics.json ... [--out table.md]
    python -m gesturegan.export.compare NAME=seed0.json,seed1.json,seed2.json,seed3.json ...

Several files for one name (comma-separated: ``evaluate --seed S`` for a few seeds) are one
column, every figure the mean over those draws (``mean_result``). One draw of 64 gestures per
category is noisy: a flatness ratio moves by a factor of 2 to 10 between seeds, and the overall
Fréchet distance by a quarter, so compare models over the same seeds.

Per category and figure, one row; a target column says what a model worth playing reaches
(the figures of issue 14) and each cell is marked when it does. Pure reading and formatting: it
measures nothing itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One row of the table: how to read it from a category's results and what it should reach."""

    label: str
    read: Callable[[dict, dict], float | None]  # (per-category row, whole result) -> value
    target: str
    ok: Callable[[float, dict, dict], bool] | None = None


def _second(key: str) -> Callable[[dict, dict], float | None]:
    return lambda row, _: (row.get("second_opinion") or {}).get(key)


def _within(lo: float, hi: float) -> Callable[[float, dict, dict], bool]:
    return lambda v, row, _: lo <= v <= hi


FIGURES: tuple[Figure, ...] = (
    Figure(
        "diversity ratio, classifier space",
        lambda r, _: r.get("diversity_ratio"),
        ">= 0.7",
        lambda v, r, _: v >= 0.7,
    ),
    Figure("diversity ratio, second space", _second("diversity_ratio"), ">= 0.7", lambda v, r, _: v >= 0.7),
    Figure(
        "conditional accuracy, shipped classifier (its accuracy on the real clips)",
        lambda r, _: r.get("conditional_accuracy"),
        ">= 0.85",
        lambda v, r, _: v >= 0.85,
    ),
    Figure(
        "second-opinion accuracy (its cross-validated accuracy on real)",
        _second("accuracy"),
        ">= real - 0.1",
        lambda v, r, _: v >= (r["second_opinion"]["accuracy_real_cv"] or 0) - 0.1,
    ),
    Figure("flatness ratio", _second("flatness_ratio"), "0.5 to 2", _within(0.5, 2.0)),
    Figure("nearest-real ratio", _second("nearest_real_ratio"), "0.5 to 2", _within(0.5, 2.0)),
    Figure(
        "Fréchet, second space (real halves)",
        _second("frechet"),
        "<= 3 x real halves",
        lambda v, r, _: v <= 3 * (r["second_opinion"]["frechet_real_halves"] or 0),
    ),
    Figure("Fréchet, classifier space", lambda r, _: r.get("frechet"), "lower is better"),
    Figure("clipped gestures", lambda r, _: r.get("clipped_rate"), "lower is better"),
)


def _cell(value: float | None, figure: Figure, row: dict, result: dict) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.2f}"
    if figure.label.startswith("conditional accuracy") and row.get("classifier_accuracy_on_real") is not None:
        text += f" (real {row['classifier_accuracy_on_real']:.2f})"
    if figure.label.startswith("second-opinion"):
        text += f" ({row['second_opinion']['accuracy_real_cv']:.2f})"
    if figure.label.startswith("Fréchet, second"):
        text += f" ({row['second_opinion']['frechet_real_halves']:.2f})"
    if figure.ok is not None:
        text += " ✓" if figure.ok(value, row, result) else " ✗"
    return text


def mean_result(results: list[dict]) -> dict:
    """One result with every number the mean of ``results`` (draws of the same model with different
    seeds): dicts by key, lists by position, anything else (names, paths) from the first."""
    first = results[0]
    if isinstance(first, bool) or not all(type(r) is type(first) for r in results):
        return first
    if isinstance(first, dict):
        return {key: mean_result([r[key] for r in results if key in r]) for key in first}
    if isinstance(first, list) and all(len(r) == len(first) for r in results):
        return [mean_result(list(items)) for items in zip(*results, strict=True)]
    if isinstance(first, (int, float)):
        return sum(results) / len(results)
    return first


def compare(results: dict[str, dict]) -> str:
    """Markdown: per category, every figure for every named result, with the target."""
    names = list(results)
    first = results[names[0]]
    header = "| category | figure | target | " + " | ".join(names) + " |"
    lines = [header, "| --- | --- | --- |" + " --- |" * len(names)]
    for category in first["per_category"]:
        for fig in FIGURES:
            cells = []
            for name in names:
                row = results[name]["per_category"].get(category, {})
                cells.append(_cell(fig.read(row, results[name]) if row else None, fig, row, results[name]))
            lines.append(f"| {category} | {fig.label} | {fig.target} | " + " | ".join(cells) + " |")
    overall = (
        ("Fréchet, classifier space", lambda r: (r.get("overall") or {}).get("frechet")),
        (
            "Fréchet, second space",
            lambda r: ((r.get("second_opinion") or {}).get("overall") or {}).get("frechet"),
        ),
    )
    lines += [
        "",
        "| all categories | target | " + " | ".join(names) + " |",
        "| --- | --- |" + " --- |" * len(names),
    ]
    for label, read in overall:
        values = [read(results[name]) for name in names]
        cells = ["n/a" if v is None else f"{v:.2f}" for v in values]
        lines.append(f"| {label} | lower is better | " + " | ".join(cells) + " |")
    lines += ["", "| morph | target | " + " | ".join(names) + " |", "| --- | --- |" + " --- |" * len(names)]
    pairs = list((first.get("second_opinion") or {}).get("morph", {}))
    for pair in pairs:
        cells = []
        for name in names:
            m = ((results[name].get("second_opinion") or {}).get("morph") or {}).get(pair)
            if m is None:
                cells.append("n/a")
                continue
            mark = "✓" if m["midpoint_in_pair"] >= 0.8 else "✗"
            real = m.get("midpoint_in_pair_real")
            beside = f" (real {real:.2f})" if real is not None else ""
            walk = m.get("max_step_over_median_crossfade")
            fade = f" (real crossfades {walk:.1f})" if walk is not None else ""
            cells.append(
                f"{m['midpoint_in_pair']:.2f} {mark}{beside}, jump {m['max_step_over_median']:.1f}{fade}"
            )
        lines.append(
            f"| {pair}: midpoints in the pair, largest step / median | >= 0.80 | " + " | ".join(cells) + " |"
        )
    if pairs:
        cells = []
        for name in names:
            o = (results[name].get("second_opinion") or {}).get("overall") or {}
            value, real = o.get("morph_midpoints_in_pair"), o.get("morph_midpoints_real")
            if value is None:
                cells.append("n/a")
                continue
            mark = "✓" if value >= 0.8 else "✗"
            cells.append(f"{value:.2f} {mark}" + (f" (real {real:.2f})" if real is not None else ""))
        lines.append("| all pairs: midpoints in the pair | >= 0.80 | " + " | ".join(cells) + " |")
        lines += [
            "",
            "(real x): the same share for the midpoints, in the second space, between real clips of the two "
            "categories: what real sounds reach where a third category lies between two.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m gesturegan.export.compare",
        description="Put evaluate's metrics.json files side by side, with issue 14's targets.",
    )
    p.add_argument(
        "results",
        nargs="+",
        metavar="NAME=metrics.json[,more.json]",
        help="a model's evaluate --json file, or several (seeds) separated by commas: one column, their mean",
    )
    p.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = p.parse_args(argv)
    results = {}
    for item in args.results:
        name, _, paths = item.rpartition("=")
        draws = []
        for path in paths.split(","):
            try:
                draws.append(json.loads(Path(path).read_text()))
            except (OSError, ValueError) as e:
                print(f"compare: cannot read {path}: {e}", file=sys.stderr)
                return 2
        name = name or Path(paths.split(",")[0]).parent.name
        results[name if len(draws) == 1 else f"{name} (mean of {len(draws)} draws)"] = mean_result(draws)
    table = compare(results)
    if args.out:
        from gesturegan.files import write_text_atomic

        write_text_atomic(args.out, table + "\n")
    else:
        try:
            print(table)
        except BrokenPipeError:  # `... | head`: the reader left, nothing is wrong
            sys.stderr.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
