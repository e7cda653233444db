"""Map a function over many files on every core, in order, with an optional progress bar."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, TimeoutError
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_files(
    fn: Callable[[T], R], items: Sequence[T], workers: int | None = None, progress: str | None = None
) -> list[R]:
    """``[fn(x) for x in items]`` in worker processes (``fn`` must be picklable, module-level).

    ``workers`` defaults to every core; a handful of items runs in this process, where a
    pool would cost more than it saves. ``progress`` is the progress bar's label (None: no bar).
    Ctrl-C stops the workers at once and raises ``KeyboardInterrupt`` here.
    """
    workers = workers or os.cpu_count() or 1
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="file", desc=progress)
    try:
        if workers > 1 and len(items) > 4:
            return _in_pool(fn, items, workers, bar)
        results = []
        for item in items:
            results.append(fn(item))
            if bar is not None:
                bar.update(1)
        return results
    finally:
        if bar is not None:
            bar.close()


def _in_pool(fn: Callable[[T], R], items: Sequence[T], workers: int, bar) -> list[R]:
    """The pool's side of ``map_files``. Ctrl-C only sets a flag while the pool is in use: a
    KeyboardInterrupt raised inside the executor's own bookkeeping (it arrived 0.6 s into a
    run, while work was being handed out) left it unable to shut down, and the command hung."""
    interrupted = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set()) if main else None
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)
    try:
        futures = [pool.submit(fn, item) for item in items]
        results = []
        for future in futures:
            while True:
                if interrupted.is_set():
                    raise KeyboardInterrupt
                try:
                    results.append(future.result(timeout=0.1))
                    break
                except TimeoutError:
                    continue
            if bar is not None:
                bar.update(1)
        pool.shutdown()
        return results
    except BaseException:  # Ctrl-C, or a worker's error: drop the queue, let the workers stop
        # No kill: a worker killed while writing its result leaves half a message in the pipe,
        # the executor's manager thread waits on it forever, and the interpreter joins that
        # thread at exit (the command hung). Workers ignore Ctrl-C and finish the file in hand.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


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
