"""The reconstruction report: exact copies score zero, noisier copies are seen, checkpoints side by side."""

import numpy as np
import pytest

from gesturegan.export.reconstruction import compare, main, measure, table
from gesturegan.training.data import load_dataset


def _clips(tiny_dataset, per_category: int = 6):
    data = load_dataset(tiny_dataset)
    index = np.concatenate(
        [
            data.train_index[data.labels[data.train_index] == k][:per_category]
            for k in range(len(data.categories))
        ]
    )
    audio = np.asarray(data.audio[index], dtype=np.float32)
    return data, audio, data.labels[index], [data.sources[i] for i in index]


def test_exact_copies_score_zero_and_added_noise_is_flatter_and_farther(tiny_dataset):
    data, audio, labels, groups = _clips(tiny_dataset)
    sr = data.shape.sample_rate
    same = compare(audio, audio.copy(), labels, groups, data.categories, sr)
    rng = np.random.default_rng(0)
    peak = np.abs(audio).max(axis=(1, 2), keepdims=True)
    noisy = audio + 0.05 * peak * rng.standard_normal(audio.shape).astype(np.float32)
    worse = compare(audio, noisy, labels, groups, data.categories, sr)
    assert set(same) == set(data.categories)
    for name in data.categories:
        assert same[name].distance_ratio == pytest.approx(0.0, abs=1e-9)
        assert same[name].flatness_log_ratio == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)
        assert same[name].flatness_real == same[name].flatness_reconstructed
        assert worse[name].flatness_log_ratio[1] > 0.1, name  # noise fills the spectrum
        assert worse[name].distance_ratio > 0.05, name


def test_a_checkpoint_is_measured_and_a_gan_one_refused(tiny_runs, tiny_dataset, tmp_path, capsys):
    data = load_dataset(tiny_dataset)
    checkpoint = tiny_runs["twostage"] / "checkpoints" / "best.pt"
    result = measure(checkpoint, data)
    assert (result.n_fft, result.hop) == (256, 64) and set(result.per_category) == set(data.categories)
    assert all(np.isfinite(c.distance_ratio) and c.distance_ratio > 0 for c in result.per_category.values())
    text = table([result, result])
    assert text.count("step ") == 2 and len(text.splitlines()) == 2 + 3 * len(data.categories)

    out = tmp_path / "recon.md"
    assert main([str(checkpoint), "--data", str(tiny_dataset), "--out", str(out)]) == 0
    assert out.read_text() == table([result])
    assert (tmp_path / "recon.json").exists()

    gan = tiny_runs["gan"] / "checkpoints" / "best.pt"
    assert main([str(gan), "--data", str(tiny_dataset)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "only twostage ones have an encoder" in err

    # a dataset of another clip length than the run's: one line, not a traceback from the encoder
    short = tmp_path / "short"
    short.mkdir()
    for name in ("manifest.json", "stats.json", "labels.npy"):
        (short / name).write_bytes((tiny_dataset / name).read_bytes())
    np.save(short / "audio.npy", np.asarray(data.audio)[:, :, :4096])
    assert main([str(checkpoint), "--data", str(short)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass the dataset the run trained on" in err


def test_a_harmonic_checkpoint_reconstructs_at_the_tracked_pitch(tiny_dataset, tmp_path):
    """With tracks, voiced frames play the tracked f0 (as in training), not the branch's own."""
    from dataclasses import replace

    import torch

    from gesturegan.export.reconstruction import reconstruct
    from gesturegan.training.config import load_config
    from gesturegan.training.state import new_state, save_checkpoint

    data, audio, labels, _ = _clips(tiny_dataset, per_category=1)
    cfg = load_config("twostage", "tiny")
    cfg = replace(cfg, model=replace(cfg.model, harmonics=4))
    state = new_state(cfg, data.shape, data.categories, {}, torch.device("cpu"))
    with torch.no_grad():
        state.ema.decoder.harmonic.proj[-1].bias[1] = 2.0  # loud partials
    path = save_checkpoint(state, tmp_path / "harmonic.pt")
    frames = state.ema.decoder.n_frames
    shape = (len(audio), data.shape.channels, frames)

    def at(hz: float, voiced: float) -> np.ndarray:
        tracks = (np.full(shape, hz, np.float32), np.full(shape, voiced, np.float32))
        return reconstruct(path, audio, labels, pitch=tracks)[0]

    own = reconstruct(path, audio, labels)[0]
    np.testing.assert_array_equal(at(440.0, 0.0), own)  # unvoiced: the branch's own f0
    low, high = at(220.0, 1.0), at(440.0, 1.0)
    assert np.abs(low - high).max() > 1e-3 and np.abs(low - own).max() > 1e-3
