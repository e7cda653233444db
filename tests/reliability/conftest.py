"""A real `gesturegan serve` process on its own realtime JACK dummy server, and a watcher.

The server runs as it does on stage: its own process, JACK realtime where the system allows
(the tests print whether it did). The watcher is a JACK client, out of the audio graph, that
counts xruns; it runs in a process of its own, because one process with libjack clients on two
JACK servers (this one and the session's) crashes. The server's own counters come back as JSON
when it stops (`--stats`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gesturegan.server.tools.harness import ServerProcess, jackd_xruns, start_server
from gesturegan.server.tools.jackd import JackDummy, JackError

WATCHER = r"""
import sys, jack
count = [0]
client = jack.Client("gg-watch", no_start_server=True)
client.set_xrun_callback(lambda delay: count.__setitem__(0, count[0] + 1))
with client:
    print("ready", flush=True)
    for line in sys.stdin:
        print(count[0], flush=True)
"""


class Watcher:
    """Counts the JACK server's xruns from another process; ``count()`` asks it."""

    def __init__(self, jack_server: JackDummy):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WATCHER],
            env=jack_server.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise JackError("the xrun watcher did not start")

    def count(self) -> int:
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@dataclass
class Stage:
    jack: JackDummy
    server: ServerProcess
    watcher: Watcher
    stats_path: Path
    stats: dict = field(default_factory=dict)

    def xruns(self) -> int:
        return self.watcher.count()

    def xruns_during(self, seconds: float) -> int:
        before = self.xruns()
        time.sleep(seconds)
        return self.xruns() - before

    def timing(self) -> str:
        """The server's callback timing and its own share of the xruns (after ``stop``)."""
        t = self.stats.get("audio") or {}
        if "entry_max_blocks" not in t:
            return "no callback timing"
        said = jackd_xruns(self.jack.log.read_text(errors="replace")) if self.jack.log else {}
        return (
            f"xruns blamed on the engine's callback {t['xruns_ours']} of {t['xruns']} (jackd: {said}); "
            f"callback ({t.get('mixer')}) started p99.9 {t['entry_p99.9_blocks']:.2f} / max "
            f"{t['entry_max_blocks']:.2f} blocks into the cycle, ran p99.9 {t['took_p99.9_ms']:.2f} / max "
            f"{t['took_max_ms']:.2f} ms, {t.get('slow', 'n/a')} over half a block"
        )

    def stop(self) -> dict:
        """Stop the server cleanly and return its counters."""
        proc = self.server.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        self.stats = json.loads(self.stats_path.read_text())
        return self.stats


def _stage(server_models, tmp_path, midi: bool) -> Iterator[Stage]:
    try:
        server = JackDummy(48000, 256, realtime=True, log=tmp_path / "jackd.log").start()
    except JackError as e:
        pytest.skip(str(e))
    stats = tmp_path / "stats.json"
    proc = None
    watcher = None
    try:
        # The JACK backend (as bench and docs/reliability.md use it): its stats time every callback
        # and say whether an xrun was the engine's.
        extra = ("--backend", "jack", "--stats", str(stats))
        proc = start_server(server_models["gan"], server, 256, midi=midi, extra=extra)
        watcher = Watcher(server)
        yield Stage(server, proc, watcher, stats)
    finally:
        if watcher is not None:
            watcher.close()
        if proc is not None:
            proc.stop()
        server.stop()


@pytest.fixture
def stage(server_models, tmp_path) -> Iterator[Stage]:
    yield from _stage(server_models, tmp_path, midi=False)


@pytest.fixture
def midi_stage(server_models, tmp_path) -> Iterator[Stage]:
    yield from _stage(server_models, tmp_path, midi=True)
