"""The two-stage model's prior: fitted per category, drawn by z, mixed by cond, invertible."""

from __future__ import annotations

import torch

from gesturegan.training.state import load_generator


def _generator(tiny_runs):
    generator, ckpt = load_generator(tiny_runs["twostage"])
    return generator, ckpt


def test_the_prior_is_fitted_for_every_category(tiny_runs):
    g, ckpt = _generator(tiny_runs)
    assert ckpt["family"] == "twostage" and g.latent_dim == g.code_dim + 1
    k = len(ckpt["categories"])
    assert g.prior_mean.shape == (k, g.components, g.code_dim)
    torch.testing.assert_close(g.prior_cumulative[:, -1], torch.ones(k))
    assert torch.all(g.prior_cumulative[:, 1:] >= g.prior_cumulative[:, :-1])
    assert g.prior_mean.abs().sum() > 0  # fitted, not the standard normal it starts as
    assert torch.all(g.prior_std > 0)


def test_z0_picks_a_component_and_the_rest_moves_within_it(tiny_runs):
    g, _ = _generator(tiny_runs)
    cond = torch.eye(4)[:1].repeat(2, 1)
    z = torch.zeros(2, g.latent_dim)
    z[0, 0], z[1, 0] = -3.0, 3.0  # the first and the last fitted component of trigger
    a, b = g.codes(z, cond)
    m = int((g.weights()[0] > 0).sum())
    torch.testing.assert_close(a, g.prior_mean[0, 0])
    torch.testing.assert_close(b, g.prior_mean[0, m - 1])
    z[0, 1] = 1.0
    moved = g.codes(z, cond)[0]
    torch.testing.assert_close(moved - a, torch.nn.functional.pad(g.prior_std[0, 0, :1], (0, g.code_dim - 1)))


def test_a_mix_of_categories_interpolates_their_codes(tiny_runs):
    g, _ = _generator(tiny_runs)
    z = torch.randn(3, g.latent_dim, generator=torch.Generator().manual_seed(0))
    pure = torch.stack([g.codes(z, torch.eye(4)[[k] * 3]) for k in range(4)])  # [K, B, D]
    w = torch.tensor([[0.5, 0.5, 0, 0], [0, 0.25, 0, 0.75], [0.25, 0.25, 0.25, 0.25]])
    torch.testing.assert_close(g.codes(z, w), torch.einsum("bk,kbd->bd", w, pure))


def test_invert_gives_the_z_that_decodes_a_code(tiny_runs):
    g, _ = _generator(tiny_runs)
    gen = torch.Generator().manual_seed(1)
    cond = torch.eye(4)[[0, 1, 2, 3]]
    code = g.codes(torch.randn(4, g.latent_dim, generator=gen), cond) + 0.1 * torch.randn(
        4, g.code_dim, generator=gen
    )
    z = g.invert(code, cond)
    torch.testing.assert_close(g.codes(z, cond), code, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(g(z, cond), g.decoder.decode(code), atol=1e-4, rtol=1e-3)
