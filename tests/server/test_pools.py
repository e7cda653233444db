"""Gesture pools: keys, hits and misses, capacity, stale generations, LRU of mixes."""

from __future__ import annotations

import numpy as np

from gesturegan.server.pools import MIX_STEPS, GesturePools, key_for, weights_of


def test_keys_fold_pure_categories_and_quantise_mixes():
    assert key_for([0, 0, 1, 0]) == 2
    assert key_for([0.001, 0, 0.999, 0]) == 2
    mix = key_for([0.5, 0.5, 0, 0])
    assert mix == (MIX_STEPS // 2, MIX_STEPS // 2, 0, 0)
    assert key_for([0.5, 0.49, 0.01, 0]) == mix  # a fader's jitter stays in one pool
    np.testing.assert_allclose(weights_of(mix, 4), [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(weights_of(3, 4), [0, 0, 0, 1])


def test_take_put_and_misses():
    pools = GesturePools(4, capacity=2)
    assert pools.take(0) is None and pools.stats.misses == 1
    g = np.ones((3, 1, 16), np.float32)
    assert pools.put(0, g, pools.generation) == 2  # capacity
    first = pools.take(0)
    assert first.shape == (1, 16) and pools.stats.hits == 1
    g[:] = 5  # the pool holds copies
    assert pools.take(0)[0, 0] == 1.0


def test_stale_generations_are_dropped_and_focus_comes_first():
    pools = GesturePools(4, capacity=2)
    old = pools.generation
    pools.clear()
    assert pools.put(1, np.zeros((1, 1, 4), np.float32), old) == 0
    mix = key_for([0, 0.5, 0.5, 0])
    wanted = pools.wanted(focus=mix)
    assert wanted[0] == (mix, 2) and len(wanted) == 5


def test_mixes_are_evicted_least_recently_used_categories_never():
    pools = GesturePools(4, capacity=1, max_mixes=2)
    a, b, c = (key_for(w) for w in ([0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.5, 0.5]))
    for k in (a, b, c):
        pools.put(k, np.zeros((1, 1, 4), np.float32), pools.generation)
    sizes = pools.sizes()
    assert a not in sizes and b in sizes and c in sizes and all(k in sizes for k in range(4))
    assert pools.stats.evicted == 1


def test_a_morph_drops_only_mix_batches_in_flight():
    pools = GesturePools(4, capacity=2)
    made = pools.generation  # a refill reads this, then generates for a while
    pools.clear(mixes_only=True)  # meanwhile the XY pad moved
    g = np.zeros((1, 1, 4), np.float32)
    assert pools.put(2, g, made) == 1  # the category batch is still good
    assert pools.put(key_for([0, 0.5, 0.5, 0]), g, made) == 0  # the old mix's is not
