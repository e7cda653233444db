"""kill -9 in the middle of work: nothing half-written at a target, a rerun completes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gesturegan.server.inference.model import load_model


def _kill_after(args: list[str], delay: float) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gesturegan", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    return proc.wait(timeout=30)


@pytest.mark.parametrize("delay", [0.5, 2.0, 4.0, 6.0])
def test_kill_9_during_export_leaves_no_partial_model(tiny_runs, tmp_path, delay):
    target = tmp_path / "gan.onnx"
    _kill_after(["export", str(tiny_runs["gan"]), "--out", str(target)], delay)
    if target.exists():  # the rename happened before the kill: then the file is whole
        assert load_model(target, provider="cpu").info.family == "gan"
    # a rerun writes the model
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gesturegan",
            "export",
            str(tiny_runs["gan"]),
            "--out",
            str(target),
            "--overwrite",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert load_model(target, provider="cpu").info.family == "gan"


def _processes_naming(path: Path) -> list[int]:
    """PIDs whose command line mentions ``path`` (a run's workers share its command line)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(path).encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _digest(root: Path) -> dict[str, str]:
    skip = {"report.md"}  # carries the time it was made
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip and not p.name.startswith(".")
    }


@pytest.mark.slow
def test_kill_9_during_prepare_then_a_rerun_gives_the_same_dataset(corpus, tmp_path):
    args = ["prepare", str(corpus), "--labels", str(corpus / "labels.csv"), "--out"]
    clean = tmp_path / "clean"
    subprocess.run(
        [sys.executable, "-m", "gesturegan", *args, str(clean)], check=True, capture_output=True, timeout=600
    )
    killed = tmp_path / "killed"
    for delay in (0.3, 0.8, 1.3):  # a whole run takes about 2 s here
        _kill_after([*args, str(killed)], delay)
        assert not killed.exists(), "a killed prepare left a dataset at its target"
        # its worker processes die with it (they would otherwise sleep on, parentless)
        deadline = time.monotonic() + 5
        while _processes_naming(killed) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _processes_naming(killed), "prepare's workers outlived it"
    res = subprocess.run(
        [sys.executable, "-m", "gesturegan", *args, str(killed)], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    assert _digest(killed) == _digest(clean)
