"""Shared fixtures: the real corpus, and a real JACK server (dummy driver) per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "sonic-pi"
SAMPLE_RATE = 48000
BLOCK = 128


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared CC0 sonic-pi corpus with its ``labels.csv``."""
    if not (CORPUS / "labels.csv").exists():
        pytest.fail(f"the shared corpus is missing at {CORPUS}; clone the project with ../shared beside it")
    return CORPUS


@dataclass(frozen=True)
class JackServer:
    name: str
    samplerate: int
    blocksize: int
    log: Path


# Fixtures that train and export (tens of seconds once per session): whoever uses them is slow.
TRAINING_FIXTURES = {"tiny_runs", "tiny_models"}


def pytest_collection_modifyitems(config, items):
    """Tests that train (they use ``tiny_runs`` or ``tiny_models``) are marked ``slow``, so
    ``-m "not slow"`` stays a quick check. Tests that start JACK servers of their own (marked
    ``jack``) are skipped without jackd, as the README says; in CI, where .ci/run installs it,
    its absence is a failure."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if shutil.which("jackd") is not None or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="jackd is not installed (apt-get install --no-install-recommends jackd2)")
    for item in items:
        if "jack" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    """A JACK server with the dummy driver (48 kHz, 128 frames) in a harness slot.

    Clients started in this process (sounddevice/PortAudio, python-rtmidi, jack-client)
    find it through ``JACK_DEFAULT_SERVER``; it is stopped after the session. ``--sync``: the
    server waits for every client before the cycle ends, so a client delayed by a busy CI
    machine makes the cycle late instead of losing its output.
    """
    from gesturegan.server.tools.jackd import JackDummy

    if shutil.which("jackd") is None:
        msg = "jackd is not installed (apt-get install --no-install-recommends jackd2)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    server = JackDummy(SAMPLE_RATE, BLOCK, sync=True, log=log).start()
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        import sounddevice as sd

        # PortAudio scanned its host APIs when sounddevice was imported; rescan now JACK is up.
        sd._terminate()
        sd._initialize()
        yield JackServer(server.name, SAMPLE_RATE, BLOCK, log)
    finally:
        import sys

        sd = sys.modules.get("sounddevice")
        if sd is not None:
            # Let PortAudio leave JACK while it still runs: its JACK host API asserts otherwise.
            sd._terminate()
        server.stop()
        if sd is not None:
            sd._initialize()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


FAMILIES = ("gan", "vae", "specgan", "wavegan", "twostage")


@pytest.fixture(scope="session")
def tiny_dataset(corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole corpus prepared short (16 kHz, 8192 samples) for the tiny training config."""
    from gesturegan.training.prepare import PrepareConfig, prepare

    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare(
        [corpus],
        out,
        PrepareConfig(sample_rate=16000, n_samples=8192),
        labels_csv=corpus / "labels.csv",
        progress=False,
    )
    return out


FIXTURE_MODELS = REPO / "tests" / "fixtures" / "models"


@pytest.fixture(scope="session")
def server_models() -> dict[str, Path]:
    """Small committed ONNX models (gan, vae, wavegan, specgan, twostage; encoders beside vae and twostage)
    that the server's tests play: no torch, no training run (tests/fixtures/make_models.py)."""
    return {p.stem: p for p in sorted(FIXTURE_MODELS.glob("*.onnx")) if not p.name.endswith(".encoder.onnx")}


@pytest.fixture(scope="session")
def tiny_runs(tiny_dataset, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished tiny run (4 steps) of every family."""
    from gesturegan.training.loop import train

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for family in FAMILIES:
        runs[family] = train(
            tiny_dataset, family, root / family, config="tiny", progress=False, log=lambda m: None
        ).run
    return runs


@pytest.fixture(scope="session")
def tiny_models(tiny_runs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny run exported to ONNX (the VAE with its encoder beside it)."""
    from gesturegan.export.onnx_export import export_run

    root = tmp_path_factory.mktemp("models")
    return {f: export_run(run, root / f"{f}.onnx").path for f, run in tiny_runs.items()}


class JackRecorder:
    """A JACK client recording one input port ``rec`` into ``buf`` (``pos`` frames so far)."""

    def __init__(self, server: str, seconds: float):
        import jack

        self.client = jack.Client("gg-live-rec", servername=server, no_start_server=True)
        self.inp = self.client.inports.register("rec")
        self.buf = np.zeros(int(seconds * self.client.samplerate), np.float32)
        self.pos = 0
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        n = min(frames, self.buf.shape[0] - self.pos)
        if n > 0:
            self.buf[self.pos : self.pos + n] = self.inp.get_array()[:n]
            self.pos += n


@pytest.fixture
def jack_recorder(jack_server) -> Callable[..., JackRecorder]:
    """``jack_recorder(seconds, server=None)``: a recorder on the session's JACK server or on
    ``server`` (activate it with ``with r.client``)."""
    return lambda seconds, server=None: JackRecorder(server or jack_server.name, seconds)
