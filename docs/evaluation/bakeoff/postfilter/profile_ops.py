"""Where generation spends its time, per kind of ONNX node (onnxruntime's profiler, batch 1, 2 threads).

python docs/evaluation/bakeoff/postfilter/profile_ops.py MODEL.onnx [MODEL.onnx ...]
"""

import collections
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gesturegan.server.inference.model import session_options

CALLS = 40
for path in sys.argv[1:]:
    options = session_options(2)
    options.enable_profiling = True
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    k = session.get_inputs()[1].shape[1]
    z = np.random.default_rng(0).standard_normal((1, session.get_inputs()[0].shape[1])).astype(np.float32)
    cond = np.eye(k, dtype=np.float32)[[min(2, k - 1)]]
    for _ in range(CALLS):
        session.run(None, {"z": z, "cond": cond})
    trace = Path(session.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    per_op = collections.Counter()
    for event in events:
        if event.get("cat") == "Node":
            per_op[event["args"].get("op_name", "?")] += event["dur"]
    print(path, "all nodes, ms per call", round(sum(per_op.values()) / CALLS / 1000, 2))
    for op, microseconds in per_op.most_common(12):
        print("   ", op, round(microseconds / CALLS / 1000, 2))
