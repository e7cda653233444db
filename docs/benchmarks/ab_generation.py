"""Two models' generation, call by call in turn, in one process: ms per gesture and their ratio.

python docs/benchmarks/ab_generation.py A.onnx B.onnx [ROUNDS]

A cross-check of `gesturegan bench --beside` (which takes quarter-second turns with spinning
sessions): here single calls alternate, with spinning off so that neither session's idle threads
take the other's cores. Absolute times are higher without spinning; read the ratio.
"""

import sys
import time

import numpy as np
import onnxruntime as ort

from gesturegan.server.inference.model import session_options

paths = sys.argv[1:3]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 80
sessions = [
    ort.InferenceSession(p, session_options(2, spinning=False), providers=["CPUExecutionProvider"])
    for p in paths
]
latent = sessions[0].get_inputs()[0].shape[1]
categories = sessions[0].get_inputs()[1].shape[1]
for batch, calls in ((1, rounds), (16, max(4, rounds // 8))):
    rng = np.random.default_rng(0)
    feed = {
        "z": rng.standard_normal((batch, latent)).astype(np.float32),
        "cond": np.eye(categories, dtype=np.float32)[np.arange(batch) % categories],
    }
    times: list[list[float]] = [[], []]
    for session in sessions:
        for _ in range(3):
            session.run(None, feed)
    for _ in range(calls):
        for i, session in enumerate(sessions):
            start = time.perf_counter()
            session.run(None, feed)
            times[i].append(time.perf_counter() - start)
    ms = [float(np.median(t)) * 1000 / batch for t in times]
    names = "  ".join(f"{p.rsplit('/', 1)[-1]} {m:.2f} ms/gesture" for p, m in zip(paths, ms, strict=True))
    print(f"batch {batch}: {names}  ratio {ms[0] / ms[1]:.3f}")
