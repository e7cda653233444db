"""Gesture pools: keys, hits and misses, capacity, stale generations, LRU of mixes."""

from __future__ import annotations

import numpy as np

from gesturegan.server.core.mix import MIX_STEPS, Mix, key_for, weights_of
from gesturegan.server.core.morph import xy_weights
from gesturegan.server.core.pools import GesturePools, reserve_keys


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


def test_only_categories_and_the_current_mix_are_refilled():
    pools = GesturePools(4, capacity=2)
    here, there = key_for([0.5, 0.5, 0, 0]), key_for([0, 0.5, 0.5, 0])
    g = np.zeros((1, 1, 4), np.float32)
    pools.put(here, g, pools.generation)  # the pad rested here, then moved on
    assert [k for k, _ in pools.wanted(focus=there)] == [there, 0, 1, 2, 3]  # `here` waits as it is
    assert pools.take(here) is not None  # coming back finds what was made for it


def test_the_reserve_serves_the_nearest_grid_point_within_reach_once():
    keys = reserve_keys(4, cells=8)
    assert len(keys) == len(set(keys)) and all(not isinstance(k, int) for k in keys)
    assert key_for(xy_weights(0.5, 0.5)) in keys  # the centre of the pad is a grid point
    pools = GesturePools(4, capacity=2, reserve=keys)
    assert pools.take_nearest(xy_weights(0.51, 0.49)) is None  # nothing made yet
    rows = np.arange(len(keys), dtype=np.float32)[:, None, None] * np.ones((1, 1, 4), np.float32)
    assert pools.put_reserve(keys, rows, pools.generation, list(range(len(keys)))) == len(keys)
    gesture, tag = pools.take_nearest(xy_weights(0.51, 0.49))
    assert keys[tag] == key_for(xy_weights(0.5, 0.5)) and gesture[0, 0] == tag
    again = pools.take_nearest(xy_weights(0.51, 0.49))  # the centre is used up: the next nearest
    assert again is not None and again[1] != tag and pools.stats.nearest == 2
    assert set(pools.reserve_holes()) == {keys[tag], keys[again[1]]}
    pools.clear()  # a new latent: the reserve is stale too
    assert len(pools.reserve_holes()) == len(keys) and pools.take_nearest(xy_weights(0.5, 0.5)) is None


def test_every_mixed_pad_position_has_a_reserve_point_in_reach_at_any_grid():
    """The reach follows the configured grid (--reserve-grid), not the default one."""
    for cells in (4, 8, 12):
        keys = reserve_keys(4, cells=cells)
        pools = GesturePools(4, capacity=1, reserve=keys, reserve_cells=cells)
        grid = np.stack([weights_of(k, 4) for k in keys])
        stranded = 0
        for y in np.linspace(0, 1, 25):
            for x in np.linspace(0, 1, 25):
                w = xy_weights(float(x), float(y))
                if isinstance(key_for(w), int):
                    continue  # a pure category: its own pool serves it
                if np.abs(grid - w[None]).sum(axis=1).min() > pools.reserve_reach:
                    stranded += 1
        assert stranded == 0, (cells, stranded)


def test_a_mix_is_made_once_with_everything_the_engine_reads():
    cats = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")
    corner = Mix.of_weights(xy_weights(1.0, 1.0), cats)
    assert corner.pure and corner.category == 3 and corner.label == "continuous_repetition"
    assert corner.key == 3 and corner.cond.tolist() == [0, 0, 0, 1]
    middle = Mix.of_weights(xy_weights(0.5, 0.5), cats)
    assert not middle.pure and middle.label == "mix" and middle.key == key_for(xy_weights(0.5, 0.5))
    np.testing.assert_allclose(middle.cond, weights_of(middle.key, 4))
    assert not middle.cond.flags.writeable  # shared by every batch made for it
