"""The whole ``gesturegan bench`` run and its markdown tables."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from gesturegan.server.tools.bench.generation import generation, generation_side_by_side
from gesturegan.server.tools.bench.latency import latency
from gesturegan.server.tools.bench.stress import stress


def machine() -> dict:
    import onnxruntime

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
    }


def run(
    model: Path,
    blocks=(128, 256),
    trials: int = 100,
    stress_seconds: float = 60.0,
    stress_blocks=(256, 128),
    batches=(1, 16, 64),
    baselines=None,
    log=print,
    backend: str = "jack",
    mixers=("process", "thread"),
    beside: Path | None = None,
    audio: bool = True,
) -> dict:
    """Everything ``gesturegan bench`` measures, as one dict.

    ``mixers``: with the JACK backend, the stress runs once per mixer placement (the audio
    callback in a process of its own, or in the engine's), one after the other.

    ``baselines``: a callable returning rows (the PyTorch and SpecGAN baselines, measured by
    ``gesturegan.export.benchmark``: that room needs torch, so the caller brings it)."""
    result: dict = {"machine": machine(), "model": str(model)}
    if beside is not None:
        log(f"generation (onnxruntime), {Path(model).name} beside {Path(beside).name}, interleaved:")
        result["beside"] = str(beside)
        result["generation"] = generation_side_by_side([Path(model), Path(beside)], batches)
    else:
        log(f"generation (onnxruntime, {Path(model).name}):")
        result["generation"] = generation(model, batches)
    for r in result["generation"]:
        log(_gen_line(r))
    if baselines is not None:
        result["baselines"] = baselines()
    result["backend"] = backend
    if not audio:
        result["latency"], result["stress"] = [], []
        return result
    result["latency"] = [latency(model, b, trials, log=log, backend=backend) for b in blocks]
    placements = mixers if backend == "jack" else ("thread",)
    result["stress"] = [
        stress(model, b, stress_seconds, log=log, backend=backend, mixer=m)
        for b in stress_blocks
        for m in placements
    ]
    return result


def _gen_line(r: dict) -> str:
    return (
        f"  {r['family']:8s} {r['engine']:11s} {r['device']:4s} batch {r['batch']:3d}: {r['ms_per_gesture']:8.2f} ms/gesture "
        f"(median call {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f}), {r['realtime_factor']:8.1f}x real time"
    )


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Machine: {m['processor']}, {m['cpus']} CPUs, {m['platform']}, onnxruntime {m['onnxruntime']}.",
        "",
        "| model | engine | device | batch | ms per gesture | median call ms | p99 call ms | x real time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = list(result["generation"])
    if isinstance(result.get("baselines"), list):
        rows += [dict(r, model=f"{r['family']} (default config)") for r in result["baselines"]]
    for r in rows:
        name = r.get("model", r["family"])
        lines.append(
            f"| {name} | {r['engine']} | {r['device']} | {r['batch']} | {r['ms_per_gesture']:.2f} | "
            f"{r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['realtime_factor']:.0f} |"
        )
    if not result["latency"] and not result["stress"]:  # --no-audio
        return "\n".join(lines)
    lines += [
        "",
        "| trigger to sound | block | p50 frames | p50 ms | p50 blocks | p99 frames | p99 ms | p99 blocks | max frames | trials |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lat in result["latency"]:
        for path in ("floor", "osc", "midi", "morph", "morph-exact"):
            r = lat.get(path, {})
            if r.get("n"):
                lines.append(
                    f"| {path} | {lat['block']} | {r['p50']:.0f} | {r['p50_ms']:.2f} | {r['p50_blocks']:.2f} | "
                    f"{r['p99']:.0f} | {r['p99_ms']:.2f} | {r['p99_blocks']:.2f} | {r['max']:.0f} | {r['n']} |"
                )
    lines += [
        "",
        "| stress | mixer | block | seconds | messages/s | voices (median) | xruns (JACK) | of them the engine's callback late | "
        "callback start max (blocks) | callback ran p99.9 / max ms | idle xruns | machine: wakeups later than a block | "
        "steal s | server RSS / PSS MB | torch in server | JACK realtime |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in result["stress"]:
        t = (s.get("server_stats") or {}).get("audio") or {}
        ours = t.get("xruns_ours", "n/a")
        entry = f"{t['entry_max_blocks']:.2f}" if "entry_max_blocks" in t else "n/a"
        took = f"{t['took_p99.9_ms']:.2f} / {t['took_max_ms']:.2f}" if "took_max_ms" in t else "n/a"
        steal = "n/a" if s.get("steal_s") is None else f"{s['steal_s']:.2f}"
        f = s.get("platform")
        machine_late = (
            "n/a" if not f else f"{f['late_block']} of {f['wakeups']} (max {f['max_us'] / 1000:.1f} ms)"
        )
        pss = "n/a" if s.get("pss_mb") is None else f"{s['pss_mb']:.0f}"
        lines.append(
            f"| 32 voices, 500 msg/s | {s.get('mixer') or 'n/a'} | {s['block']} | {s['seconds']:.0f} | "
            f"{s['messages_per_s']:.0f} | {s['voices_median']} | "
            f"{s['xruns_jack']} | {ours} | {entry} | {took} | {s['xruns_idle_baseline']} in {s['idle_seconds']:.0f} s | "
            f"{machine_late} | {steal} | {s['rss_mb']:.0f} / {pss} | {s['torch_in_server']} | {s['jack_realtime']} |"
        )
    return "\n".join(lines)
