"""The distribution: one wheel, everything under ``gesturegan.*``, the server without torch."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_server_never_imports_torch():
    """In a fresh interpreter where torch *is* installed, the server room leaves it alone."""
    code = (
        "import sys, pkgutil, importlib, gesturegan.server as s\n"
        "for m in pkgutil.walk_packages(s.__path__, 'gesturegan.server.'): importlib.import_module(m.name)\n"
        "import gesturegan.cli, gesturegan.training, gesturegan.training.prepare, gesturegan.training.classify\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio'))\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (whl,) = out.glob("gesturegan-*.whl")
    return whl


def test_wheel_installs_only_under_gesturegan(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"gesturegan"}, top
    for expected in (
        "gesturegan/server/__init__.py",
        "gesturegan/training/prepare.py",
        "gesturegan/export/__init__.py",
        "gesturegan/training/data/gesture_classifier.json",
        "gesturegan/server/models/default.onnx",
        "gesturegan/server/models/default.encoder.onnx",
    ):
        assert expected in names


def test_the_default_model_ships_within_its_budget():
    from gesturegan.server.inference.model import default_model_path, load_model

    path = default_model_path()
    assert path.stat().st_size <= 20 * 1024 * 1024  # issue 7: at most 20 MB
    info = load_model(path, provider="cpu", batch_sizes=()).info
    assert info.family == "twostage" and info.n_categories == 4
    from gesturegan.server.inference.model import encoder_beside, load_encoder

    encoder = load_encoder(
        encoder_beside(path), provider="cpu"
    )  # render --like and /like work out of the box
    assert encoder.info.latent_dim == info.latent_dim and encoder.info.categories == info.categories


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_without_torch(wheel, tmp_path):
    """Install the wheel with its runtime dependencies (from the package index) into an empty venv."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    res = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    check = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('torch') is None, 'torch came with the runtime install'\n"
        "import gesturegan.server, gesturegan.server.tools.doctor, gesturegan.training.classify\n"
        "import numpy, onnxruntime, pythonosc, mido, rtmidi, soundfile, soxr\n"
        "from gesturegan.training.classifier import default_classifier\n"
        "assert len(default_classifier().trees) > 0\n"
        "print(gesturegan.server.__file__)\n"
    )
    res = subprocess.run([str(py), "-c", check], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert str(env_dir) in res.stdout  # imported from the venv, not the source tree
    res = subprocess.run(
        [str(env_dir / "bin" / "gesturegan"), "--help"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and "prepare" in res.stdout


def test_dependency_direction_of_the_rooms():
    """training imports neither server nor export; server imports neither training nor export."""
    import ast

    forbidden = {
        "training": ("gesturegan.server", "gesturegan.export"),
        "server": ("gesturegan.training", "gesturegan.export"),
    }
    for room, banned in forbidden.items():
        for path in (REPO / room).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    assert not name.startswith(banned), f"{path.relative_to(REPO)} imports {name}"
