"""Pools of pre-generated gestures, so a trigger never waits for the model.

One pool per key: a pure category (its index) or a morph mix (its weights quantised to
``1 / MIX_STEPS``, so a fader's jitter does not make a new pool per message). The refill
worker asks ``wanted()`` which pools are short (the categories and the current mix), generates
in batches and ``put``s; a trigger ``take``s. Pure categories are always kept; mixes are
evicted least recently used. When the latent changes, ``clear`` empties every pool and the
worker refills them.

The **reserve** holds one gesture for each point of a coarse grid over the XY pad (``reserve_keys``,
9 x 9 points by default). A trigger at a mix whose own pool is still empty (the pad has just
moved) plays the reserve gesture of the nearest grid point, within half a grid cell, instead
of waiting ~10-20 ms for the model; the mix's own pool fills behind it and later triggers are
exact. Reserve holes are refilled last, four grid points per batch.

Pools are touched by the control thread and the refill thread, never by the audio thread
(the voice bank copies a taken gesture into its own slot), so a plain lock is enough.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

import numpy as np

from gesturegan.server.core.mix import Key, is_category, key_for, weights_of

RESERVE_GRID = 8  # cells per side of the reserve's XY grid (9 x 9 points)


def reserve_keys(n_categories: int, cells: int = RESERVE_GRID) -> list[Key]:
    """The mix keys of a ``cells`` x ``cells`` grid over the XY pad (corners excluded: they are
    categories, always pooled), in grid order without repeats."""
    from gesturegan.server.core.morph import xy_weights

    if n_categories < 2 or cells < 1:
        return []
    keys: list[Key] = []
    for y in np.linspace(0.0, 1.0, cells + 1):
        for x in np.linspace(0.0, 1.0, cells + 1):
            k = key_for(xy_weights(float(x), float(y), n_categories))
            if not is_category(k) and k not in keys:
                keys.append(k)
    return keys


@dataclass
class PoolStats:
    hits: int = 0
    misses: int = 0  # a trigger found its pool empty and had to generate at once
    generated: int = 0
    evicted: int = 0
    nearest: int = 0  # triggers at a fresh mix served by the reserve's nearest grid point


class GesturePools:
    """``capacity`` gestures ``[C, T]`` per key; ``max_mixes`` mixed keys at most."""

    def __init__(
        self,
        n_categories: int,
        capacity: int = 4,
        max_mixes: int = 8,
        reserve: list[Key] | None = None,
        reserve_cells: int = RESERVE_GRID,
    ):
        """``reserve``: the keys of a ``reserve_cells`` x ``reserve_cells`` grid (``reserve_keys``)."""
        self.n_categories, self.capacity, self.max_mixes = n_categories, capacity, max_mixes
        self._lock = threading.Lock()
        self._pools: OrderedDict[Key, deque] = OrderedDict((k, deque()) for k in range(n_categories))
        self._reserve: dict[Key, tuple | None] = dict.fromkeys(reserve or ())
        self._reserve_keys = list(self._reserve)
        self._reserve_w = (
            np.stack([weights_of(k, n_categories) for k in self._reserve_keys]) if self._reserve else None
        )
        # Half a grid cell in weight space (L1): farther than that, the reserve is not the mix asked for.
        self.reserve_reach = 2.0 / max(reserve_cells, 1)
        self.stats = PoolStats()
        self._generation = 0  # bumped by clear(): gestures made before it are dropped on put

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

    def take_nearest(self, weights: np.ndarray) -> tuple[np.ndarray, object] | None:
        """The reserve gesture (with its tag) nearest to ``weights [K]`` within ``reserve_reach``,
        or None; the hole it leaves is refilled by the worker."""
        if self._reserve_w is None:
            return None
        w = np.asarray(weights, np.float64)
        dist = np.abs(self._reserve_w - w[None, :]).sum(axis=1)
        with self._lock:
            for i in np.argsort(dist):
                if dist[i] > self.reserve_reach:
                    return None
                key = self._reserve_keys[i]
                got = self._reserve[key]
                if got is not None:
                    self._reserve[key] = None
                    self.stats.nearest += 1
                    return got
        return None

    def reserve_holes(self) -> list[Key]:
        """Reserve grid points without a gesture, in grid order."""
        with self._lock:
            return [k for k, g in self._reserve.items() if g is None]

    def put_reserve(self, keys: list[Key], gestures: np.ndarray, generation: int, tags: list) -> int:
        """Fill the reserve holes ``keys[i]`` with ``gestures[i]`` ``[C, T]``; returns how many."""
        with self._lock:
            if generation != self._generation:
                return 0
            kept = 0
            for key, g, tag in zip(keys, gestures, tags, strict=False):  # a batch may carry padding rows
                if key in self._reserve and self._reserve[key] is None:
                    self._reserve[key] = (np.array(g, np.float32, copy=True), tag)
                    kept += 1
            self.stats.generated += kept
            return kept

    @property
    def generation(self) -> int:
        """What ``put`` needs to know a batch is still wanted: read it before generating."""
        return self._generation

    def put(self, key: Key, gestures: np.ndarray, generation: int, tags: list | None = None) -> int:
        """Add gestures ``[N, C, T]`` made at ``generation`` (``tags[i]`` travels with gesture i);
        returns how many were kept."""
        with self._lock:
            if generation != self._generation:
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
        """``(key, missing)`` for every short category pool and the ``focus`` (the current
        mix), which comes first. Mixes the morph has left are kept as they are, not refilled:
        a sweep across the pad must not queue a batch for every position it crossed."""
        with self._lock:
            if focus is not None:
                self._touch(focus)
            short = [
                (k, self.capacity - len(p))
                for k, p in self._pools.items()
                if len(p) < self.capacity and (is_category(k) or k == focus)
            ]
        short.sort(key=lambda kv: (kv[0] != focus, -kv[1]))
        return short

    def clear(self) -> int:
        """Drop every pooled gesture (the latent changed); returns the new generation."""
        with self._lock:
            for p in self._pools.values():
                p.clear()
            self._reserve = dict.fromkeys(self._reserve)
            self._generation += 1
            return self._generation

    def sizes(self) -> dict[Key, int]:
        with self._lock:
            return {k: len(p) for k, p in self._pools.items()}

    def _touch(self, key: Key) -> deque:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = deque()
            mixes = [k for k in self._pools if not is_category(k)]
            while len(mixes) > self.max_mixes:
                self._pools.pop(mixes.pop(0))
                self.stats.evicted += 1
        self._pools.move_to_end(key)
        return pool
