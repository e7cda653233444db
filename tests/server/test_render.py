"""render: seeded, repeatable WAVs of a category or a mix, refusals that name the problem."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from gesturegan.server.core.morph import latent_from_seed
from gesturegan.server.inference.model import load_model
from gesturegan.server.inference.render import RenderError, render


def test_files_are_the_seeded_gestures_and_repeat(server_models, tmp_path):
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=())
    paths = render(model, tmp_path / "a", 3, seed=5, category="continuous_variation", subtype="FLOAT")
    assert [p.name for p in paths] == [f"continuous_variation-00000{i}.wav" for i in (5, 6, 7)]
    again = render(model, tmp_path / "b", 3, seed=5, category="2", subtype="FLOAT")
    for p, q in zip(paths, again, strict=True):
        # libsndfile's PEAK chunk holds the write time, so byte equality needs it left out
        assert b"PEAK" not in p.read_bytes()[:200]
        assert p.read_bytes() == q.read_bytes()
    audio, sr = sf.read(paths[1], dtype="float32")
    assert sr == 16000 and audio.shape == (8192,)
    z = latent_from_seed(6, model.info.latent_dim).astype(np.float32)[None]
    want = model.generate(z, np.eye(4, dtype=np.float32)[2:3])[0, 0]
    np.testing.assert_allclose(audio, want, atol=1e-6)
    assert not list((tmp_path / "a").glob("*.tmp*"))  # no temporary file left behind


def test_mixes_and_refusals(server_models, tmp_path):
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=())
    (path,) = render(model, tmp_path, 1, seed=0, weights=[1, 1, 0, 0])
    assert path.name == "mix-0.50-0.50-0.00-0.00-000000.wav"
    for kwargs, message in [
        ({"category": "drums"}, "unknown category 'drums'"),
        ({"weights": [1, 0]}, "needs 4 numbers"),
        ({"weights": [0, 0, 0, 0]}, "at least one weight"),
        ({}, "give --category"),
    ]:
        with pytest.raises(RenderError, match=message):
            render(model, tmp_path, 1, seed=0, **kwargs)
    with pytest.raises(RenderError, match="--count"):
        render(model, tmp_path, 0, seed=0, category="trigger")
