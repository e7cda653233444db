"""Export of every family: contract round trip, torch/onnxruntime parity, atomic refusal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gesturegan.export.onnx_export import ExportError, encoder_path, export_run, probe_conds
from gesturegan.server.inference.model import load_encoder, load_model
from gesturegan.training.state import load_generator

FAMILIES = ("gan", "vae", "specgan", "wavegan", "twostage")


@pytest.mark.parametrize("family", FAMILIES)
def test_contract_round_trip_and_parity(tiny_runs, tiny_models, family):
    generator, ckpt = load_generator(tiny_runs[family])
    model = load_model(tiny_models[family], provider="cpu", batch_sizes=(1, 9))
    info = model.info
    assert info.family == family and info.role == "generator"
    assert info.categories == tuple(ckpt["categories"])
    assert (info.sample_rate, info.n_samples, info.channels) == (16000, 8192, 1)
    assert info.latent_dim == generator.latent_dim
    assert info.training["data"]["fingerprint"] == ckpt["data"]["summary"]["fingerprint"]
    assert "per_category" in info.loudness and info.gain_to_real_level("trigger") > 0
    assert info.representation == generator.representation
    rng = np.random.default_rng(1)
    cond = probe_conds(info.n_categories, rng)  # pure and mixed rows
    z = rng.standard_normal((len(cond), info.latent_dim)).astype(np.float32)
    got = model.generate(z, cond).copy()
    with torch.no_grad():
        want = generator(torch.from_numpy(z), torch.from_numpy(cond)).clamp(-1, 1).numpy()
    assert got.shape == (9, 1, 8192)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(got).max() <= 1.0


def test_vae_encoder_is_exported_beside_the_decoder(tiny_models, tiny_dataset):
    enc = load_encoder(encoder_path(tiny_models["vae"]), provider="cpu")
    assert enc.info.role == "encoder"
    audio = np.load(tiny_dataset / "audio.npy")[:3]
    mu, logvar = enc.encode(audio, np.eye(4, dtype=np.float32)[:3])
    assert mu.shape == logvar.shape == (3, enc.info.latent_dim)
    assert np.isfinite(mu).all()


def test_above_tolerance_nothing_is_written(tiny_runs, tmp_path):
    out = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match="tolerance"):
        export_run(tiny_runs["wavegan"], out, tolerance=0.0)
    assert list(tmp_path.iterdir()) == []


def test_bad_targets_and_runs_are_refused(tiny_runs, tmp_path):
    with pytest.raises(ExportError, match=r"should end in \.onnx"):
        export_run(tiny_runs["gan"], tmp_path / "m.bin")
    with pytest.raises(ExportError, match="holds no checkpoints"):
        export_run(tmp_path, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_and_inspect(tiny_runs, tmp_path, capsys):
    from gesturegan.cli import main

    out = tmp_path / "gan.onnx"
    assert main(["export", str(tiny_runs["gan"]), "--out", str(out), "--checkpoint", "latest"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"from {tiny_runs['gan'] / 'checkpoints' / 'step-0000004.pt'} (step 4)"), said
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    said = capsys.readouterr().out
    assert "\ndetails:\n" in said and "\n  frames " in said  # the metadata's one-line facts


def test_an_existing_model_is_replaced_only_with_overwrite(tiny_runs, tmp_path, capsys):
    """One rule with prepare and train: an existing output is refused unless --overwrite."""
    from gesturegan.cli import main

    out = tmp_path / "m.onnx"
    out.write_bytes(b"my precious model")
    assert main(["export", str(tiny_runs["gan"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"gesturegan export: {out} already exists; pass --overwrite to replace it, or choose another --out"
    )
    assert out.read_bytes() == b"my precious model"
    assert main(["export", str(tiny_runs["gan"]), "--out", str(out), "--overwrite"]) == 0
    assert load_model(out, provider="cpu").info.family == "gan"


@pytest.mark.parametrize("family", FAMILIES)
def test_fp16_variant_keeps_the_contract_and_stays_close(tiny_runs, tmp_path, family):
    result = export_run(tiny_runs[family], tmp_path / "half.onnx", fp16=True)
    assert result.max_error < 2e-2
    model = load_model(result.path, provider="cpu")
    assert model.info.precision == "fp16"
    generator, _ = load_generator(tiny_runs[family])
    rng = np.random.default_rng(2)
    z = rng.standard_normal((4, model.info.latent_dim)).astype(np.float32)
    got = model.generate(z, np.eye(4, dtype=np.float32)).copy()
    with torch.no_grad():
        want = generator(torch.from_numpy(z), torch.eye(4)).clamp(-1, 1).numpy()
    assert np.abs(got - want).max() < 2e-2
    import onnx

    graph = onnx.load(result.path).graph
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)  # weights are half


def test_twostage_encoder_places_a_real_sound_where_the_generator_plays_it_back(
    tiny_runs, tiny_models, tiny_dataset
):
    from gesturegan.training.config import Config
    from gesturegan.training.models import DataShape, build
    from gesturegan.training.state import read_checkpoint

    generator, ckpt = load_generator(tiny_runs["twostage"])
    full = read_checkpoint(ckpt["path"])
    _, critic = build(Config.from_dict(full["config"]), DataShape(**full["shape"]))
    critic.load_state_dict(full["critic"])
    enc = load_encoder(encoder_path(tiny_models["twostage"]), provider="cpu")
    model = load_model(tiny_models["twostage"], provider="cpu", batch_sizes=())
    audio = np.load(tiny_dataset / "audio.npy")[:4]
    cond = np.eye(4, dtype=np.float32)
    z, logvar = enc.encode(audio, cond)
    assert z.shape == (4, model.info.latent_dim)
    assert np.all(logvar[:, 0] < -20) and np.all(logvar[:, 1:] == 0)  # a variation keeps the component
    with torch.no_grad():
        code, _ = critic.encoder(torch.from_numpy(audio))
        want = generator.decoder.decode(code).clamp(-1, 1).numpy()
    np.testing.assert_allclose(model.generate(z, cond), want, atol=2e-3)


def test_render_like_writes_takes_of_a_real_sound(corpus, tmp_path):
    """Out of the box: the bundled model and its encoder (a 4-step tiny model barely uses its code yet)."""
    from gesturegan.cli import main

    sound = str(corpus / "drum_snare_hard.flac")
    for amount, out in (("0", tmp_path / "a"), ("1", tmp_path / "b")):
        assert main(["render", "--like", sound, "--amount", amount, "--count", "2", "--out", str(out)]) == 0
    import soundfile as sf

    same = [sf.read(p)[0] for p in sorted((tmp_path / "a").glob("*.wav"))]
    takes = [sf.read(p)[0] for p in sorted((tmp_path / "b").glob("*.wav"))]
    assert len(same) == len(takes) == 2
    np.testing.assert_array_equal(same[0], same[1])  # amount 0: the model's re-synthesis, every time
    assert np.abs(takes[0] - takes[1]).max() > 0.01 * np.abs(takes[0]).max()  # amount 1: new takes


def test_render_like_refusals_name_the_problem(tiny_models, corpus, tmp_path, capsys):
    from gesturegan.cli import main

    sound = str(corpus / "drum_snare_hard.flac")
    assert main(["render", str(tiny_models["gan"]), "--like", sound, "--out", str(tmp_path / "x")]) == 2
    assert "has no encoder (gan.encoder.onnx" in capsys.readouterr().err
    model = str(tiny_models["twostage"])
    assert main(["render", model, "--like", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["render", model, "--like", sound, "--amount", "9", "--out", str(tmp_path / "x")]) == 2
    assert "amount must be in 0..4" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("family", ("gan", "twostage"))
def test_half_weights_halve_the_file_and_keep_float32_arithmetic(tiny_runs, tmp_path, family):
    """--half-weights: weights stored in fp16, every tensor float32 once onnxruntime has loaded it."""
    import onnx
    import onnxruntime as ort

    full = export_run(tiny_runs[family], tmp_path / "full.onnx")
    half = export_run(tiny_runs[family], tmp_path / "half.onnx", half_weights=True)
    generator, _ = load_generator(tiny_runs[family])
    weights = sum(p.numel() for p in generator.parameters())
    assert full.size_bytes - half.size_bytes > 0.9 * 2 * weights  # (nearly) every weight: 2 bytes saved
    model = load_model(half.path, provider="cpu")
    assert model.info.precision == "fp32" and model.info.details["weight_storage"] == "fp16"
    graph = onnx.load(half.path).graph
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, model.info.latent_dim)).astype(np.float32)
    got = model.generate(z, np.eye(4, dtype=np.float32)).copy()
    with torch.no_grad():
        want = generator(torch.from_numpy(z), torch.eye(4)).clamp(-1, 1).numpy()
    assert 0 < np.abs(got - want).max() < 2e-2  # rounded weights: close, not identical
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(tmp_path / "loaded.onnx")
    ort.InferenceSession(str(half.path), options, providers=["CPUExecutionProvider"])
    loaded = onnx.load(tmp_path / "loaded.onnx").graph
    assert not any(t.data_type == onnx.TensorProto.FLOAT16 for t in loaded.initializer)
    assert "Cast" not in {n.op_type for n in loaded.node if n.input and n.input[0].endswith(".fp16")}


def test_fp16_and_half_weights_exclude_each_other(tiny_runs, tmp_path, capsys):
    from gesturegan.cli import main

    out = tmp_path / "m.onnx"
    assert main(["export", str(tiny_runs["gan"]), "--out", str(out), "--fp16", "--half-weights"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert not out.exists()


def test_harmonic_synthesis_needs_a_harmonic_branch(tiny_runs, tmp_path, capsys):
    from gesturegan.cli import main

    out = tmp_path / "m.onnx"
    code = main(["export", str(tiny_runs["twostage"]), "--out", str(out), "--harmonic-synthesis", "spectral"])
    assert code == 2
    err = capsys.readouterr().err
    assert "has no harmonic branch" in err and "Traceback" not in err
    assert not out.exists()
