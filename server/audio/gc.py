"""Garbage collection off the audio thread.

CPython collects when allocations pass a threshold, in whichever thread made the allocation
that crossed it. Under 500 OSC messages/s that is sometimes the audio callback, which then walks
the heap inside its block. ``GcOffAudio`` turns automatic collection off and runs the same
collections, with the same thresholds, from the worker thread; it also times every collection
and records which thread ran it, for ``serve --stats``.
"""

from __future__ import annotations

import gc
import threading
import time


class GcOffAudio:
    def __init__(self) -> None:
        self.collections = [0, 0, 0]  # per generation
        self.max_ms = 0.0
        self.total_ms = 0.0
        self.outside_worker = 0  # collections some other thread ran (gc.collect() in a library)
        self._t0 = 0.0
        self._worker: int | None = None
        self._thresholds = gc.get_threshold()

    def start(self) -> GcOffAudio:
        gc.callbacks.append(self._timed)
        gc.disable()
        return self

    def attach_worker(self) -> None:
        """Called from the worker thread: the collections below run here."""
        self._worker = threading.get_ident()

    def step(self) -> None:
        """The collection the interpreter would have run by now, if any (worker thread)."""
        g0, g1, g2 = gc.get_count()
        t0, t1, t2 = self._thresholds
        if g0 < t0:
            return
        gen = 2 if (g1 >= t1 and g2 >= t2) else 1 if g1 >= t1 else 0
        gc.collect(gen)

    def _timed(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        ms = (time.perf_counter() - self._t0) * 1e3
        self.collections[info["generation"]] += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)
        if threading.get_ident() != self._worker:
            self.outside_worker += 1

    def stop(self) -> None:
        if self._timed in gc.callbacks:
            gc.callbacks.remove(self._timed)
        gc.enable()

    def report(self) -> dict:
        return {
            "collections": list(self.collections),
            "max_ms": self.max_ms,
            "total_ms": self.total_ms,
            "outside_worker": self.outside_worker,
        }
