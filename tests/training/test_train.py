"""The training loop on the real corpus (tiny config): run folders, exact resume, signals, DDP, bf16."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gesturegan.training.loop import TrainingError, train
from gesturegan.training.state import read_checkpoint, step_checkpoints

FAMILIES = ("gan", "vae", "specgan", "wavegan", "twostage")


def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gesturegan", *args], capture_output=True, text=True, timeout=240, **kw
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_leaves_a_complete_run_folder(tiny_runs, family):
    run = tiny_runs[family]
    assert (run / "config.toml").read_text().startswith(f'family = "{family}"')
    assert json.loads((run / "stats.json").read_text())["n_samples"] == 8192
    # tiny: checkpoints every 2 steps, keep the last 2, plus the best.
    assert [p.name for p in step_checkpoints(run)] == ["step-0000002.pt", "step-0000004.pt"]
    best = read_checkpoint(run / "checkpoints" / "best.pt")
    assert best["family"] == family and best["step"] in (2, 4)
    assert [h["step"] for h in json.loads((run / "history.json").read_text())] == [2, 4]
    logs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3, 4]
    assert all(any(k.startswith("grad_norm/") for k in r) for r in logs)
    previews = run / "previews"
    assert sorted(p.name for p in previews.glob("*.png")) == ["step-0000002.png", "step-0000004.png"]
    wavs = sorted(p.name for p in (previews / "step-0000004").glob("*.wav"))
    assert len(wavs) == 8 and "trigger-0.wav" in wavs  # 4 categories x 2
    from PIL import Image

    with Image.open(previews / "progress.gif") as gif:
        assert gif.n_frames == 2
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    if family == "twostage":  # the postfilter's fitted gains, one curve per category
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(run / "tensorboard")).Reload()
        tags = events.Tags()["scalars"]
        assert {f"postfilter/{c}" for c in ("trigger", "continuous_repetition")} <= set(tags)
        gains = [e.value for e in events.Scalars("postfilter/trigger")]
        assert [e.step for e in events.Scalars("postfilter/trigger")] == [2, 4]
        assert all(1.0 <= g <= 4.0 for g in gains)


def _weights(run: Path) -> dict:
    ckpt = read_checkpoint(step_checkpoints(run)[-1])
    return {part: ckpt[part] for part in ("generator", "ema", "critic")} | {"step": ckpt["step"]}


@pytest.mark.parametrize("family", ["gan", "specgan"])
@pytest.mark.slow
def test_resume_continues_the_exact_run(tiny_dataset, tmp_path, family):
    quiet = {"progress": False, "log": lambda m: None}
    train(tiny_dataset, family, tmp_path / "straight", config="tiny", max_steps=4, **quiet)
    train(tiny_dataset, family, tmp_path / "halves", config="tiny", max_steps=2, **quiet)
    result = train(tiny_dataset, family, tmp_path / "halves", max_steps=4, resume=True, **quiet)
    assert result.step == 4
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "halves")
    assert a["step"] == b["step"] == 4
    for part in ("generator", "ema", "critic"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs after resume"


def test_refusals_change_nothing(tiny_dataset, tiny_runs, tmp_path):
    run = tiny_runs["gan"]
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    res = run_cli("train", str(tiny_dataset), "--model", "gan", "--out", str(run), "--config", "tiny")
    assert res.returncode == 2 and "already holds checkpoints; pass --resume" in res.stderr
    res = run_cli("train", str(tiny_dataset), "--model", "vae", "--out", str(run), "--resume")
    assert res.returncode == 2 and "is a 'gan' run, not 'vae'" in res.stderr
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    res = run_cli("train", str(tiny_dataset), "--model", "gan", "--out", str(tmp_path / "new"), "--resume")
    assert res.returncode == 2 and "holds no checkpoints" in res.stderr
    res = run_cli("train", str(tmp_path), "--model", "gan", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "is not a gesturegan dataset" in res.stderr
    res = run_cli(
        "train",
        str(tiny_dataset),
        "--out",
        str(tmp_path / "y"),
        "--config",
        "gan-hardened-cpu",
        "--model",
        "vae",
    )
    assert res.returncode == 2 and "is for family 'gan', not 'vae'" in res.stderr
    (tmp_path / "odd.toml").write_text("family = 'diffusion'\n")
    res = run_cli(
        "train", str(tiny_dataset), "--out", str(tmp_path / "z"), "--config", str(tmp_path / "odd.toml")
    )
    assert (
        res.returncode == 2 and "unknown family 'diffusion'" in res.stderr and "Traceback" not in res.stderr
    )
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()
    with pytest.raises(TrainingError, match="--config cannot change a run"):
        train(tiny_dataset, "gan", run, config="tiny", resume=True, progress=False)


def _no_checkpoints_soon(tmp_path: Path) -> Path:
    """The tiny config with checkpoints and previews 1,000 steps apart: a run to interrupt."""
    cfg = tmp_path / "slow.toml"
    cfg.write_text(
        (Path(__file__).parents[2] / "training/configs/tiny.toml")
        .read_text()
        .replace("checkpoint_every = 2", "checkpoint_every = 1000")
        .replace("preview_every = 2", "preview_every = 1000")
    )
    return cfg


def _wait_for_steps(log: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if log.exists() and len(log.read_text().splitlines()) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{log} did not reach {n} steps")


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_kill_9_loses_only_the_last_steps(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    cfg = _no_checkpoints_soon(tmp_path)
    args = [
        sys.executable,
        "-m",
        "gesturegan",
        "train",
        str(tiny_dataset),
        "--model",
        "gan",
        "--out",
        str(run),
        "--max-steps",
        "100000",
        "--quiet",
    ]
    proc = subprocess.Popen([*args, "--config", str(cfg)], stderr=subprocess.PIPE, text=True)
    _wait_for_steps(run / "log.jsonl", 3, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    stopped_at = len((run / "log.jsonl").read_text().splitlines())
    assert [read_checkpoint(p)["step"] for p in step_checkpoints(run)] == [stopped_at]

    proc = subprocess.Popen([*args, "--resume"], stderr=subprocess.PIPE, text=True)
    _wait_for_steps(run / "log.jsonl", stopped_at + 3, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # Every checkpoint that exists under its name is whole; at most the steps since it are lost.
    steps = [read_checkpoint(p)["step"] for p in step_checkpoints(run)]
    assert steps and steps[0] == stopped_at
    result = train(
        tiny_dataset, "gan", run, max_steps=steps[-1] + 1, resume=True, progress=False, log=lambda m: None
    )
    assert result.step == steps[-1] + 1


@pytest.mark.slow
def test_two_processes_train_through_torchrun_ddp(tiny_dataset, tmp_path):
    run = tmp_path / "ddp"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "gesturegan",
            "train",
            str(tiny_dataset),
            "--model",
            "gan",
            "--out",
            str(run),
            "--config",
            "tiny",
            "--max-steps",
            "2",
            "--quiet",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert [read_checkpoint(p)["step"] for p in step_checkpoints(run)] == [2]


@pytest.mark.slow
def test_bf16_autocast_trains(tiny_dataset, tmp_path):
    cfg = tmp_path / "bf16.toml"
    cfg.write_text(
        (Path(__file__).parents[2] / "training/configs/tiny.toml").read_text() + 'precision = "bf16"\n'
    )
    result = train(
        tiny_dataset, "gan", tmp_path / "run", config=cfg, max_steps=2, progress=False, log=lambda m: None
    )
    assert result.step == 2
    logs = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(abs(r["loss/g"]) < 1e6 for r in logs)


@pytest.mark.slow
def test_speed_script_measures_the_real_step(tiny_dataset):
    from gesturegan.training.speed import measure

    row = measure(tiny_dataset, "vae", "tiny", steps=1, device="cpu")
    assert row["batch_size"] == 4 and row["steps_per_s"] > 0 and row["device"] == "cpu"
    # past adversarial_from the two-stage step runs its adversarial stage (discriminator, R1)
    from gesturegan.training.config import load_config

    late = load_config("twostage", "tiny").train.adversarial_from + 1
    recon = measure(tiny_dataset, "twostage", "tiny", steps=2, device="cpu")
    adversarial = measure(tiny_dataset, "twostage", "tiny", steps=2, device="cpu", from_step=late)
    assert "loss/d" in adversarial["losses"] and "loss/d" not in recon["losses"]
    assert "loss/recon" in recon["losses"]


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_checkpoints_never_unpickle_code(tmp_path, capsys):
    from gesturegan.training.state import CheckpointError

    evil = tmp_path / "step-0000001.pt"
    torch.save({"format": 1, "payload": _Payload()}, evil)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(evil)
    assert "this must never run" not in capsys.readouterr().out


@pytest.mark.slow
def test_on_a_cpu_the_cpu_config_is_picked_said_and_resume_needs_no_model(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    res = run_cli(
        "train", str(tiny_dataset), "--out", str(run), "--max-steps", "1", "--quiet", "--threads", "1"
    )
    assert res.returncode == 0, res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("train twostage on cpu, 1 thread: config twostage-cpu (picked for a CPU"), first
    assert "steps 0 -> 1" in first
    res = run_cli("train", str(tiny_dataset), "--out", str(run), "--resume", "--max-steps", "2", "--quiet")
    assert res.returncode == 0, res.stderr
    assert (
        "train twostage on cpu" in res.stderr and "its own config.toml; batch 8; steps 1 -> 2" in res.stderr
    )


@pytest.mark.slow
def test_too_little_data_is_refused_before_training(corpus, tmp_path):
    from gesturegan.training.prepare import PrepareConfig, prepare

    src = tmp_path / "src" / "trigger"
    src.mkdir(parents=True)
    (src / "bd_haus.flac").write_bytes((corpus / "bd_haus.flac").read_bytes())
    prepare(
        [tmp_path / "src"], tmp_path / "one", PrepareConfig(sample_rate=16000, n_samples=8192), progress=False
    )
    res = run_cli("train", str(tmp_path / "one"), "--out", str(tmp_path / "run"), "--config", "tiny")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "too few training examples (trigger has 1); training needs at least 4 per category" in res.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_an_unmeasurable_score_keeps_history_valid_and_export_says_what_it_took(
    tiny_dataset, tmp_path, monkeypatch, capsys
):
    import gesturegan.training.loop as loop
    from gesturegan.cli import main

    monkeypatch.setattr(loop, "_score", lambda *a: float("nan"))  # as a degenerate dataset scores
    run = tmp_path / "run"
    train(tiny_dataset, "gan", run, config="tiny", max_steps=2, progress=False, log=lambda m: None)

    def no_nan(word):
        raise AssertionError(f"{word} is not JSON")

    history = json.loads((run / "history.json").read_text(), parse_constant=no_nan)
    assert [h["score"] for h in history] == [None]
    assert not (run / "checkpoints" / "best.pt").exists()
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx")]) == 0
    said = capsys.readouterr().out
    assert "step-0000002.pt (step 2; no best.pt (no checkpoint had a finite score), so the latest)" in said


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_starts_clean(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    cfg = _no_checkpoints_soon(tmp_path)
    args = [
        sys.executable,
        "-m",
        "gesturegan",
        "train",
        str(tiny_dataset),
        "--model",
        "gan",
        "--out",
        str(run),
    ]
    proc = subprocess.Popen(
        [*args, "--config", str(cfg), "--max-steps", "100000", "--quiet"], stderr=subprocess.PIPE
    )
    _wait_for_steps(run / "log.jsonl", 5, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert not step_checkpoints(run) and list((run / "tensorboard").iterdir())
    res = run_cli(*args[3:], "--config", "tiny", "--max-steps", "2", "--quiet")
    assert res.returncode == 0, res.stderr
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2]  # the killed run's lines are gone
    assert len(list((run / "tensorboard").iterdir())) == 1  # and its TensorBoard file
    assert (run / "previews" / "progress.gif").exists()


def test_an_unmeasurable_generation_scores_nan_instead_of_losing_the_checkpoint():
    """A run whose generator went to NaN made scipy's sqrtm raise inside the checkpoint written on
    SIGTERM, and the steps since the last checkpoint were lost; now the score is NaN (null)."""
    import numpy as np

    from gesturegan.training.scoring import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((16, 8))
    assert np.isfinite(frechet_distance(a, a + 0.1))
    for bad in (np.nan, np.inf):
        b = a.copy()
        b[0, 0] = bad
        assert np.isnan(frechet_distance(a, b))


def test_a_new_run_goes_on_from_a_checkpoint_with_changed_keys(tiny_dataset, tiny_runs, tmp_path):
    source = tiny_runs["gan"]
    before = sorted(p.name for p in (source / "checkpoints").iterdir())
    (tmp_path / "seek.toml").write_text("[train]\ndiversity_weight = 1.0\n")
    branch = tmp_path / "branch"
    res = run_cli(
        "train", str(tiny_dataset), "--init-from", str(source), "--config", str(tmp_path / "seek.toml"),
        "--out", str(branch), "--max-steps", "6", "--quiet",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    logs = [json.loads(line) for line in (branch / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [5, 6]  # the step carried over: 4 steps were done
    assert all("loss/mode_seeking" in r for r in logs)
    assert "diversity_weight = 1.0" in (branch / "config.toml").read_text()
    assert "width = 32" in (branch / "config.toml").read_text()  # the rest is the source's (tiny)
    start = read_checkpoint(step_checkpoints(source)[-1])
    end = read_checkpoint(step_checkpoints(branch)[-1])
    assert end["step"] == 6 and [h["step"] for h in end["history"]] == [6]
    assert not torch.equal(start["generator"]["head.weight"], end["generator"]["head.weight"])
    assert sorted(p.name for p in (source / "checkpoints").iterdir()) == before  # untouched

    # refused, with nothing written: a key that changes a weight's shape (a key that only adds weights,
    # such as minibatch_std, grows the checkpoint instead), a step not past the source's
    (tmp_path / "grow.toml").write_text("[model]\nwidth = 48\n")
    for extra, message in (
        (["--config", str(tmp_path / "grow.toml"), "--max-steps", "6"], "changes the shape of"),
        (["--max-steps", "3"], "is at step 4; give --max-steps past it"),
        (["--resume"], "pass one of them"),
        (["--model", "vae"], "is a 'gan' checkpoint, not 'vae'"),
    ):
        res = run_cli(
            "train", str(tiny_dataset), "--init-from", str(source), "--out", str(tmp_path / "x"), *extra
        )
        assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr, res.stderr
        assert not step_checkpoints(tmp_path / "x")
