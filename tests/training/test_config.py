"""Configs: TOML validated into dataclasses, refusals that name the key, lossless round trip."""

from __future__ import annotations

import pytest

from gesturegan.training.config import FAMILIES, ConfigError, config_family, load_config, to_toml


@pytest.mark.parametrize("family", FAMILIES)
def test_shipped_configs_load_and_round_trip(family, tmp_path):
    for name in (None, "tiny", "cpu"):
        cfg = load_config(family, name)
        path = tmp_path / f"{family}-{name}.toml"
        path.write_text(to_toml(cfg))
        assert load_config(family, path) == cfg


def test_family_defaults_differ_where_the_papers_do():
    assert load_config("specgan").train.n_critic == 5
    assert load_config("gan").train.n_critic == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nlearning_rate = 0.1\n", "unknown key 'learning_rate' in \\[train\\]"),
        ("[train]\nbatch_size = 'big'\n", "train.batch_size in .*bad.toml must be int"),
        ("[train]\nbatch_size = 0\n", "train.batch_size must be at least 1"),
        ("[model]\nn_fft = 1000\n", "model.n_fft must hold powers of two"),
        ("[optimiser]\nlr = 1\n", "unknown table 'optimiser'"),
        ("[train\n", "not valid TOML"),
        ("family = 'vae'\n", "is for family 'vae'"),
        ("[train]\nprecision = 'fp8'\n", "train.precision must be one of"),
        ("[train]\nrecon_sizes = [512, 1000]\n", "train.recon_sizes must hold powers of two"),
        ("[train]\nrecon_sizes = []\n", "train.recon_sizes must name at least one"),
        ("[model]\nharmonic_synthesis = 'fft'\n", "model.harmonic_synthesis must be one of time, spectral"),
        (
            "[model]\nharmonic_gate = true\n",
            "model.harmonic_gate gates a harmonic branch: set model.harmonics",
        ),
        ("[model]\nharmonic_gate = 'yes'\n", "model.harmonic_gate in .*bad.toml must be bool"),
        (
            "[model]\nharmonics = 4\nharmonic_free_unpitched = true\n",
            "model.harmonic_free_unpitched frees the unpitched clips of a gated branch: set model.harmonic_gate",
        ),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config("gan", path)


def test_unknown_config_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="tiny"):
        load_config("gan", "no-such-config")


def test_a_config_that_names_its_family_is_read_for_it(tmp_path):
    assert config_family("gan-hardened-cpu") == "gan"
    assert config_family("twostage-cpu") == "twostage"
    assert config_family("tiny") is None  # any family may use it
    hardened = load_config("gan", "gan-hardened-cpu")
    assert hardened.model.minibatch_std > 0 and hardened.train.diversity_weight > 0
    assert hardened.train.ada_target == 0.6 and hardened.model.phase_advance
    bad = tmp_path / "bad.toml"
    bad.write_text("family = 'diffusion'\n")
    with pytest.raises(ConfigError, match="unknown family 'diffusion'"):
        config_family(bad)
