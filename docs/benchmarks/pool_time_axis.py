"""The time postfilter's moving average over 33 frames in onnxruntime, five ways, on one
``[1, 1, 513, 257]`` log-magnitude (the default's STFT), 2 threads, median of 200 runs.

    python docs/benchmarks/pool_time_axis.py

Results: docs/benchmarks/generate-time-postfilter.md.
"""

import io
import time

import numpy as np
import onnxruntime as ort
import torch
from torch.nn import functional as F

FRAMES = 33


class Pool2d(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, (1, FRAMES), stride=1, padding=(0, FRAMES // 2), count_include_pad=False)


class Rows1d(torch.nn.Module):
    """What ships: the same average, pooled as ``[B * C * F, 1, N]`` rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, n = x.shape
        rows = F.avg_pool1d(
            x.reshape(b * c * f, 1, n), FRAMES, stride=1, padding=FRAMES // 2, count_include_pad=False
        )
        return rows.reshape(b, c, f, n)


class CumSum(torch.nn.Module):
    """The same average from a cumulative sum and two gathers."""

    def __init__(self, n: int):
        super().__init__()
        half, idx = FRAMES // 2, torch.arange(n)
        self.register_buffer("hi", (idx + half + 1).clamp(max=n))
        self.register_buffer("lo", (idx - half).clamp(min=0))
        self.register_buffer("count", (self.hi - self.lo).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cs = torch.cat([torch.zeros_like(x[..., :1]), torch.cumsum(x, dim=-1)], dim=-1)
        return (cs.index_select(-1, self.hi) - cs.index_select(-1, self.lo)) / self.count


class Conv(torch.nn.Module):
    """A box kernel (zero-padded at the edges: not the same average there)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", torch.ones(1, 1, 1, FRAMES) / FRAMES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, padding=(0, FRAMES // 2))


class Blocks(torch.nn.Module):
    """Blocks of 4 frames, 9 blocks averaged, interpolated back (a different, smoother average)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = F.avg_pool2d(x, (1, 4), stride=(1, 4), ceil_mode=True)
        bands = F.avg_pool2d(blocks, (1, 9), stride=1, padding=(0, 4), count_include_pad=False)
        return F.interpolate(bands, size=x.shape[2:], mode="bilinear", align_corners=False)


x = torch.randn(1, 1, 513, 257, generator=torch.Generator().manual_seed(0)) * 3 - 4
reference = Pool2d()(x).numpy()
options = ort.SessionOptions()
options.intra_op_num_threads = 2
for name, module in (
    ("avg_pool2d (1, 33)", Pool2d()),
    ("avg_pool1d over rows", Rows1d()),
    ("cumsum and gathers", CumSum(257)),
    ("conv2d box", Conv()),
    ("4-frame blocks", Blocks()),
):
    buffer = io.BytesIO()
    torch.onnx.export(
        module, (x,), buffer, input_names=["x"], output_names=["y"], opset_version=17, dynamo=False
    )
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    difference = float(np.abs(session.run(None, feed)[0] - reference).max())
    times = []
    for _ in range(200):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    print(f"| {name} | {np.median(times) * 1000:.2f} | {difference:.1e} |")
