"""Generation speed of every model family: onnxruntime beside PyTorch, same model, same run.

    python -m gesturegan.export.benchmark [--runs RUN ...] [--threads 2] [--json FILE]

Without runs, each family is built at its default config for 1.49 s of 44.1 kHz mono
(65536 samples, the default dataset) with its initial weights: speed does not depend on
what the weights learnt. With ``--runs`` the runs' own EMA generators are measured. For
each family and batch size it reports the median, p90 and p99 milliseconds per call, the
milliseconds per gesture and the real-time factor (seconds of audio per second of
compute), for onnxruntime (through the server's loader, with its buffers and session
options) and PyTorch eager on the same device. CUDA is measured too when present.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from gesturegan.files import write_json_atomic

FAMILIES = ("gan", "vae", "specgan", "wavegan", "twostage")


def _timings(fn, repeats: int, min_seconds: float) -> np.ndarray:
    fn()  # warm
    out, start = [], time.perf_counter()
    while len(out) < repeats or (time.perf_counter() - start < min_seconds and len(out) < 10 * repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.array(out)


def _torch_call(g, z: torch.Tensor, cond: torch.Tensor, sync: bool) -> None:
    with torch.inference_mode():
        g(z, cond)
    if sync:
        torch.cuda.synchronize()


def _row(family, engine, device, batch, times, audio_s) -> dict:
    med = float(np.median(times))
    return {
        "family": family,
        "engine": engine,
        "device": device,
        "batch": batch,
        "calls": len(times),
        "median_ms": med * 1e3,
        "p90_ms": float(np.percentile(times, 90)) * 1e3,
        "p99_ms": float(np.percentile(times, 99)) * 1e3,
        "ms_per_gesture": med * 1e3 / batch,
        "realtime_factor": audio_s * batch / med,
    }


def _generators(runs: list[Path] | None):
    from gesturegan.export.onnx_export import model_info
    from gesturegan.training.config import load_config
    from gesturegan.training.models import DataShape, build
    from gesturegan.training.state import load_generator

    if runs:
        for run in runs:
            gen, ckpt = load_generator(run)
            yield ckpt["family"], gen, model_info(ckpt, gen)
        return
    shape = DataShape(n_categories=4, channels=1, n_samples=65536, sample_rate=44100)
    for family in FAMILIES:
        cfg = load_config(family)
        torch.manual_seed(0)
        gen, _ = build(cfg, shape)
        ckpt = {
            "shape": vars(shape),
            "data": {},
            "step": 0,
            "best_score": None,
            "config": cfg.to_dict(),
            "categories": ["trigger", "trigger_continuous", "continuous_variation", "continuous_repetition"],
            "family": family,
        }
        yield family, gen.eval(), model_info(ckpt, gen)


def benchmark(
    runs: list[Path] | None,
    threads: int,
    batches: tuple[int, ...],
    repeats: int,
    min_seconds: float,
    families: tuple[str, ...] = FAMILIES,
) -> dict:
    from gesturegan.export.onnx_export import generator_to_onnx
    from gesturegan.server.inference.model import load_model, provider_candidates

    torch.set_num_threads(threads)
    rows = []
    devices = ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in provider_candidates("auto") else [])
    with tempfile.TemporaryDirectory() as tmp:
        for family, gen, info in _generators(runs):
            if family not in families:
                continue
            raw, _ = generator_to_onnx(gen, info)
            path = Path(tmp) / f"{family}.onnx"
            path.write_bytes(raw)
            audio_s = info.n_samples / info.sample_rate
            for device in devices:
                model = load_model(path, provider=device, threads=threads, batch_sizes=batches)
                g = gen.to(device)
                for b in batches:
                    rng = np.random.default_rng(0)
                    z = rng.standard_normal((b, info.latent_dim)).astype(np.float32)
                    cond = np.eye(info.n_categories, dtype=np.float32)[np.arange(b) % info.n_categories]
                    rows.append(
                        _row(
                            family,
                            "onnxruntime",
                            device,
                            b,
                            _timings(partial(model.generate, z, cond), repeats, min_seconds),
                            audio_s,
                        )
                    )
                    zt, ct = torch.from_numpy(z).to(device), torch.from_numpy(cond).to(device)

                    call = partial(_torch_call, g, zt, ct, device == "cuda")
                    rows.append(
                        _row(family, "torch", device, b, _timings(call, repeats, min_seconds), audio_s)
                    )
                    print(_line(rows[-2]), _line(rows[-1]), sep="\n", flush=True)
                g.to("cpu")
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "threads": threads,
            "torch": torch.__version__,
            "onnxruntime": __import__("onnxruntime").__version__,
        },
        "audio": {"sample_rate": 44100, "n_samples": 65536} if not runs else None,
        "rows": rows,
    }


def _line(r: dict) -> str:
    return (
        f"{r['family']:8s} {r['engine']:11s} {r['device']:4s} batch {r['batch']:3d}: median {r['median_ms']:8.2f} ms "
        f"(p90 {r['p90_ms']:8.2f}, p99 {r['p99_ms']:8.2f}) = {r['ms_per_gesture']:7.2f} ms/gesture, "
        f"{r['realtime_factor']:8.1f}x real time"
    )


def markdown(result: dict) -> str:
    lines = [
        "| family | engine | device | batch | median ms | p90 ms | p99 ms | ms/gesture | x real time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['family']} | {r['engine']} | {r['device']} | {r['batch']} | {r['median_ms']:.2f} | "
            f"{r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['ms_per_gesture']:.2f} | {r['realtime_factor']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m gesturegan.export.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--runs", nargs="*", type=Path, help="run folders to measure (default: every family, untrained)"
    )
    p.add_argument("--families", default=",".join(FAMILIES), help="comma-separated subset")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for both engines (default 2)")
    p.add_argument("--batches", default="1,16", help="batch sizes (default 1,16)")
    p.add_argument("--repeats", type=int, default=30, help="calls per measurement at least (default 30)")
    p.add_argument("--min-seconds", type=float, default=2.0, help="keep calling for at least this long")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--markdown", type=Path, help="write a markdown table here")
    a = p.parse_args(argv)
    result = benchmark(
        a.runs,
        a.threads,
        tuple(int(b) for b in a.batches.split(",")),
        a.repeats,
        a.min_seconds,
        tuple(a.families.split(",")),
    )
    if a.json:
        write_json_atomic(a.json, result)
    if a.markdown:
        from gesturegan.files import write_text_atomic

        write_text_atomic(a.markdown, markdown(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
