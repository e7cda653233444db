"""A point of the category simplex, as every part of the engine uses it (pure).

The morph pad, a MIDI note or ``/morph/weights`` give category weights ``[K]``. ``Mix`` is made
from them once: the pool ``key`` (a category's index, or the mix quantised to ``MIX_STEPS``
so a fader's jitter stays in one pool), the model's ``cond`` row, whether it is a pure category,
and the name ``/voice/start`` reports. Pools, generation and replies all read it; none of them
re-derives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIX_STEPS = 16
Key = int | tuple[int, ...]  # a category's index, or a mix in MIX_STEPS-ths


def key_for(weights: np.ndarray) -> Key:
    """The pool key of category weights ``[K]``: a pure category's index, else the quantised mix."""
    w = np.asarray(weights, np.float64)
    q = np.round(w / w.sum() * MIX_STEPS).astype(int)
    if q.sum() == 0:
        q[int(np.argmax(w))] = MIX_STEPS
    nz = np.flatnonzero(q)
    if nz.size == 1:
        return int(nz[0])
    return tuple(int(v) for v in q)


def is_category(key: Key) -> bool:
    """Whether a pool key is a pure category (always pooled) rather than a mix."""
    return isinstance(key, int)


def weights_of(key: Key, n_categories: int) -> np.ndarray:
    """The ``cond`` row ``[K]`` float32 that a key stands for."""
    w = np.zeros(n_categories, np.float32)
    if is_category(key):
        w[key] = 1.0
    else:
        w[:] = np.asarray(key, np.float32) / float(sum(key))
    return w


@dataclass(frozen=True, eq=False)
class Mix:
    """What the engine needs of a point of the pad, made once (see the module's doc)."""

    key: Key
    cond: np.ndarray  # [K] float32
    category: int | None  # the pure category's index; None for a mix
    label: str  # the /voice/start name: the category's, or "mix"

    @property
    def pure(self) -> bool:
        return self.category is not None

    @classmethod
    def of_key(cls, key: Key, categories: Sequence[str]) -> Mix:
        cond = weights_of(key, len(categories))
        cond.setflags(write=False)
        if is_category(key):
            return cls(key, cond, int(key), categories[int(key)])
        return cls(key, cond, None, "mix")

    @classmethod
    def of_weights(cls, weights: np.ndarray, categories: Sequence[str]) -> Mix:
        return cls.of_key(key_for(weights), categories)
