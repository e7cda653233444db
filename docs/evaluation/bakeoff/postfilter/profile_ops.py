import collections
import json
import sys

import numpy as np
import onnxruntime as ort

from gesturegan.server.inference.model import session_options

z = np.random.default_rng(0).standard_normal((1, 129)).astype(np.float32)
cond = np.eye(4, dtype=np.float32)[[2]]
for path in sys.argv[1:]:
    so = session_options(2)
    so.enable_profiling = True
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(40):
        s.run(None, {"z": z, "cond": cond})
    prof = json.load(open(s.end_profiling()))
    tot = collections.Counter()
    for e in prof:
        if e.get("cat") == "Node":
            tot[e["args"].get("op_name", "?")] += e["dur"]
    all_ = sum(tot.values())
    print(path, "total ms/run", round(all_ / 40 / 1000, 2))
    for op, d in tot.most_common(12):
        print("   ", op, round(d / 40 / 1000, 2))
