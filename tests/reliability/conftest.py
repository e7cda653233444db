"""A real `gesturegan serve` process on its own realtime JACK dummy server, and a watcher.

The server runs as it does on stage: its own process, JACK realtime where the system allows
(the tests print whether it did). The watcher is a JACK client of ours, out of the audio graph,
that counts xruns; the server's own counters come back as JSON when it stops (`--stats`).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gesturegan.server.bench import ServerProcess, start_server
from gesturegan.server.jackd import JackDummy, JackError


@dataclass
class Stage:
    jack: JackDummy
    server: ServerProcess
    xruns: list
    stats_path: Path
    stats: dict = field(default_factory=dict)

    def xruns_during(self, seconds: float) -> int:
        before = len(self.xruns)
        time.sleep(seconds)
        return len(self.xruns) - before

    def stop(self) -> dict:
        """Stop the server cleanly and return its counters."""
        proc = self.server.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        self.stats = json.loads(self.stats_path.read_text())
        return self.stats


def _stage(tiny_models, tmp_path, midi: bool) -> Iterator[Stage]:
    import jack

    try:
        server = JackDummy(48000, 256, realtime=True, log=tmp_path / "jackd.log").start()
    except JackError as e:
        pytest.skip(str(e))
    stats = tmp_path / "stats.json"
    proc = None
    watcher = None
    try:
        proc = start_server(tiny_models["gan"], server, 256, midi=midi, extra=("--stats", str(stats)))
        watcher = jack.Client("gg-watch", servername=server.name, no_start_server=True)
        xruns: list = []
        watcher.set_xrun_callback(lambda delay: xruns.append(delay))
        watcher.activate()
        yield Stage(server, proc, xruns, stats)
    finally:
        if watcher is not None:
            watcher.deactivate()
            watcher.close()
        if proc is not None:
            proc.stop()
        server.stop()


@pytest.fixture
def stage(tiny_models, tmp_path) -> Iterator[Stage]:
    yield from _stage(tiny_models, tmp_path, midi=False)


@pytest.fixture
def midi_stage(tiny_models, tmp_path) -> Iterator[Stage]:
    yield from _stage(tiny_models, tmp_path, midi=True)
