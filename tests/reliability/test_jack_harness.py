"""The JACK test harness on a machine that has run the suite many times.

JACK's shared-memory registry holds eight servers; a killed server stays registered, and jack2
reclaims its entry only when a server of the same name starts again. Harness servers named
afresh on every run once filled it, and then every audio test failed with
``jackd exited with status 255`` while jackd said why: "Too many servers already active".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

import gesturegan.server.tools.jackd as jackd_mod
from gesturegan.server.tools.jackd import SHM, JackDummy, JackError, registered_servers

pytestmark = [pytest.mark.jack, pytest.mark.slow]


def _start_and_kill(name: str) -> None:
    proc = subprocess.Popen(
        [shutil.which("jackd"), "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while name not in {e.name for e in registered_servers()}:
        assert proc.poll() is None and time.monotonic() < deadline, f"{name} did not register"
        time.sleep(0.05)
    proc.kill()  # as a crash or a JACK-loss test would: it stays registered
    proc.wait()


def test_a_registry_full_of_killed_servers_is_cleared_and_jackds_reason_shown(monkeypatch):
    tag = f"gg-old-{os.getpid()}"
    names = [f"{tag}-{i}" for i in range(8 - len(registered_servers()))]
    for name in names:
        _start_and_kill(name)
    assert len(registered_servers()) == 8
    assert all(not e.alive for e in registered_servers() if e.name in names)

    monkeypatch.setattr(jackd_mod, "clear_stale", lambda log=None: [])  # as the harness was
    with pytest.raises(JackError, match="Too many servers already active"):  # jackd's own words
        JackDummy().start(timeout=10)
    monkeypatch.undo()

    with JackDummy() as jack:  # clears what the dead servers left, then starts in its slot
        assert jack.name.startswith("gg-slot-")
        left = {e.name for e in registered_servers()}
        assert not left & set(names)
        assert not list(SHM.glob(f"jack_sem.*{tag}*"))


def test_a_killed_slot_server_is_reclaimed_by_its_next_start():
    jack = JackDummy().start()
    name = jack.name
    try:
        jack.kill()
        assert any(e.name == name and not e.alive for e in registered_servers())
        jack.start()  # same slot, same name: jack2 reclaims the dead entry
        assert [e.name for e in registered_servers()].count(name) == 1
    finally:
        jack.stop()
    assert name not in {e.name for e in registered_servers() if e.alive}
