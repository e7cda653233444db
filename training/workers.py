"""Map a function over many files on every core, in order, with an optional progress bar."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_files(
    fn: Callable[[T], R], items: Sequence[T], workers: int | None = None, progress: str | None = None
) -> list[R]:
    """``[fn(x) for x in items]`` in worker processes (``fn`` must be picklable, module-level).

    ``workers`` defaults to every core; a handful of items runs in this process, where a
    pool would cost more than it saves. ``progress`` is the progress bar's label (None: no bar).
    """
    workers = workers or os.cpu_count() or 1
    pool = (
        ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)
        if workers > 1 and len(items) > 4
        else None
    )
    # Small chunks keep both cores busy to the end when file lengths differ a lot.
    results: Iterable[R] = (
        pool.map(fn, items, chunksize=max(1, len(items) // (workers * 8))) if pool else map(fn, items)
    )
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=len(items), unit="file", desc=progress)
    try:
        return list(results)
    except BaseException:  # Ctrl-C, or a worker's error: stop the others now, not after the queue
        if pool is not None:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown()


def _worker_init() -> None:
    """Ctrl-C is the parent's to handle (no worker tracebacks), and a worker dies with its
    parent even when the parent is killed with SIGKILL (Linux: PR_SET_PDEATHSIG)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the line above: go now
            os._exit(1)
