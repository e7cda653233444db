"""A ring of audio frames that the audio thread writes and another thread (or process) drains.

The writer never waits and never allocates: a block that would overwrite frames not yet read is
dropped, and the caller counts it. Positions are frame counts since the start (monotonic), so
the reader and the writer share nothing but two integers.
"""

from __future__ import annotations

import numpy as np


def push_block(ring: np.ndarray, written: int, read: int, block: np.ndarray) -> bool:
    """Copy ``block [frames, channels]`` into ``ring [capacity, channels]`` at frame ``written``
    (wrapping round); False, nothing copied, when frames ``read`` .. ``written`` would be lost."""
    n, cap = block.shape[0], ring.shape[0]
    if written + n - read > cap:
        return False
    start = written % cap
    first = min(n, cap - start)
    np.copyto(ring[start : start + first], block[:first])
    if first < n:
        np.copyto(ring[: n - first], block[first:])
    return True
