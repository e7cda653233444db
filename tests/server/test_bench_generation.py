"""`bench --beside`'s generation figures: two real onnxruntime sessions timed in turn."""

from __future__ import annotations

from gesturegan.server.tools.bench.generation import generation_side_by_side


def test_side_by_side_times_both_models_in_turn_at_every_batch(server_models):
    models = [server_models["twostage"], server_models["gan"]]
    rows = generation_side_by_side(models, batches=(1, 3), rounds=3, seconds=0.01)
    # one row per model and batch, the models next to each other at each batch
    assert [(r["model"], r["batch"]) for r in rows] == [
        ("twostage.onnx", 1),
        ("gan.onnx", 1),
        ("twostage.onnx", 3),
        ("gan.onnx", 3),
    ]
    for row in rows:
        assert row["rounds"] == 3 and row["calls"] >= 3 * 2  # every round timed every model
        assert row["family"] == row["model"].removesuffix(".onnx")
        assert 0 < row["median_ms"] <= row["p99_ms"]
        assert row["ms_per_gesture"] == row["median_ms"] / row["batch"]
        assert row["realtime_factor"] > 0
