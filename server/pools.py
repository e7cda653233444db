"""Pools of pre-generated gestures, so a trigger never waits for the model.

One pool per key: a pure category (its index) or a morph mix (its weights quantised to
``1 / MIX_STEPS``, so a fader's jitter does not make a new pool per message). The refill
worker asks ``wanted()`` which pools are short, generates in batches and ``put``s; a trigger
``take``s. Pure categories are always kept; mixes are evicted least recently used. When the
latent or the model changes, ``clear`` empties what is stale and the worker refills it.

Pools are touched by the control thread and the refill thread, never by the audio thread
(the voice bank copies a taken gesture into its own slot), so a plain lock is enough.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np

MIX_STEPS = 16
Key = int | tuple[int, ...]


def key_for(weights: np.ndarray) -> Key:
    """A pool key for category weights ``[K]``: the index of a pure category, else the quantised mix."""
    w = np.asarray(weights, np.float64)
    q = np.round(w / w.sum() * MIX_STEPS).astype(int)
    if q.sum() == 0:
        q[int(np.argmax(w))] = MIX_STEPS
    nz = np.flatnonzero(q)
    if nz.size == 1:
        return int(nz[0])
    return tuple(int(v) for v in q)


def weights_of(key: Key, n_categories: int) -> np.ndarray:
    """The ``cond`` row ``[K]`` float32 that a key stands for."""
    w = np.zeros(n_categories, np.float32)
    if isinstance(key, int):
        w[key] = 1.0
    else:
        w[:] = np.asarray(key, np.float32) / float(sum(key))
    return w


@dataclass
class PoolStats:
    hits: int = 0
    misses: int = 0  # a trigger found its pool empty and had to generate at once
    generated: int = 0
    evicted: int = 0


class GesturePools:
    """``capacity`` gestures ``[C, T]`` per key; ``max_mixes`` mixed keys at most."""

    def __init__(self, n_categories: int, capacity: int = 4, max_mixes: int = 8):
        self.n_categories, self.capacity, self.max_mixes = n_categories, capacity, max_mixes
        self._lock = threading.Lock()
        self._pools: OrderedDict[Key, deque] = OrderedDict((k, deque()) for k in range(n_categories))
        self.stats = PoolStats()
        # Bumped by clear(): gestures made before it are dropped on put. Two counters, so a morph
        # (which drops only the mixes) does not throw away a category batch being generated.
        self._gen_all, self._gen_mix = 0, 0

    def take(self, key: Key) -> np.ndarray | None:
        """A gesture of ``key`` (the oldest), or None when its pool is empty (counted as a miss)."""
        got = self.take_tagged(key)
        return None if got is None else got[0]

    def take_tagged(self, key: Key) -> tuple[np.ndarray, object] | None:
        """Like ``take``, with the tag the gesture was ``put`` with (where it came from)."""
        with self._lock:
            pool = self._touch(key)
            if pool:
                self.stats.hits += 1
                return pool.popleft()
            self.stats.misses += 1
            return None

    @property
    def generation(self) -> tuple[int, int]:
        """What ``put`` needs to know a batch is still wanted: read it before generating."""
        return (self._gen_all, self._gen_mix)

    def put(
        self, key: Key, gestures: np.ndarray, generation: tuple[int, int], tags: list | None = None
    ) -> int:
        """Add gestures ``[N, C, T]`` made at ``generation`` (``tags[i]`` travels with gesture i);
        returns how many were kept."""
        with self._lock:
            made_all, made_mix = generation
            if made_all != self._gen_all or (not isinstance(key, int) and made_mix != self._gen_mix):
                return 0
            pool = self._touch(key)
            kept = 0
            for i, g in enumerate(gestures):
                if len(pool) >= self.capacity:
                    break
                pool.append((np.array(g, np.float32, copy=True), None if tags is None else tags[i]))
                kept += 1
            self.stats.generated += kept
            return kept

    def wanted(self, focus: Key | None = None) -> list[tuple[Key, int]]:
        """``(key, missing)`` for every short pool, the ``focus`` key (the current mix) first."""
        with self._lock:
            if focus is not None:
                self._touch(focus)
            short = [(k, self.capacity - len(p)) for k, p in self._pools.items() if len(p) < self.capacity]
        short.sort(key=lambda kv: (kv[0] != focus, -kv[1]))
        return short

    def clear(self, mixes_only: bool = False) -> tuple[int, int]:
        """Drop stale gestures (all, or only mixes); returns the new generation."""
        with self._lock:
            for k, p in self._pools.items():
                if not mixes_only or not isinstance(k, int):
                    p.clear()
            self._gen_mix += 1
            if not mixes_only:
                self._gen_all += 1
            return self.generation

    def sizes(self) -> dict[Key, int]:
        with self._lock:
            return {k: len(p) for k, p in self._pools.items()}

    def _touch(self, key: Key) -> deque:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = deque()
            mixes = [k for k in self._pools if not isinstance(k, int)]
            while len(mixes) > self.max_mixes:
                self._pools.pop(mixes.pop(0))
                self.stats.evicted += 1
        self._pools.move_to_end(key)
        return pool
