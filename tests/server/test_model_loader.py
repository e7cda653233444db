"""The loader refuses everything that breaks the contract, says why, and never needs torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from gesturegan.server.core.contract import (
    CONTRACT_VERSION,
    ContractError,
    ModelInfo,
    from_metadata,
    to_metadata,
)
from gesturegan.server.inference.model import ModelError, load_model, open_session, provider_candidates


def _edit(src, dst, fn):
    model = onnx.load(src)
    fn(model)
    onnx.save(model, dst)
    return dst


def _set_prop(model, key, value):
    props = {p.key: p.value for p in model.metadata_props}
    if value is None:
        props.pop(key)
    else:
        props[key] = value
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)


def test_not_onnx_truncated_and_empty_are_refused(server_models, tmp_path):
    raw = server_models["gan"].read_bytes()
    (tmp_path / "text.onnx").write_text("hello")
    (tmp_path / "cut.onnx").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "empty.onnx").write_bytes(b"")
    for name, message in [
        ("text", "not a loadable ONNX"),
        ("cut", "not a loadable ONNX"),
        ("empty", "is empty"),
    ]:
        with pytest.raises(ModelError, match=message):
            load_model(tmp_path / f"{name}.onnx", provider="cpu")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere.onnx")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: del_all(m), "no gesturegan metadata"),
        (lambda m: _set_prop(m, "contract_version", "99"), "contract version 99; this gesturegan reads"),
        (lambda m: _set_prop(m, "categories", None), "missing metadata: categories"),
        (lambda m: _set_prop(m, "latent_dim", "17"), "z has shape .*axis 1 must be 17"),
        (lambda m: _set_prop(m, "sample_rate", '"fast"'), "sample_rate' must be an integer"),
        (lambda m: _set_prop(m, "categories", '["a", "a", "b", "c"]'), "distinct names"),
    ],
    ids=["no-metadata", "version", "missing-key", "wrong-shape", "bad-type", "duplicate-categories"],
)
def test_contract_breaches_are_refused_with_the_reason(server_models, tmp_path, edit, message):
    bad = _edit(server_models["gan"], tmp_path / "bad.onnx", edit)
    with pytest.raises(ModelError, match=message):
        load_model(bad, provider="cpu")


def del_all(model):
    del model.metadata_props[:]


def test_wrong_input_name_renamed_consistently_is_still_refused(server_models, tmp_path):
    def rename(m):
        old = m.graph.input[0].name
        m.graph.input[0].name = "noise"
        for node in m.graph.node:
            node.input[:] = ["noise" if i == old else i for i in node.input]

    with pytest.raises(ModelError, match="the contract wants \\['z', 'cond'\\]"):
        load_model(_edit(server_models["gan"], tmp_path / "renamed.onnx", rename), provider="cpu")


def test_metadata_round_trip_is_lossless():
    info = ModelInfo(44100, 65536, 2, 64, ("a", "b"), "gan", "stft-mag-phase", {"per_category": {}}, {"x": 1})
    assert from_metadata(to_metadata(info)) == info
    assert to_metadata(info)["contract_version"] == str(CONTRACT_VERSION)
    with pytest.raises(ContractError, match="sample_rate"):
        to_metadata(ModelInfo(100, 1, 1, 1, ("a",), "gan", "x"))


def test_generate_writes_into_preallocated_buffers_and_normalises_cond(server_models):
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=(1, 4))
    assert model.provider == "CPUExecutionProvider" and sorted(model.slots) == [1, 4]
    z = np.random.default_rng(0).standard_normal((4, model.info.latent_dim)).astype(np.float32)
    first = model.generate(z, np.eye(4, dtype=np.float32) * 3.0)  # weights scaled: normalised to one-hot
    buffer = model.slots[4].audio
    assert first is buffer
    again = model.generate(z, np.eye(4, dtype=np.float32)).copy()
    np.testing.assert_array_equal(again, model.generate(z, np.eye(4, dtype=np.float32) * 3.0))
    with pytest.raises(ValueError, match="positive weight"):
        model.generate(z[:1], np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="z must be"):
        model.generate(z[:, :3], np.eye(4, dtype=np.float32))


def test_provider_choice_is_honest():
    assert provider_candidates("cpu") == ["CPUExecutionProvider"]
    assert provider_candidates("auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(ModelError, match="must be auto"):
        provider_candidates("tpu")


def test_the_loader_runs_without_torch(server_models):
    code = (
        "import sys, json\n"
        "sys.modules['torch'] = None  # any import of torch now fails\n"
        "from gesturegan.server.inference.model import load_model\n"
        f"m = load_model({str(server_models['specgan'])!r}, provider='cpu')\n"
        "import numpy as np\n"
        "a = m.generate(np.zeros((1, m.info.latent_dim), np.float32), np.eye(4, dtype=np.float32)[:1])\n"
        "print(json.dumps([m.info.family, list(a.shape)]))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == ["specgan", [1, 1, 8192]]


def test_inspect_reads_an_encoder_too(server_models):
    from gesturegan.server.inference.model import encoder_beside as encoder_path

    _, info, provider = open_session(encoder_path(server_models["vae"]), "cpu", role=None)
    assert info.role == "encoder" and provider == "CPUExecutionProvider"


def test_huge_files_are_refused_before_loading(tmp_path):
    from gesturegan.server.inference.model import MAX_MODEL_BYTES, ModelError, load_model

    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as fh:  # sparse: no disk is used
        fh.truncate(MAX_MODEL_BYTES + 1)
    with pytest.raises(ModelError, match="GiB"):
        load_model(huge)


def test_the_committed_fixture_models_follow_the_current_contract(server_models):
    """If this fails after a contract change: python tests/fixtures/make_models.py"""
    from gesturegan.server.inference.model import encoder_beside

    assert set(server_models) == {"gan", "vae", "wavegan", "specgan", "twostage"}
    for family, path in server_models.items():
        _, info, _ = open_session(path, "cpu")
        assert info.family == family
    for family in ("vae", "twostage"):
        assert open_session(encoder_beside(server_models[family]), "cpu", role="encoder")[1].family == family
