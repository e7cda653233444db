"""A live engine on its own realtime JACK dummy server, with a watcher client that counts xruns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gesturegan.server.jackd import JackDummy, JackError


@dataclass
class Stage:
    jack: JackDummy
    live: object
    watcher: object
    xruns: list

    def xruns_during(self, seconds: float) -> int:
        before = len(self.xruns)
        time.sleep(seconds)
        return len(self.xruns) - before


@pytest.fixture
def stage(tiny_models, monkeypatch, tmp_path) -> Iterator[Stage]:
    import jack

    from gesturegan.server.engine import EngineConfig
    from gesturegan.server.model import load_model
    from gesturegan.server.runtime import Live, ServeConfig

    try:
        server = JackDummy(48000, 256, realtime=True, log=tmp_path / "jackd.log").start()
    except JackError as e:
        pytest.skip(str(e))
    for key, value in server.env().items():
        if key.startswith("JACK"):
            monkeypatch.setenv(key, value)
    import sounddevice as sd

    sd._terminate()  # PortAudio scans JACK servers at initialisation
    sd._initialize()
    model = load_model(tiny_models["gan"], provider="cpu", threads=1, batch_sizes=(1, 4), spinning=False)
    cfg = EngineConfig(sample_rate=0, channels=2, block=256)
    live = Live(model, cfg, ServeConfig(osc_port=0, reply_port=None, hostapi="JACK")).start()
    watcher = jack.Client("gg-watch", servername=server.name, no_start_server=True)
    xruns: list = []
    watcher.set_xrun_callback(lambda delay: xruns.append(delay))
    watcher.activate()
    try:
        yield Stage(server, live, watcher, xruns)
    finally:
        watcher.deactivate()
        watcher.close()
        live.close()
        sd._terminate()  # PortAudio's JACK client goes before its server does (else it aborts)
        server.stop()
        monkeypatch.undo()  # back to the session's JACK server before PortAudio rescans
        sd._initialize()
