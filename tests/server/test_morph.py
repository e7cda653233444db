"""Morph maths: bilinear XY pad, weight normalisation, slerp, seeded latents."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gesturegan.server.core.morph import LatentState, latent_from_seed, normalise_weights, slerp, xy_weights


@pytest.mark.parametrize(("x", "y", "k"), [(0, 0, 0), (1, 0, 1), (0, 1, 2), (1, 1, 3)])
def test_each_corner_is_one_pure_category(x, y, k):
    np.testing.assert_allclose(xy_weights(x, y), np.eye(4)[k])


@given(st.floats(-2, 3), st.floats(-2, 3))
def test_xy_weights_are_a_mix(x, y):
    w = xy_weights(x, y)
    assert w.shape == (4,) and (w >= 0).all() and abs(w.sum() - 1) < 1e-12


def test_centre_is_an_even_mix_and_small_models_fold():
    np.testing.assert_allclose(xy_weights(0.5, 0.5), [0.25] * 4)
    np.testing.assert_allclose(xy_weights(0.5, 0.5, n_categories=2), [0.5, 0.5])
    np.testing.assert_allclose(xy_weights(0.2, 0.9, n_categories=6)[4:], 0.0)


@pytest.mark.parametrize("bad", [[0, 0, 0, 0], [np.nan, 1, 0, 0], []])
def test_bad_weights_are_refused(bad):
    with pytest.raises(ValueError):
        normalise_weights(bad)


def test_negative_weights_clip_to_zero():
    np.testing.assert_allclose(normalise_weights([-1, 1, 1, 0]), [0, 0.5, 0.5, 0])


def test_slerp_ends_and_keeps_the_norm_of_equal_norm_latents():
    a, b = latent_from_seed(1, 64), latent_from_seed(2, 64)
    b = b / np.linalg.norm(b) * np.linalg.norm(a)
    np.testing.assert_allclose(slerp(a, b, 0.0), a)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-12)
    assert abs(np.linalg.norm(slerp(a, b, 0.5)) - np.linalg.norm(a)) < 1e-9


def test_seeds_replay_and_jitter_is_seeded():
    assert np.array_equal(latent_from_seed(7, 16), latent_from_seed(7, 16))
    a = LatentState(16, seed=3, rng=np.random.default_rng(5))
    b = LatentState(16, seed=3, rng=np.random.default_rng(5))
    assert np.array_equal(a.sample(), b.sample())
    assert np.array_equal(a.sample(seed=11), latent_from_seed(11, 16).astype(np.float32))
    a.walk_speed = b.walk_speed = 1.0
    a.advance(0.1)
    b.advance(0.1)
    assert np.array_equal(a.current(), b.current())
    assert not np.array_equal(a.current(), a.base)
