"""The gan's measures against collapse: minibatch deviation, adaptive augmentation, mode seeking."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from gesturegan.training.config import CONFIG_DIR, ConfigError, load_config, validate
from gesturegan.training.data import BatchSampler, load_dataset
from gesturegan.training.loop import Dist, _wrap, train
from gesturegan.training.losses import diff_augment, mode_seeking
from gesturegan.training.models.gan import SpecDisc, minibatch_stddev
from gesturegan.training.state import new_state, read_checkpoint, step_checkpoints
from gesturegan.training.steps import _adapt_augmentation, gan_step


def _tiny(**train_changes):
    cfg = load_config("gan", "tiny")
    return replace(cfg, train=replace(cfg.train, **train_changes))


def test_the_deviation_channel_says_how_alike_each_group_is():
    # batch 4, groups of 2: clip i is grouped with clip i + 2
    same = torch.randn(2, 3, 5, 6)
    other = torch.randn(2, 3, 5, 6)
    h = torch.cat([same, same + 0.0 * other])  # clips 0/2 and 1/3 identical
    out = minibatch_stddev(h, 2)
    assert out.shape == (4, 4, 5, 6)
    assert torch.equal(out[:, :3], h)
    assert out[:, 3].abs().max() < 1e-3  # sqrt(1e-8): no spread at all
    apart = minibatch_stddev(torch.cat([same, same + 1.0]), 2)[:, 3]
    assert torch.allclose(apart, torch.full_like(apart, 0.5), atol=1e-3)  # deviation of {x, x + 1}
    # a batch the group does not divide falls back to the largest divisor (3 and 2: groups of 1)
    assert minibatch_stddev(torch.randn(3, 3, 5, 6), 2)[:, 3].abs().max() < 1e-3


def test_a_discriminator_with_the_deviation_scores_and_exposes_it_for_feature_matching():
    torch.manual_seed(0)
    # eval: spectral norm then keeps its estimate instead of refining it at every call
    plain, grouped = SpecDisc(1, 4, 128, 8).eval(), SpecDisc(1, 4, 128, 8, minibatch_std=2).eval()
    spec = torch.randn(4, 1, 65, 40)
    cond = torch.eye(4)
    _, feats_plain = plain.trunk(spec)
    pooled, feats = grouped.trunk(spec)
    assert len(feats) == len(feats_plain) + 1 and pooled.shape == (4, 64)
    collapsed = spec[:2].repeat(2, 1, 1, 1)  # two pairs of identical clips
    assert grouped.score(spec, cond).shape == (4,)
    # the score of one clip depends on the others in its group only with the deviation on
    assert not torch.allclose(grouped.score(spec, cond)[:2], grouped.score(collapsed, cond)[:2])
    assert torch.allclose(plain.score(spec, cond)[:2], plain.score(collapsed, cond)[:2])


def test_augmenting_with_probability_zero_leaves_clips_as_they_are():
    x = torch.randn(6, 1, 4096)
    assert torch.equal(diff_augment(x, torch.Generator().manual_seed(1), p=0.0), x)
    changed = diff_augment(x, torch.Generator().manual_seed(1), p=1.0)
    assert all(not torch.equal(changed[i], x[i]) for i in range(6))
    # at p = 0.5 some operations are skipped: fewer clips lose a cutout's worth of samples
    counts = []
    for p in (1.0, 0.5):
        y = diff_augment(x, torch.Generator().manual_seed(2), p=p)
        counts.append(int((y == 0).flatten(1).sum(1).ge(4096 // 8).sum()))
    assert counts[0] == 6 and counts[1] < 6


def test_mode_seeking_is_large_for_a_collapsed_generator():
    z = torch.randn(8, 16)
    collapsed = torch.zeros(8, 1, 10, 10)
    loss_c, ratio_c = mode_seeking(collapsed, z)
    varied = torch.randn(8, 1, 10, 10)
    loss_v, ratio_v = mode_seeking(varied, z)
    assert float(ratio_c) == 0 and float(loss_c) == pytest.approx(1e5)
    assert float(ratio_v) > 0.5 and float(loss_v) < 2
    # capped: past the cap the term no longer pushes (no gradient), below it it does as before
    for scale, pushes in ((1.0, False), (0.01, True)):
        spectra = (varied * scale).requires_grad_(True)
        loss, ratio = mode_seeking(spectra, z, cap=0.3)
        loss.backward()
        assert (float(spectra.grad.abs().max()) > 0) == pushes
        assert float(loss) == pytest.approx(1 / (min(float(ratio), 0.3) + 1e-5), rel=1e-5)


def test_the_config_refuses_nonsense():
    for changes, match in (
        ({"diversity_weight": -1.0}, "diversity_weight"),
        ({"diversity_cap": -0.1}, "diversity_cap"),
        ({"ada_target": 1.0}, "ada_target"),
        ({"ada_target": 0.6, "diffaug": False}, "needs train.diffaug"),
        ({"ada_steps": 0}, "ada_steps"),
    ):
        with pytest.raises(ConfigError, match=match):
            validate(_tiny(**changes))
    cfg = load_config("gan", "tiny")
    with pytest.raises(ConfigError, match="minibatch_std"):
        validate(replace(cfg, model=replace(cfg.model, minibatch_std=-1)))


def _one_step(data, cfg, augment_p=0.0):
    state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
    _wrap(state, Dist())
    state.augment_p = augment_p
    logs = gan_step(state, BatchSampler(data, cfg.train.batch_size, True, state.rng))
    return state, logs


def test_the_augmentation_probability_follows_the_discriminators_confidence(tiny_dataset):
    data = load_dataset(tiny_dataset)
    state = new_state(
        _tiny(ada_target=0.6, ada_steps=4), data.shape, data.categories, {}, torch.device("cpu")
    )
    sure, mostly = torch.ones(4), torch.tensor([1.0, 2.0, 0.5, -0.1])  # r_t 1.0 and 0.5
    seen = []
    for d_real in (mostly, sure, sure, sure, mostly, sure, sure, sure):
        logs: dict[str, float] = {}
        _adapt_augmentation(state, d_real * 3, logs)  # only the signs count
        seen.append((logs["augment/r_t"], state.augment_p))
    assert [p for _, p in seen] == [0.0, 0.25, 0.5, 0.75, 0.5, 0.75, 1.0, 1.0]  # clamped to [0, 1]
    assert [r for r, _ in seen[:2]] == [0.5, 1.0]

    # wired into the step: one step moves p by exactly one 1/ada_steps, in r_t's direction
    run, logs = _one_step(data, _tiny(ada_target=0.6, ada_steps=4), augment_p=0.5)
    expected = 0.75 if logs["augment/r_t"] > 0.6 else 0.25
    assert run.augment_p == pytest.approx(expected) and logs["augment/p"] == run.augment_p
    _, logs = _one_step(data, _tiny())
    assert "augment/p" not in logs  # off by default: the fixed DiffAugment as before


def test_the_mode_seeking_term_pairs_categories_and_reaches_the_loss(tiny_dataset):
    data = load_dataset(tiny_dataset)
    totals = {}
    for weight in (0.5, 1.0):
        _, totals[weight] = _one_step(data, _tiny(diversity_weight=weight))
    assert totals[0.5]["diversity"] > 0
    assert totals[0.5]["loss/mode_seeking"] == pytest.approx(totals[1.0]["loss/mode_seeking"], rel=1e-5)
    difference = totals[1.0]["loss/g"] - totals[0.5]["loss/g"]
    assert difference == pytest.approx(0.5 * totals[1.0]["loss/mode_seeking"], rel=1e-3)
    _, logs = _one_step(data, _tiny())
    assert "loss/mode_seeking" not in logs


@pytest.mark.slow
def test_a_hardened_run_resumes_exactly_with_its_augmentation_probability(tiny_dataset, tmp_path):
    config = tmp_path / "hardened.toml"
    text = (CONFIG_DIR / "tiny.toml").read_text()
    config.write_text(
        text.replace("[model]\n", "[model]\nminibatch_std = 2\n").replace(
            "[train]\n", "[train]\ndiversity_weight = 1.0\nada_target = 0.6\nada_steps = 4\n"
        )
    )
    quiet = {"progress": False, "log": lambda m: None}
    train(tiny_dataset, "gan", tmp_path / "straight", config=config, max_steps=4, **quiet)
    train(tiny_dataset, "gan", tmp_path / "halves", config=config, max_steps=2, **quiet)
    train(tiny_dataset, "gan", tmp_path / "halves", max_steps=4, resume=True, **quiet)
    a = read_checkpoint(step_checkpoints(tmp_path / "straight")[-1])
    b = read_checkpoint(step_checkpoints(tmp_path / "halves")[-1])
    assert a["step"] == b["step"] == 4
    assert a["augment_p"] == b["augment_p"] and 0 <= a["augment_p"] <= 1
    assert read_checkpoint(step_checkpoints(tmp_path / "halves")[0])["augment_p"] in (0.0, 0.25, 0.5)
    for part in ("generator", "critic"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs after resume"
