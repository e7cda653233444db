"""evaluate on a run (torch) and on its exported model (onnxruntime) against the real corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gesturegan.export.evaluate import EvaluateError, morph_path, run_evaluate


def test_run_and_onnx_reports_agree(tiny_runs, tiny_models, tiny_dataset, tmp_path):
    a = run_evaluate(tiny_runs["gan"], tiny_dataset, 8, tmp_path / "run", progress=False)
    b = run_evaluate(tiny_models["gan"], tiny_dataset, 8, tmp_path / "onnx", progress=False)
    # Same weights, same latents: torch and onnxruntime give the same numbers.
    assert a["overall"]["frechet"] == pytest.approx(b["overall"]["frechet"], rel=1e-3)
    for result in (a, b):
        assert set(result["per_category"]) == {
            "trigger",
            "trigger_continuous",
            "continuous_variation",
            "continuous_repetition",
        }
        o = result["overall"]
        assert 0.0 <= o["conditional_accuracy"] <= 1.0
        assert o["frechet_real_halves"] < o["frechet"]  # an untrained model is far from real data
        for row in result["per_category"].values():
            assert row["n_generated"] == 8 and row["n_real"] > 8
            assert 0.0 <= row["classifier_accuracy_on_real"] <= 1.0
    for name in ("report.md", "metrics.json", "generated.png", "morph.png"):
        assert (tmp_path / "onnx" / name).stat().st_size > 0
    assert json.loads((tmp_path / "onnx" / "metrics.json").read_text())["family"] == "gan"
    assert "Fréchet distance" in (tmp_path / "onnx" / "report.md").read_text()


def test_wrong_dataset_is_refused(tiny_runs, corpus, tmp_path):
    from gesturegan.training.prepare import PrepareConfig, prepare

    other = tmp_path / "other"
    prepare(
        [corpus],
        other,
        PrepareConfig(sample_rate=22050, n_samples=8192),
        labels_csv=corpus / "labels.csv",
        progress=False,
    )
    with pytest.raises(EvaluateError, match="22050 Hz"):
        run_evaluate(tiny_runs["gan"], other, 8, None, progress=False)


def test_morph_path_walks_every_category():
    path = morph_path(4, steps_between=3)
    assert path.shape == (10, 4)
    np.testing.assert_allclose(path.sum(1), 1.0)
    assert path[0].argmax() == 0 and path[-1].argmax() == 3


def test_cli_evaluate_writes_report_and_json(tiny_models, tiny_dataset, tmp_path, capsys):
    from gesturegan.cli import main

    out = tmp_path / "json" / "m.json"
    assert (
        main(
            [
                "evaluate",
                str(tiny_models["wavegan"]),
                "--data",
                str(tiny_dataset),
                "--count",
                "4",
                "--out",
                str(tmp_path / "rep"),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["count_per_category"] == 4
    assert "conditional accuracy" in capsys.readouterr().out
    assert main(["evaluate", str(tiny_models["wavegan"]), "--data", str(tiny_dataset), "--count", "2"]) == 2
