"""The two-stage model's prior: fitted per category, drawn by z, mixed by cond, invertible."""

from __future__ import annotations

import functools

import pytest
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
        played = g.finish(g.decoder.decode_features(code), cond)
        torch.testing.assert_close(g(z, cond), played, atol=1e-4, rtol=1e-3)


def _tiny(**changes):
    """A fresh tiny two-stage config (no training run) with ``changes`` in [model] or [train]."""
    from dataclasses import replace

    from gesturegan.training.config import load_config

    cfg = load_config("twostage", "tiny")
    model = {k: v for k, v in changes.items() if hasattr(cfg.model, k)}
    train = {k: v for k, v in changes.items() if k not in model}
    return replace(cfg, model=replace(cfg.model, **model), train=replace(cfg.train, **train))


def test_the_posterior_prior_keeps_one_component_per_clip():
    import numpy as np

    from gesturegan.training.models import DataShape, build
    from gesturegan.training.models.twostage import encode, fit_prior

    cfg = _tiny(prior="posterior", prior_components=6, prior_bandwidth=0.5)
    torch.manual_seed(0)
    g, critic = build(cfg, DataShape(2, 1, 8192, 16000))
    rng = np.random.default_rng(0)
    few = (0.1 * rng.standard_normal((4, 1, 8192))).astype(np.float32)
    many = (0.1 * rng.standard_normal((9, 1, 8192))).astype(np.float32)
    fit = fit_prior([g], critic.encoder, [few, many], ["a", "b"], kind="posterior", bandwidth=0.5)
    assert fit.components == {"a": 4, "b": 6}  # every clip of a; b keeps a subset at the cap

    mu, sd = encode(critic.encoder, few)
    spread = 0.5 * mu.std(axis=0)
    torch.testing.assert_close(g.prior_mean[0, :4], torch.from_numpy(mu))
    torch.testing.assert_close(g.prior_std[0, :4], torch.from_numpy(np.sqrt(sd**2 + spread**2)))
    torch.testing.assert_close(g.weights()[0], torch.tensor([0.25] * 4 + [0.0] * 2))
    torch.testing.assert_close(g.weights()[1], torch.full((6,), 1 / 6))
    mu_b, _ = encode(critic.encoder, many)
    kept = g.prior_mean[1].numpy()
    assert all(np.abs(mu_b - row).max(axis=1).min() < 1e-6 for row in kept)  # each is one of b's clips
    assert len({tuple(r) for r in kept.round(6)}) == 6  # and no clip twice

    # z[:, 0] picks a clip: its anchor with zero noise decodes that clip's own code.
    z = torch.zeros(4, g.latent_dim)
    z[:, 0] = g.prior_anchor[0, :4]
    torch.testing.assert_close(g.codes(z, torch.eye(2)[[0] * 4]), torch.from_numpy(mu))


def _spread_prior(g, components: int) -> None:
    """``components`` equally weighted components per category, far apart, so they sound different."""
    with torch.no_grad():
        g.prior_mean.copy_(3 * torch.randn(g.prior_mean.shape, generator=torch.Generator().manual_seed(2)))
        g.prior_std.fill_(0.1)
        k, c = g.prior_cumulative.shape
        g.prior_cumulative.copy_(torch.clamp(torch.arange(1, c + 1) / components, max=1.0).expand(k, c))
    g.refresh_anchor()


def test_weighting_by_typicality_draws_a_component_by_how_surely_it_sounds_like_its_category():
    import numpy as np

    from gesturegan.training.classifier import GESTURE_CATEGORIES
    from gesturegan.training.models import DataShape, build
    from gesturegan.training.models.twostage import TYPICALITY_FLOOR, weight_by_typicality

    categories = [*GESTURE_CATEGORIES, "my_own"]  # the packaged classifier does not know the last
    cfg = _tiny(prior="posterior", prior_components=8)
    torch.manual_seed(0)
    g, _ = build(cfg, DataShape(len(categories), 1, 8192, 16000))
    _spread_prior(g, components=6)
    before = g.weights().clone()
    fit = weight_by_typicality([g], g, categories, exponent=2.0, seed=3)

    assert set(fit.heard) == set(GESTURE_CATEGORIES)
    torch.testing.assert_close(g.weights()[4], before[4])  # a category it cannot judge keeps its weights
    assert any(np.ptp(heard) > 0.1 for heard in fit.heard.values())  # the components do differ
    for k, name in enumerate(GESTURE_CATEGORIES):
        heard = fit.heard[name]
        assert heard.shape == (6,) and np.all((heard >= 0) & (heard <= 1))
        expected = before[k, :6].double().numpy() * np.maximum(heard, TYPICALITY_FLOOR) ** 2
        torch.testing.assert_close(g.weights()[k, :6].double(), torch.from_numpy(expected / expected.sum()))
        assert torch.all(g.weights()[k, 6:] == 0)  # no draw lands on an unfitted component
        assert fit.share_before[name] == pytest.approx(heard.mean())
        assert fit.share_after[name] >= fit.share_before[name] - 1e-9  # never less like its category
        assert 1.0 <= fit.effective[name] <= 6.0
        # each anchor still picks its own component under the new weights
        z = torch.zeros(6, g.latent_dim)
        z[:, 0] = g.prior_anchor[k, :6]
        heavy = g.weights()[k, :6] > 1e-6
        assert torch.equal(g.component(z)[heavy.nonzero().squeeze(1), k], heavy.nonzero().squeeze(1))

    again, _ = build(cfg, DataShape(len(categories), 1, 8192, 16000))
    again.load_state_dict(g.state_dict())
    _spread_prior(again, components=6)  # equal weights again
    repeat = weight_by_typicality([again], again, categories, exponent=2.0, seed=3)
    for name in GESTURE_CATEGORIES:  # the same draws, the same judgement
        np.testing.assert_allclose(repeat.heard[name], fit.heard[name])

    _spread_prior(again, components=6)
    equal = again.weights().clone()
    some = weight_by_typicality(
        [again], again, categories, exponent=2.0, seed=3, only=["continuous_variation"]
    )
    assert set(some.heard) == {"continuous_variation"}
    torch.testing.assert_close(again.weights()[2], g.weights()[2])
    for k in (0, 1, 3, 4):
        torch.testing.assert_close(again.weights()[k], equal[k])


def test_typicality_categories_are_read_written_and_checked_against_the_data(tiny_dataset, tmp_path):
    from gesturegan.training.config import ConfigError, load_config, to_toml
    from gesturegan.training.loop import train

    path = tmp_path / "typical.toml"
    path.write_text(
        'family = "twostage"\n[model]\nprior = "posterior"\nprior_typicality = 2\n'
        'prior_typicality_categories = ["continuous_variation", "continuous_repetition"]\n'
    )
    cfg = load_config("twostage", path)
    assert cfg.model.prior_typicality_categories == ("continuous_variation", "continuous_repetition")
    again = tmp_path / "again.toml"
    again.write_text(to_toml(cfg))
    assert load_config("twostage", again) == cfg
    path.write_text('family = "twostage"\n[model]\nprior_typicality_categories = [1, 2]\n')
    with pytest.raises(ConfigError, match="prior_typicality_categories"):
        load_config("twostage", path)
    path.write_text(
        'family = "twostage"\n[model]\nprior_typicality = 2\nprior_typicality_categories = ["drones"]\n'
    )
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"names drones, not a category of .*continuous_variation"):
        train(tiny_dataset, "twostage", out, config=path, progress=False, log=lambda m: None)
    assert not (out / "checkpoints").exists()  # refused before any step
    # the time pass's categories: read, written and checked the same way
    path.write_text(
        'family = "twostage"\n[model]\npostfilter_time_frames = 33\n'
        'postfilter_time_categories = ["trigger", "continuous_repetition"]\n'
    )
    cfg = load_config("twostage", path)
    assert cfg.model.postfilter_time_categories == ("trigger", "continuous_repetition")
    again.write_text(to_toml(cfg))
    assert load_config("twostage", again) == cfg
    path.write_text(
        'family = "twostage"\n[model]\npostfilter_time_frames = 33\npostfilter_time_categories = ["pads"]\n'
    )
    with pytest.raises(ConfigError, match=r"postfilter_time_categories names pads, not a category"):
        train(tiny_dataset, "twostage", out, config=path, progress=False, log=lambda m: None)
    assert not (out / "checkpoints").exists()
    path.write_text('family = "twostage"\n[model]\nprior_noise_share = ["continuous_variation"]\n')
    cfg = load_config("twostage", path)
    assert cfg.model.prior_noise_share == ("continuous_variation",)
    again.write_text(to_toml(cfg))
    assert load_config("twostage", again) == cfg
    path.write_text('family = "twostage"\n[model]\nprior_noise_share = ["pads"]\n')
    with pytest.raises(ConfigError, match=r"prior_noise_share names pads, not a category"):
        train(tiny_dataset, "twostage", out, config=path, progress=False, log=lambda m: None)
    assert not (out / "checkpoints").exists()


def test_the_training_refit_weights_the_prior_by_typicality_when_asked(tiny_dataset):
    from gesturegan.training.data import load_dataset
    from gesturegan.training.loop import _fit_prior
    from gesturegan.training.state import new_state

    data = load_dataset(tiny_dataset)
    logged = {}
    for exponent in (0.0, 3.0):
        cfg = _tiny(prior="posterior", prior_components=64, prior_typicality=exponent)
        state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
        logged[exponent] = _fit_prior(state, data)
        fitted = state.ema.weights() > 0
        uniform = torch.where(fitted, 1.0 / fitted.sum(dim=1, keepdim=True), 0.0)
        if exponent == 0:
            torch.testing.assert_close(state.ema.weights(), uniform)
        else:
            assert not torch.allclose(state.ema.weights(), uniform)
            torch.testing.assert_close(state.generator.weights(), state.ema.weights())
            assert "classifier's probability of its category to the power 3" in state.ema.describe()["prior"]
    assert not any(key.startswith("prior/") for key in logged[0.0])
    for name in data.categories:
        assert logged[3.0][f"prior/heard/{name}"] >= logged[3.0][f"prior/heard_before/{name}"]
        assert logged[3.0][f"prior/effective_components/{name}"] >= 1.0


def test_a_frozen_encoder_stays_put_in_the_adversarial_stage(tiny_dataset):
    from gesturegan.training.data import BatchSampler, load_dataset
    from gesturegan.training.loop import Dist, _wrap
    from gesturegan.training.state import new_state
    from gesturegan.training.steps import twostage_step

    data = load_dataset(tiny_dataset)
    for frozen in (True, False):
        cfg = _tiny(freeze_encoder=frozen, adversarial_from=1)
        state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
        _wrap(state, Dist())
        sampler = BatchSampler(data, cfg.train.batch_size, True, state.rng)
        state.step = 1  # in the adversarial stage
        encoder = [p.detach().clone() for p in state.critic.encoder.parameters()]
        decoder = [p.detach().clone() for p in state.generator.parameters()]
        logs = twostage_step(state, sampler)
        assert "loss/adv" in logs
        enc_moved = any(
            not torch.equal(a, b) for a, b in zip(encoder, state.critic.encoder.parameters(), strict=True)
        )
        dec_moved = any(
            not torch.equal(a, b) for a, b in zip(decoder, state.generator.parameters(), strict=True)
        )
        assert dec_moved and enc_moved != frozen


def test_a_mix_decodes_the_code_between_two_clips(tiny_dataset):
    import numpy as np

    from gesturegan.training.data import load_dataset
    from gesturegan.training.models import build
    from gesturegan.training.models.twostage import AutoencoderView

    data = load_dataset(tiny_dataset)
    cfg = _tiny()
    gen, critic = build(cfg, data.shape)
    view = AutoencoderView(gen, critic.encoder).eval()
    audio = torch.from_numpy(np.stack([data.audio[i] for i in range(3)]))
    noise = torch.zeros(3, gen.code_dim)
    mu, _ = critic.encoder(audio)
    with torch.no_grad():
        recon, _, _, none, _ = view(audio, noise)
        _, _, _, mixed, _ = view(audio, noise, mix=torch.tensor([0.0, 1.0, 0.5]))
        assert none is None
        torch.testing.assert_close(mixed[0], recon[0], atol=1e-5, rtol=1e-4)  # no way towards clip 2
        torch.testing.assert_close(mixed[1], recon[0], atol=1e-5, rtol=1e-4)  # all the way to clip 0
        halfway = gen.decoder.decode((0.5 * (mu[2] + mu[1])).unsqueeze(0))[0]
        torch.testing.assert_close(mixed[2], halfway, atol=1e-5, rtol=1e-4)


def test_mixes_are_trained_only_when_asked_and_only_in_the_adversarial_stage(tiny_dataset):
    import math

    import pytest

    from gesturegan.training.data import BatchSampler, load_dataset
    from gesturegan.training.loop import Dist, _wrap
    from gesturegan.training.state import new_state
    from gesturegan.training.steps import twostage_step

    data = load_dataset(tiny_dataset)
    for weight, step, expect in ((0.5, 1, True), (0.0, 1, False), (0.5, 0, False)):
        cfg = _tiny(mix_weight=weight, adversarial_from=1, freeze_encoder=True)
        state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
        _wrap(state, Dist())
        state.step = step
        logs = twostage_step(state, BatchSampler(data, cfg.train.batch_size, True, state.rng))
        assert ("loss/adv_mix" in logs) == expect
        assert math.isfinite(logs["loss/total"])

    # the term reaches the decoder's loss with its weight: same seed, only the weight differs
    totals = {}
    for weight in (0.5, 1.0):
        cfg = _tiny(mix_weight=weight, adversarial_from=1, freeze_encoder=True)
        state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
        _wrap(state, Dist())
        state.step = 1
        totals[weight] = twostage_step(state, BatchSampler(data, cfg.train.batch_size, True, state.rng))
    assert totals[0.5]["loss/adv_mix"] == pytest.approx(totals[1.0]["loss/adv_mix"], rel=1e-5)
    difference = totals[1.0]["loss/total"] - totals[0.5]["loss/total"]
    assert difference == pytest.approx(0.5 * totals[1.0]["loss/adv_mix"], rel=1e-3, abs=1e-5)


def test_the_prior_kind_is_checked():
    import pytest

    from gesturegan.training.config import ConfigError, validate

    with pytest.raises(ConfigError, match=r"model\.prior must be one of gmm, posterior"):
        validate(_tiny(prior="kde"))
    with pytest.raises(ConfigError, match="mix_weight"):
        validate(_tiny(mix_weight=-1.0))
    with pytest.raises(ConfigError, match="prior_bandwidth"):
        validate(_tiny(prior_bandwidth=-1.0))
    with pytest.raises(ConfigError, match="prior_typicality"):
        validate(_tiny(prior_typicality=-2.0))


def test_gradients_are_clipped_before_the_optimiser_sees_them(tiny_dataset):
    from gesturegan.training.config import defaults_for
    from gesturegan.training.data import BatchSampler, load_dataset
    from gesturegan.training.loop import Dist, _wrap
    from gesturegan.training.state import new_state
    from gesturegan.training.steps import twostage_step

    assert defaults_for("twostage").train.grad_clip > 0  # resumed runs of older configs get it too
    data = load_dataset(tiny_dataset)
    for clip in (0.0, 1e-3):
        cfg = _tiny(grad_clip=clip)
        state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
        _wrap(state, Dist())
        logs = twostage_step(state, BatchSampler(data, cfg.train.batch_size, True, state.rng))
        # After one step Adam's first moment is (1 - beta1) x the gradient it was given.
        moments = [s["exp_avg"] for s in state.opt_g.state.values()]
        given = float(torch.stack([m.norm() for m in moments]).norm()) / (1 - cfg.train.beta1)
        assert logs["grad_norm/g"] > 1e-2  # the norm before clipping is logged
        expected = logs["grad_norm/g"] if clip == 0 else clip
        assert abs(given - expected) < 1e-3 * expected


def test_the_reconstruction_loss_takes_the_configured_stft_sizes(tiny_dataset):
    """Same weights, same batch: only ``train.recon_sizes`` differs, so only it can move the loss."""
    from gesturegan.training.data import BatchSampler, load_dataset
    from gesturegan.training.loop import Dist, _wrap
    from gesturegan.training.state import new_state
    from gesturegan.training.steps import twostage_step

    data = load_dataset(tiny_dataset)
    losses = {}
    for sizes in ((256, 512, 1024, 2048), (128, 4096)):
        torch.manual_seed(0)
        cfg = _tiny(recon_sizes=sizes, kl_weight=0.0)
        state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
        _wrap(state, Dist())
        sampler = BatchSampler(data, cfg.train.batch_size, True, state.rng)
        losses[sizes] = twostage_step(state, sampler)["loss/recon"]
    assert losses[(256, 512, 1024, 2048)] != losses[(128, 4096)]


def _detail_spread(log_mag: torch.Tensor, bins: int) -> torch.Tensor:
    """Per clip: the rms of ``log_mag [B, C, F, N]`` around its envelope."""
    from gesturegan.training.models.twostage import log_mag_envelope

    return (log_mag - log_mag_envelope(log_mag, bins)).pow(2).mean(dim=(1, 2, 3)).sqrt()


def test_the_postfilter_scales_detail_around_each_frames_envelope_and_keeps_its_power():
    from gesturegan.training.models.twostage import log_mag_envelope, postfilter

    gen = torch.Generator().manual_seed(0)
    # a smooth envelope falling with frequency, with a comb of partials on it (one per 9 bins, so
    # the 9-bin envelope does not see them)
    f = torch.arange(257.0)
    partials = torch.cos(2 * torch.pi * f / 9.0).view(1, 1, -1, 1)
    log_mag = (-f / 40).view(1, 1, -1, 1) + partials + 0.1 * torch.randn(2, 1, 257, 30, generator=gen)
    same = postfilter(log_mag, torch.ones(2), 9)
    torch.testing.assert_close(same, log_mag)
    sharper = postfilter(log_mag, torch.tensor([2.0, 3.0]), 9)
    ratio = _detail_spread(sharper, 9) / _detail_spread(log_mag, 9)
    torch.testing.assert_close(ratio, torch.tensor([2.0, 3.0]), rtol=0.1, atol=0)
    # each frame's power stays, so a sharper gesture is no louder
    power = torch.logsumexp(2 * log_mag, dim=2)
    torch.testing.assert_close(torch.logsumexp(2 * sharper, dim=2), power, rtol=0, atol=1e-4)
    # the envelope, what the ear hears as the timbre's outline, keeps its shape: it moves by one
    # level per frame at most
    inner = slice(8, -8)  # away from the replicated edges
    moved = (log_mag_envelope(sharper, 9) - log_mag_envelope(log_mag, 9))[:, :, inner]
    shape_change = (moved - moved.mean(dim=2, keepdim=True)).abs().max()
    assert shape_change < 0.1 * (sharper - log_mag)[:, :, inner].abs().max()


def test_the_postfilter_stays_finite_on_silent_and_absurdly_loud_frames():
    """Its power is summed without logsumexp's max shift (onnxruntime's is slow): the clamp and floor
    must keep a frame of digital silence and one far past any real level finite."""
    from gesturegan.training.models.twostage import postfilter

    log_mag = torch.randn(2, 1, 513, 6)
    log_mag[..., 0] = -200.0  # e^-400: every bin underflows to 0
    log_mag[..., 1] = 60.0  # e^120: past float32's largest number
    sharper = postfilter(log_mag, torch.tensor([1.0, 4.0]), 9)
    assert torch.isfinite(sharper).all()
    # a silent frame stays silent, and ordinary frames keep their power
    assert float(sharper[..., 0].max()) < -150
    power = torch.logsumexp(2 * log_mag[..., 2:], dim=2)
    torch.testing.assert_close(torch.logsumexp(2 * sharper[..., 2:], dim=2), power, rtol=0, atol=1e-4)


@torch.no_grad()
def _flatness_off(decoder, features: torch.Tensor, real: torch.Tensor, rate: int, gain: float) -> float:
    """Median log10 flatness of the reconstructions at ``gain`` over their clips' (``real [B]``)."""
    from gesturegan.training.models.twostage import log_flatness

    made = decoder.finish(features, torch.full((len(features),), gain))
    return float((log_flatness(made, rate) - real).median())


def test_fitted_detail_gains_make_reconstructions_as_tonal_as_their_clips(tiny_runs, tiny_dataset):
    import numpy as np

    from gesturegan.training.data import load_dataset
    from gesturegan.training.models.twostage import DETAIL_GAINS, encode, fit_postfilter, log_flatness
    from gesturegan.training.state import read_checkpoint, restore_state

    ckpt = read_checkpoint(tiny_runs["twostage"] / "checkpoints" / "best.pt")
    state = restore_state(ckpt, torch.device("cpu"))
    g, encoder = state.ema, state.critic.encoder
    data = load_dataset(tiny_dataset)
    train = data.train_index
    by_category = [np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(4)]
    g.detail_gain.fill_(1.0)
    gains = fit_postfilter([g], g, encoder, by_category)
    low, high = DETAIL_GAINS[0], DETAIL_GAINS[-1]
    assert set(gains) == {0, 1, 2, 3} and all(low <= v <= high for v in gains.values())
    torch.testing.assert_close(g.detail_gain, torch.tensor([gains[k] for k in range(4)]))
    rate = data.shape.sample_rate
    for k, clips in enumerate(by_category):
        clips = clips[:48]  # every clip the fit saw (the tiny set has fewer per category)
        with torch.no_grad():
            mu, _ = encode(encoder, clips)
            features = g.decoder.decode_features(torch.from_numpy(mu))
            real = log_flatness(torch.from_numpy(clips), rate)
        off = functools.partial(_flatness_off, g.decoder, features, real, rate)
        if low < gains[k] < high:  # matched: as tonal as the clips, to the grid's interpolation
            assert abs(off(gains[k])) < 0.5 * max(abs(off(low)), 0.02), (k, gains[k], off(low), off(gains[k]))
        elif gains[k] == low:
            assert off(low) <= 0.0  # already as tonal: left alone
        else:
            assert off(high) > 0.0


def test_a_morph_mixes_the_categories_detail_gains_and_old_checkpoints_load(tiny_runs):
    g, _ = _generator(tiny_runs)
    g.detail_gain.copy_(torch.tensor([1.0, 3.0, 1.5, 2.0]))
    code = g.codes(torch.zeros(1, g.latent_dim), torch.eye(4)[:1])
    with torch.no_grad():
        x = g.decoder.decode_features(code)
        half = g.finish(x, torch.tensor([[0.5, 0.5, 0.0, 0.0]]))
        torch.testing.assert_close(half, g.decoder.finish(x, torch.tensor([2.0])))
        assert (half - g.decoder.decode(code)).abs().max() > 0

    import copy

    # a checkpoint from before the postfilter has no gains: it loads, and plays as it did
    before_the_postfilter = {k: v for k, v in g.state_dict().items() if k != "detail_gain"}
    other = copy.deepcopy(g)
    other.detail_gain.fill_(7.0)
    other.load_state_dict(before_the_postfilter)
    torch.testing.assert_close(other.detail_gain, torch.ones(4))


def test_postfilter_bins_must_be_odd_or_off():
    import pytest

    from gesturegan.training.config import ConfigError, validate

    validate(_tiny(postfilter_bins=0))
    validate(_tiny(postfilter_bins=5))
    for bad in (4, 1, -3):
        with pytest.raises(ConfigError, match="postfilter_bins"):
            validate(_tiny(postfilter_bins=bad))


def test_each_prior_component_plays_its_own_detail_gain_in_torch_and_onnxruntime():
    """``postfilter_per_component``: a draw's gain is its picked component's, mixed by cond like
    the category gains; onnxruntime plays it as torch does; a checkpoint fitted per category loads
    with every component at its category's gain."""
    import numpy as np
    import onnxruntime as ort

    from gesturegan.export.onnx_export import GeneratorGraph, _to_onnx
    from gesturegan.training.models import DataShape, build

    cfg = _tiny(
        prior="posterior", prior_components=3, postfilter_per_component=True, postfilter_power_bins=37
    )
    torch.manual_seed(0)
    g, _ = build(cfg, DataShape(2, 1, 8192, 16000))
    g.eval()
    g.detail_gain.copy_(torch.tensor([1.5, 2.0]))
    per_category = {k: v for k, v in g.state_dict().items() if k != "prior_detail_gain"}
    g.load_state_dict(per_category)
    torch.testing.assert_close(g.prior_detail_gain, torch.tensor([[1.5] * 3, [2.0] * 3]))

    g.prior_detail_gain.copy_(torch.tensor([[1.0, 3.0, 4.0], [1.25, 2.5, 1.0]]))
    g.prior_cumulative.copy_(torch.tensor([[1 / 3, 2 / 3, 1.0]] * 2))
    g.refresh_anchor()
    z = torch.randn(3, g.latent_dim, generator=torch.Generator().manual_seed(1))
    z[:, 0] = g.prior_anchor[0, 1]  # component 1 of each category (equal weights: same anchors)
    cond = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.25, 0.75]])
    with torch.no_grad():
        x = g.decoder.decode_features(g.codes(z, cond))
        want = g.decoder.finish(x, torch.tensor([3.0, 2.5, 0.25 * 3.0 + 0.75 * 2.5]))
        peak = float(want.abs().max())  # an untrained decoder plays quietly
        torch.testing.assert_close(g.finish(x, cond, z), want, rtol=0, atol=1e-4 * peak)
        assert (g.finish(x, cond) - want).abs().max() > 20 * 1e-4 * peak  # the category gains alone differ
    assert g.describe()["postfilter"]["per_component"][0] == {"median": 3.0, "min": 1.0, "max": 4.0}

    graph = GeneratorGraph(g).eval()
    raw = _to_onnx(graph, (z[:1], cond[:1]), ["z", "cond"], ["audio"], 17)
    (got,) = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(
        None, {"z": z.numpy(), "cond": cond.numpy()}
    )
    with torch.no_grad():
        assert np.abs(got - graph(z, cond).numpy()).max() < 1e-3 * peak


def test_component_gains_make_each_decoded_component_as_tonal_as_its_clip(tiny_runs, tiny_dataset):
    import numpy as np

    from gesturegan.training.data import load_dataset
    from gesturegan.training.models.twostage import (
        DETAIL_GAINS,
        fit_component_gains,
        fit_prior,
        log_flatness,
    )
    from gesturegan.training.state import read_checkpoint, restore_state

    ckpt = read_checkpoint(tiny_runs["twostage"] / "checkpoints" / "best.pt")
    ckpt["config"]["model"].update(prior="posterior", postfilter_per_component=True)
    state = restore_state(ckpt, torch.device("cpu"))
    g, encoder = state.ema, state.critic.encoder
    data = load_dataset(tiny_dataset)
    train = data.train_index
    by_category = [np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(4)]
    fit = fit_prior([g], encoder, by_category, data.categories, kind="posterior")
    g.detail_gain.copy_(torch.tensor([1.0, 1.5, 2.0, 2.5]))
    fitted = fit_component_gains([g], g, by_category, fit.kept)
    assert set(fitted) == {0, 1, 2, 3}
    low, high = DETAIL_GAINS[0], DETAIL_GAINS[-1]
    rate = data.shape.sample_rate
    for k, gains in fitted.items():
        m = len(fit.kept[k])
        torch.testing.assert_close(g.prior_detail_gain[k, :m], torch.from_numpy(gains))
        # components not fitted keep their category's gain
        assert torch.all(g.prior_detail_gain[k, m:] == g.detail_gain[k])
        with torch.no_grad():
            features = g.decoder.decode_features(g.prior_mean[k, :m])
            real = log_flatness(torch.from_numpy(by_category[k][fit.kept[k]]), rate)

            def off(gain: torch.Tensor, features=features, real=real) -> torch.Tensor:
                return log_flatness(g.decoder.finish(features, gain), rate) - real

            at_fit, at_low = off(g.prior_detail_gain[k, :m]), off(torch.full((m,), low))
            at_high = off(torch.full((m,), high))
        inside = (gains > low) & (gains < high)
        # matched to the grid's interpolation, left alone where already as tonal, at most 4
        assert torch.all(at_fit[inside].abs() <= 0.5 * at_low[inside].abs().clamp_min(0.02))
        assert torch.all(at_low[gains == low] <= 0) and torch.all(at_high[gains == high] > 0)


def test_per_component_gains_need_the_postfilter_and_a_posterior_prior():
    from gesturegan.training.config import ConfigError, validate

    validate(_tiny(prior="posterior", postfilter_per_component=True))
    with pytest.raises(ConfigError, match="postfilter_per_component"):
        validate(_tiny(prior="posterior", postfilter_per_component=True, postfilter_bins=0))
    with pytest.raises(ConfigError, match="postfilter_per_component"):
        validate(_tiny(prior="gmm", postfilter_per_component=True))


def test_a_local_power_postfilter_keeps_the_balance_between_bands():
    """``postfilter_power_bins``: the same sharpening, but each window of bins keeps its power, so
    a band of noise beside a band of partials is not darkened; per frame it is."""
    from gesturegan.training.models.twostage import postfilter

    gen = torch.Generator().manual_seed(0)
    f = torch.arange(257.0)
    # partials (one per 9 bins) in the lower half, noise of the same level in the upper half
    comb = torch.where(f < 128, 2.0 * torch.cos(2 * torch.pi * f / 9.0), torch.zeros(()))
    log_mag = comb.view(1, 1, -1, 1) + 0.3 * torch.randn(1, 1, 257, 20, generator=gen)

    def band_power(x: torch.Tensor, band: slice) -> torch.Tensor:
        return torch.logsumexp(2 * x[:, :, band], dim=2)

    noise = slice(160, 257)
    per_frame = postfilter(log_mag, torch.tensor([3.0]), 9)
    local = postfilter(log_mag, torch.tensor([3.0]), 9, power_bins=37)
    drop_per_frame = (band_power(log_mag, noise) - band_power(per_frame, noise)).mean()
    drop_local = (band_power(log_mag, noise) - band_power(local, noise)).mean()
    assert drop_per_frame > 1.0  # the noise band loses power to the sharpened partials
    assert drop_local.abs() < 0.2 * drop_per_frame
    # the partials are sharpened all the same: their peak-to-valley depth grows
    depth = _detail_spread(local[:, :, 9:119], 9) / _detail_spread(log_mag[:, :, 9:119], 9)
    assert float(depth.min()) > 2.0
    torch.testing.assert_close(postfilter(log_mag, torch.ones(1), 9, power_bins=37), log_mag)


def test_postfilter_power_bins_must_be_odd_and_wider_than_the_envelope():
    from gesturegan.training.config import ConfigError, validate

    validate(_tiny(postfilter_power_bins=37))
    for bad in (36, 9, 5):
        with pytest.raises(ConfigError, match="postfilter_power_bins"):
            validate(_tiny(postfilter_power_bins=bad))
    with pytest.raises(ConfigError, match="postfilter_power_bins"):
        validate(_tiny(postfilter_power_bins=37, postfilter_bins=0))


def test_the_time_postfilter_sharpens_hits_and_leaves_a_steady_bin_alone():
    """``time_postfilter``: a blurred hit rises above its surroundings and the gaps deepen; the
    moving average is kept, so a steady bin is unchanged; decoded silence counts as the floor."""
    from gesturegan.training.models.twostage import TIME_FLOOR, time_postfilter

    n = torch.arange(64.0)
    # a bin with a blurred hit every 16 frames over a steady level, and a steady bin
    hits = -2.0 + 1.5 * torch.exp(-(((n % 16) - 8.0) ** 2) / 18.0)
    log_mag = torch.stack([hits, torch.full_like(n, -3.0)]).view(1, 1, 2, 64)
    out = time_postfilter(log_mag, torch.tensor([1.5]), 9)
    assert float(out[0, 0, 0, 8] - log_mag[0, 0, 0, 8]) > 0.2  # the hit's peak rises
    assert float(out[0, 0, 0, 16] - log_mag[0, 0, 0, 16]) < -0.1  # the gap between hits deepens
    torch.testing.assert_close(out[0, 0, 1], log_mag[0, 0, 1])
    torch.testing.assert_close(time_postfilter(log_mag, torch.ones(1), 9), log_mag)
    # an onset after decoded silence far below the floor is sharpened as one after the floor,
    # and the silence away from it stays as it was
    silent = torch.cat([torch.full((32,), -60.0), torch.full((32,), -2.0)]).view(1, 1, 1, 64)
    at_floor = silent.clamp_min(TIME_FLOOR)
    gain = torch.tensor([1.5])
    torch.testing.assert_close(
        time_postfilter(silent, gain, 9) - silent, time_postfilter(at_floor, gain, 9) - at_floor
    )
    torch.testing.assert_close(time_postfilter(silent, gain, 9)[..., :24], silent[..., :24])


def test_the_time_gain_rule_restores_a_blurred_decoders_dynamics():
    """The rule ``fit_time_gain`` applies: the clips' detail over time over the reconstructions',
    corrected once. A decoder that blurs the clips' hits, filtered at that gain, moves as much as
    the clips."""
    from gesturegan.training.models.twostage import time_detail, time_postfilter

    gen = torch.Generator().manual_seed(3)
    n = torch.arange(128.0)
    hits = -3.0 + 2.5 * (torch.remainder(n, 12) < 3).float()  # a loop's hits in every bin
    real = hits.view(1, 1, 1, -1) + 0.3 * torch.randn(4, 1, 40, 128, generator=gen)
    blurred = torch.nn.functional.avg_pool2d(real, (1, 5), stride=1, padding=(0, 2), count_include_pad=False)

    def detail(log_mag: torch.Tensor) -> float:
        total, count = time_detail(log_mag, 9)
        return float((total / count).sqrt())

    first = detail(real) / detail(blurred)
    assert first > 1.2
    once = time_postfilter(blurred, torch.full((4,), first), 9)
    gain = first * detail(real) / detail(once)  # the fit's one correction
    restored = time_postfilter(blurred, torch.full((4,), gain), 9)
    assert abs(detail(restored) / detail(real) - 1) < 0.03


def test_fitted_time_gains_are_written_and_a_morph_mixes_them_in_torch_and_onnxruntime(
    tiny_runs, tiny_dataset
):
    """``fit_time_gain`` on a run: gains between 1 and the cap, 1 where the decoder already moves
    more than its clips (the untrained tiny one does), written into the generator; an older
    checkpoint loads at 1; a morph mixes the categories' gains; onnxruntime plays it as torch."""
    import numpy as np

    from gesturegan.training.data import load_dataset
    from gesturegan.training.models.twostage import (
        MAX_TIME_GAIN,
        PEAK_CEILING,
        encode,
        fit_time_gain,
        time_detail,
    )
    from gesturegan.training.representation import STFT, to_mag_phase
    from gesturegan.training.state import read_checkpoint, restore_state

    ckpt = read_checkpoint(tiny_runs["twostage"] / "checkpoints" / "best.pt")
    ckpt["config"]["model"]["postfilter_time_frames"] = 9
    state = restore_state(ckpt, torch.device("cpu"))  # saved without time gains: they load at 1
    g, encoder = state.ema.eval(), state.critic.encoder
    torch.testing.assert_close(g.time_gain, torch.ones(4))
    data = load_dataset(tiny_dataset)
    train = data.train_index
    by_category = [np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(4)]
    g.time_gain.fill_(3.0)
    gains = fit_time_gain([g], g, encoder, by_category)
    assert set(gains) == {0, 1, 2, 3} and all(1.0 <= v <= MAX_TIME_GAIN for v in gains.values())
    torch.testing.assert_close(g.time_gain, torch.tensor([gains[k] for k in range(4)]))
    stft = STFT(g.decoder.stft_cfg)
    for k, clips in enumerate(by_category):
        clips = torch.from_numpy(clips[:48])
        with torch.no_grad():
            features = g.decoder.decode_features(torch.from_numpy(encode(encoder, clips.numpy())[0]))
            made = g.decoder.finish(features, g.detail_gain[k].expand(len(features)))
        real_sq, made_sq = (time_detail(to_mag_phase(a, stft)[0], 9) for a in (clips, made))
        if gains[k] == 1.0:
            assert made_sq[0] / made_sq[1] >= real_sq[0] / real_sq[1]

    g.time_gain.copy_(torch.tensor([1.0, 2.0, 1.5, 1.2]))
    z = torch.randn(2, g.latent_dim, generator=torch.Generator().manual_seed(2))
    cond = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    with torch.no_grad():
        x = g.decoder.decode_features(g.codes(z, cond))
        detail_gain = cond @ g.detail_gain
        want = g.decoder.finish(x, detail_gain, time_gain=torch.tensor([1.5, 1.2]))
        torch.testing.assert_close(g.finish(x, cond, z), want)
    assert g.describe()["postfilter"]["time"] == {"frames": 9, "gain": [1.0, 2.0, 1.5, 1.2]}
    # a decoder loud enough to clip is turned down to the corpus's peak ceiling, as a whole
    with torch.no_grad():
        g.decoder.head.bias[: g.decoder.bins] += 8.0
        loud = g.decoder.finish(x, detail_gain, time_gain=torch.tensor([1.5, 1.2]))
        played = g.finish(x, cond, z)
        g.decoder.head.bias[: g.decoder.bins] -= 8.0
    assert float(loud.abs().max()) > 1.0
    peaks = played.abs().amax(dim=(1, 2))
    torch.testing.assert_close(peaks, torch.full_like(peaks, PEAK_CEILING))
    torch.testing.assert_close(played / PEAK_CEILING, loud / loud.abs().amax(dim=(1, 2), keepdim=True))
    _assert_onnxruntime_plays_as_torch(g, z, cond)


def test_postfilter_time_frames_must_be_odd_and_need_the_postfilter():
    from gesturegan.training.config import ConfigError, validate

    validate(_tiny(postfilter_time_frames=33))
    for bad in (32, 1, -3):
        with pytest.raises(ConfigError, match="postfilter_time_frames"):
            validate(_tiny(postfilter_time_frames=bad))
    with pytest.raises(ConfigError, match="postfilter_time_frames"):
        validate(_tiny(postfilter_time_frames=33, postfilter_bins=0))
    validate(_tiny(postfilter_time_frames=33, postfilter_time_categories=("trigger",)))
    with pytest.raises(ConfigError, match="postfilter_time_categories"):
        validate(_tiny(postfilter_time_categories=("trigger",)))


def test_the_training_refit_fits_the_time_gains_when_asked(tiny_dataset):
    """``_fit_prior`` (every prior refit in training) fits and logs the gains over time with
    ``postfilter_time_frames``, into both the generator and its EMA; without the key, nothing."""
    from gesturegan.training.data import load_dataset
    from gesturegan.training.loop import _fit_prior
    from gesturegan.training.models.twostage import MAX_TIME_GAIN
    from gesturegan.training.state import new_state

    data = load_dataset(tiny_dataset)
    off = new_state(_tiny(), data.shape, data.categories, {}, torch.device("cpu"))
    assert not any(key.startswith("postfilter/time/") for key in _fit_prior(off, data))
    assert not hasattr(off.ema, "time_gain")
    state = new_state(_tiny(postfilter_time_frames=9), data.shape, data.categories, {}, torch.device("cpu"))
    state.ema.time_gain.fill_(5.0)
    logged = _fit_prior(state, data)
    gains = torch.tensor([logged[f"postfilter/time/{name}"] for name in data.categories])
    assert torch.all((gains >= 1.0) & (gains <= MAX_TIME_GAIN))
    torch.testing.assert_close(state.ema.time_gain, gains)
    torch.testing.assert_close(state.generator.time_gain, gains)
    # only some categories: they get what the full fit gave them, the others 1
    only = ("trigger", "continuous_repetition")
    picked = new_state(
        _tiny(postfilter_time_frames=9, postfilter_time_categories=only, prior_noise_share=("trigger",)),
        data.shape,
        data.categories,
        {},
        torch.device("cpu"),
    )
    picked.ema.load_state_dict(state.ema.state_dict())
    picked.critic.load_state_dict(state.critic.state_dict())
    logged = _fit_prior(picked, data)
    for k, name in enumerate(data.categories):
        want = float(gains[k]) if name in only else 1.0
        assert logged[f"postfilter/time/{name}"] == pytest.approx(want)
    # model.prior_noise_share: the named category's share of noisy draws logged, and only its
    assert 0.0 <= logged["prior/noisy/trigger"] <= 1.0 and 0.0 <= logged["prior/noisy_before/trigger"] <= 1.0
    assert [key for key in logged if key.startswith("prior/noisy/")] == ["prior/noisy/trigger"]


def test_data_loudness_puts_prepared_clips_back_where_prepare_put_them(tiny_dataset):
    """``to_data_loudness`` is prepare's rule inside the graph: the prepared corpus, turned down
    by 12 dB, comes back to prepare's level (the trim's floor is read from the gesture, not the
    whole file, hence the tolerance); a steady sound is brought to the RMS target, a spiky one
    to the peak ceiling, a short hit by its sound and not the silence after it, and a decoded
    near-silence is raised by the cap only."""
    import numpy as np

    from gesturegan.training.data import load_dataset
    from gesturegan.training.models.twostage import MAX_RAISE, to_data_loudness

    data = load_dataset(tiny_dataset)
    rule = torch.tensor([-20.0, -1.0])
    hop = data.shape.sample_rate // 200
    clips = torch.from_numpy(np.array(data.audio))
    back = to_data_loudness(clips * 0.25, rule, hop)
    off_db = 20 * torch.log10(back.abs().amax(dim=(1, 2)) / clips.abs().amax(dim=(1, 2)))
    assert float(off_db.abs().median()) < 0.05 and float(off_db.abs().max()) < 1.0

    def db(x: torch.Tensor) -> float:
        return float(20 * torch.log10(x))

    gen = torch.Generator().manual_seed(0)
    t = 8192
    steady = 0.01 * torch.randn(1, 1, t, generator=gen)
    out = to_data_loudness(steady, rule, hop)
    assert abs(db(out.pow(2).mean().sqrt()) + 20.0) < 0.05
    spiky = torch.zeros(1, 1, t)
    spiky[..., ::2000] = 0.5
    out = to_data_loudness(spiky, rule, hop)
    assert abs(db(out.abs().max()) + 1.0) < 1e-4 and db(out.pow(2).mean().sqrt()) < -25.0
    hit = torch.zeros(1, 1, t)
    hit[..., : 20 * hop] = 0.01 * torch.sin(torch.arange(20 * hop) * 0.3)
    out = to_data_loudness(hit, rule, hop)
    assert abs(db(out[..., : 20 * hop].pow(2).mean().sqrt()) + 20.0) < 0.05
    quiet = 1e-7 * torch.randn(1, 1, t, generator=gen)
    torch.testing.assert_close(to_data_loudness(quiet, rule, hop), quiet * MAX_RAISE)
    silent = torch.zeros(2, 1, t)
    torch.testing.assert_close(to_data_loudness(silent, rule, hop), silent)  # no 0 / 0


def test_data_loudness_is_fitted_from_the_dataset_played_by_the_graph_and_old_checkpoints_load(
    tiny_runs, tiny_dataset
):
    """``model.data_loudness``: a checkpoint saved without it loads at prepare's rule; a prior
    refit writes the dataset's rule into generator and EMA; every drawn gesture, morphs too,
    plays at that rule in torch and in onnxruntime; off, the gestures play as the decoder made
    them."""

    from gesturegan.training.data import load_dataset
    from gesturegan.training.loop import _fit_prior
    from gesturegan.training.models.twostage import to_data_loudness
    from gesturegan.training.state import read_checkpoint, restore_state

    ckpt = read_checkpoint(tiny_runs["twostage"] / "checkpoints" / "best.pt")
    plain = restore_state(ckpt, torch.device("cpu")).ema.eval()
    assert not hasattr(plain, "loudness_db") and "loudness" not in plain.describe()
    ckpt["config"]["model"]["data_loudness"] = True
    state = restore_state(ckpt, torch.device("cpu"))
    g = state.ema.eval()
    torch.testing.assert_close(g.loudness_db, torch.tensor([-20.0, -1.0]))
    data = load_dataset(tiny_dataset)
    data.stats["loudness"] = {**data.stats["loudness"], "target_rms_db": -23.0}
    _fit_prior(state, data)
    for module in (state.ema, state.generator):
        torch.testing.assert_close(module.loudness_db, torch.tensor([-23.0, -1.0]))
    assert g.describe()["loudness"].startswith("each gesture at -23 dBFS RMS over its sound")
    z = torch.randn(3, g.latent_dim, generator=torch.Generator().manual_seed(4))
    cond = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])
    plain.load_state_dict({k: v for k, v in g.state_dict().items() if k != "loudness_db"})
    with torch.no_grad():
        made = plain(z, cond)
        played = g(z, cond)
    torch.testing.assert_close(played, to_data_loudness(made, g.loudness_db, g.loudness_hop))
    assert not torch.allclose(played, made)
    _assert_onnxruntime_plays_as_torch(g, z, cond)


def test_the_noise_share_reweights_only_the_named_categories_toward_half_noisy_draws(tiny_runs, tiny_dataset):
    """``weight_by_noise_share``: with every fourth component of a category playing a steady sine
    and the others white noise (three quarters of the draws noisier than its median clip), the
    noisy components' weights are scaled by 2/3 and the tonal ones' by 2, so that half the
    weighted draws are noisy; the other categories keep their weights, in both generators."""
    import types

    import numpy as np

    from gesturegan.training.data import load_dataset
    from gesturegan.training.models.twostage import weight_by_noise_share
    from gesturegan.training.state import read_checkpoint, restore_state

    state = restore_state(
        read_checkpoint(tiny_runs["twostage"] / "checkpoints" / "best.pt"), torch.device("cpu")
    )
    data = load_dataset(tiny_dataset)
    train = data.train_index
    by_category = [np.stack([data.audio[i] for i in train[data.labels[train] == k]]) for k in range(4)]
    g = state.ema.eval()
    k = 2
    before = g.weights().clone()
    fitted = torch.nonzero(before[k] > 0).squeeze(1)
    assert len(fitted) >= 2
    t = torch.arange(g.shape.n_samples) / g.shape.sample_rate

    def plays(self, z, cond):
        tonal = (self.component(z)[:, k] % 4 == 0).float().view(-1, 1, 1)
        sine = 0.3 * torch.sin(2 * torch.pi * 440.0 * t).expand(len(z), 1, -1)
        noise = 0.1 * torch.randn(len(z), 1, len(t), generator=torch.Generator().manual_seed(0))
        return tonal * sine + (1 - tonal) * noise

    g.forward = types.MethodType(plays, g)
    name = data.categories[k]
    fit = weight_by_noise_share([state.generator, g], g, by_category, data.categories, [name], draws=2)
    after = g.weights()
    tonal = fitted % 4 == 0
    share = float(before[k, fitted][~tonal].sum() / before[k, fitted].sum())
    assert fit.before == {name: pytest.approx(share)} and fit.after == {name: pytest.approx(0.5)}
    ratio = after[k, fitted] / before[k, fitted]
    torch.testing.assert_close(ratio[~tonal], torch.full_like(ratio[~tonal], 0.5 / share))
    torch.testing.assert_close(ratio[tonal], torch.full_like(ratio[tonal], 0.5 / (1 - share)))
    for other in (0, 1, 3):
        torch.testing.assert_close(after[other], before[other])
    torch.testing.assert_close(state.generator.prior_cumulative, g.prior_cumulative)
    # the other side of the cliff: all tonal, nothing to balance with
    g.forward = types.MethodType(lambda self, z, cond: plays(self, z * 0 + self.prior_anchor[k, 0], cond), g)
    kept = g.weights().clone()
    fit = weight_by_noise_share([g], g, by_category, data.categories, [name], draws=2)
    assert fit.before == {name: 0.0} and fit.factor_range == {}
    torch.testing.assert_close(g.weights(), kept)


def _assert_onnxruntime_plays_as_torch(g, z: torch.Tensor, cond: torch.Tensor) -> None:
    """The generator exported (batch 1 traced) and run on ``z``, ``cond`` in onnxruntime plays
    what torch does, within 1e-3 of the peak."""
    import numpy as np
    import onnxruntime as ort

    from gesturegan.export.onnx_export import GeneratorGraph, _to_onnx

    graph = GeneratorGraph(g).eval()
    raw = _to_onnx(graph, (z[:1], cond[:1]), ["z", "cond"], ["audio"], 17)
    (got,) = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(
        None, {"z": z.numpy(), "cond": cond.numpy()}
    )
    with torch.no_grad():
        want = graph(z, cond).numpy()
    assert np.abs(got - want).max() < 1e-3 * max(float(np.abs(want).max()), 1e-6)
