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


def _replay_source(data, kind: str):
    """A reference "model" made of real signals: the corpus played back, white noise, or one clip."""
    from gesturegan.export.evaluate import Source

    rng = np.random.default_rng(0)

    def generate(z, cond):
        if kind == "noise":
            return (0.1 * rng.standard_normal((len(z), 1, data.shape.n_samples))).astype(np.float32)
        if kind == "one":  # a collapsed model: the same gesture whatever it is asked
            return np.repeat(np.asarray(data.audio[:1]), len(z), axis=0)
        picks = [rng.choice(np.flatnonzero(data.labels == c.argmax())) for c in cond]
        return np.stack([data.audio[i] for i in picks])

    return Source(kind, kind, data.categories, 8, data.shape.sample_rate, data.shape.n_samples, generate)


@pytest.mark.slow
def test_second_opinion_tells_the_corpus_from_noise_and_collapse(tiny_dataset):
    from gesturegan.export.evaluate import evaluate
    from gesturegan.training.data import load_dataset

    data = load_dataset(tiny_dataset)
    real = evaluate(_replay_source(data, "replay"), data, 48, progress=False)["second_opinion"]
    noise = evaluate(_replay_source(data, "noise"), data, 24, progress=False)["second_opinion"]
    one = evaluate(_replay_source(data, "one"), data, 8, progress=False)["second_opinion"]
    assert len(real["morph"]) == 6
    for name, r in real["per_category"].items():
        n = noise["per_category"][name]
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["accuracy_real_cv"] <= 1.0
        assert 0.6 < r["diversity_ratio"] < 1.4, name  # the corpus is as varied as itself
        # Flatness is bimodal in some categories (bells and cymbals): a median of 48 draws swings.
        assert 0.2 < r["flatness_ratio"] < 5.0, name
        assert n["flatness_ratio"] > 5 * r["flatness_ratio"], name  # noise is far flatter
        lo, hi = r["flatness_ratio_90"]
        assert lo <= r["flatness_ratio"] <= hi, name
        assert one["per_category"][name]["diversity_ratio"] < 0.01, name  # collapse is seen
        assert r["frechet"] < n["frechet"], name
    assert real["overall"]["accuracy"] > noise["overall"]["accuracy"]
    # The real clips' midpoints are a reference, not a figure of the model: the same for any model.
    for pair, m in real["morph"].items():
        assert 0.0 <= m["midpoint_in_pair_real"] <= 1.0 and 0.0 <= m["midpoint_in_pair_crossfade"] <= 1.0
        assert m["midpoint_in_pair_real"] == noise["morph"][pair]["midpoint_in_pair_real"], pair
        assert m["midpoint_in_pair_crossfade"] == noise["morph"][pair]["midpoint_in_pair_crossfade"], pair
        walk = m["max_step_over_median_crossfade"]
        assert walk >= 1.0 and walk == noise["morph"][pair]["max_step_over_median_crossfade"], pair
    assert real["overall"]["morph_midpoints_real"] == pytest.approx(
        np.mean([m["midpoint_in_pair_real"] for m in real["morph"].values()])
    )


def test_report_has_the_second_opinion(tiny_models, tiny_dataset, tmp_path):
    result = run_evaluate(tiny_models["twostage"], tiny_dataset, 8, tmp_path, progress=False)
    assert set(result["second_opinion"]["per_category"]) == set(result["per_category"])
    assert result["per_category"]["trigger"]["second_opinion"]["nearest_real_ratio"] > 0
    assert result["second_opinion"]["overall"]["morph_latents"] == 8  # never more than --count
    text = (tmp_path / "report.md").read_text()
    assert "## Second opinion" in text and "| trigger -> trigger_continuous |" in text
    from gesturegan.export.compare import compare

    table = compare({"a": result, "b": result}).splitlines()
    row = next(line for line in table if line.startswith("| trigger | nearest-real ratio | 0.5 to 2 |"))
    cells = row.split(" | ")[3:]
    assert cells[0] == cells[1].rstrip(" |") and cells[0][-1] in "✓✗"  # the same result, the same verdict
    assert sum(line.startswith("| trigger -> ") for line in table) == 3
    real = result["second_opinion"]["overall"]["morph_midpoints_real"]
    assert "real clips' midpoints" in text
    assert any(line.startswith("| all pairs:") and f"(real {real:.2f})" in line for line in table)


@pytest.mark.slow
def test_labels_chosen_by_the_same_classifier_are_pointed_out(tiny_dataset, tmp_path):
    import dataclasses

    from gesturegan.export.evaluate import evaluate, summary_text
    from gesturegan.training.data import load_dataset

    data = load_dataset(tiny_dataset)
    own = evaluate(_replay_source(data, "replay"), data, 8, progress=False)
    assert own["labels_by_classifier"] == 0.0 and "note:" not in summary_text(own)
    n = len(data.labels)
    auto = dataclasses.replace(data, label_from=["auto"] * (n // 4) + ["folder"] * (n - n // 4))
    result = evaluate(_replay_source(auto, "replay"), auto, 8, out_dir=tmp_path, progress=False)
    assert result["labels_by_classifier"] == pytest.approx((n // 4) / n)
    assert "came from this classifier (--auto-label)" in summary_text(result)
    assert "were chosen by this same classifier" in (tmp_path / "report.md").read_text()


def test_flatness_interval_brackets_the_ratio_and_separates_noisier_sounds():
    from gesturegan.export.evaluate import median_ratio_interval

    rng = np.random.default_rng(1)
    # log-uniform over four decades, as per-clip flatness is within a category of the corpus
    real = 10.0 ** rng.uniform(-6, -2, 64)
    same = 10.0 ** rng.uniform(-6, -2, 64)
    noisier = 10.0 ** rng.uniform(-4, 0, 64)  # two decades flatter
    lo, hi = median_ratio_interval(same, real)
    assert lo < 1.0 < hi and hi / lo > 3  # four decades of spread leave a wide interval
    assert median_ratio_interval(same, real) == (lo, hi)  # seeded
    lo_n, _ = median_ratio_interval(noisier, real)
    assert lo_n > hi
    assert median_ratio_interval(np.array([]), real) is None
    assert median_ratio_interval(same, np.zeros(8)) is None


def test_real_midpoints_land_in_a_category_that_lies_between(tmp_path):
    """Loud, quiet and middling noise: in the second space (levels in dB, so linear) the middling
    class lies between the other two, so the middle of a loud and a quiet clip's embeddings is
    heard as middling, while their crossfade is dominated by the loud clip."""
    from gesturegan.export.evaluate import real_midpoint_references
    from gesturegan.export.second_opinion import describe, fit_space
    from gesturegan.training.data import Dataset

    rate, n, per = 22050, 11025, 12
    rng = np.random.default_rng(0)
    levels_db = (0.0, -48.0, -24.0)  # loud, quiet, middling
    audio, labels = [], []
    for k, level in enumerate(levels_db):
        for _ in range(per):
            gain = 10 ** ((level + rng.uniform(-3, 3)) / 20)
            audio.append(0.3 * gain * rng.standard_normal((1, n)).astype(np.float32))
            labels.append(k)
    audio, labels = np.stack(audio), np.asarray(labels)
    cats = ["loud", "quiet", "middling"]
    data = Dataset(
        tmp_path,
        audio,
        labels,
        {"categories": cats, "sample_rate": rate},
        np.arange(len(audio)),
        np.arange(0),
        sources=[str(i) for i in range(len(audio))],
    )
    real = describe(audio, rate)
    space = fit_space(real.vectors, labels, data.sources, cats)
    refs = real_midpoint_references(
        space, describe, data, space.embed(real.vectors), np.random.default_rng(1), crossfades_per=8
    )
    assert set(refs) == {(0, 1), (0, 2), (1, 2)}
    assert refs[(0, 1)].embedding < 0.1  # loud-quiet midpoints are middling: neither of the pair
    assert refs[(0, 2)].embedding > 0.9 and refs[(1, 2)].embedding > 0.9
    assert refs[(0, 1)].crossfade > 0.9  # a 50/50 mix of loud and quiet noise is loud
    # Crossfading loud into quiet noise keeps it loud until the last step, which drops ~30 dB; into
    # middling noise (24 dB down, not 48) the last step is smaller: the walk is more even.
    steps = {pair: ref.crossfade_step_ratio for pair, ref in refs.items()}
    assert steps[(0, 1)] > 1.5 * steps[(0, 2)] and steps[(0, 2)] > 2


def test_compare_averages_the_draws_given_for_one_model(tmp_path, capsys):
    import json

    from gesturegan.export.compare import main, mean_result

    def draw(ratio: float, frechet: float) -> dict:
        return {
            "model": "m.onnx",
            "per_category": {"trigger": {"frechet": frechet, "second_opinion": {"flatness_ratio": ratio}}},
            "overall": {"frechet": frechet * 2},
            "second_opinion": {"overall": {"morph_midpoints_in_pair": ratio / 4}, "flags": [True, 2.0]},
        }

    mean = mean_result([draw(1.0, 3.0), draw(3.0, 5.0)])
    assert mean["per_category"]["trigger"] == {"frechet": 4.0, "second_opinion": {"flatness_ratio": 2.0}}
    assert mean["model"] == "m.onnx" and mean["second_opinion"]["flags"] == [True, 2.0]
    paths = []
    for i, args in enumerate([(1.0, 3.0), (3.0, 5.0)]):
        paths.append(tmp_path / f"s{i}.json")
        paths[-1].write_text(json.dumps(draw(*args)))
    assert main([f"m={paths[0]},{paths[1]}", f"one={paths[0]}"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "| m (mean of 2 draws) | one |" in table[0]
    row = next(line for line in table if line.startswith("| trigger | flatness ratio |"))
    assert row.split(" | ")[3:5] == ["2.00 ✓", "1.00 ✓ |"]
    assert "| Fréchet, classifier space | lower is better | 8.00 | 6.00 |" in table
    assert main([f"m={paths[0]},{tmp_path / 'missing.json'}"]) == 2
    assert "missing.json" in capsys.readouterr().err


@pytest.mark.slow
def test_a_level_gap_is_pointed_out_in_the_summary_and_the_report(tiny_dataset, tmp_path):
    """The corpus played back 12 dB down: every category's level gap is the playback's minus
    12 dB (the same draws), named in the summary and the report; played back as it is, a
    category within ``LEVEL_GAP_DB`` is not named."""
    from gesturegan.export.evaluate import LEVEL_GAP_DB, evaluate, level_gaps, summary_text
    from gesturegan.training.data import load_dataset

    data = load_dataset(tiny_dataset)
    replay = _replay_source(data, "replay")
    same = evaluate(replay, data, 8, progress=False)
    quiet = _replay_source(data, "replay")
    played = quiet.generate
    quiet.generate = lambda z, cond: played(z, cond) * np.float32(10 ** (-12 / 20))
    result = evaluate(quiet, data, 8, out_dir=tmp_path, progress=False)
    gaps = level_gaps(result)
    assert set(gaps) == set(data.categories)
    for name, gap in gaps.items():
        row = same["per_category"][name]
        assert gap == pytest.approx(row["median_rms_dbfs"] - row["real_median_rms_dbfs"] - 12.0, abs=0.01)
    assert "level: the gestures' median level is off the real clips'" in summary_text(result)
    assert f"trigger {gaps['trigger']:+.1f} dB" in summary_text(result)
    assert "model.data_loudness" in (tmp_path / "report.md").read_text()
    for name in set(data.categories) - set(level_gaps(same)):
        row = same["per_category"][name]
        assert abs(row["median_rms_dbfs"] - row["real_median_rms_dbfs"]) <= LEVEL_GAP_DB
