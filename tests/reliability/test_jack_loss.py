"""Audio server loss: kill the JACK server in the middle of a performance.

`gesturegan serve --backend jack` plays a stream of gestures into a recorder client; the JACK
server is killed (SIGKILL). The engine must keep answering OSC, report the loss
(`/audio/state lost`, an `/error` for `/audio`), keep its voices going on the wall clock, and
resume output when a JACK server of the same name comes back, without a restart. The recorder
runs in a process of its own (a new one for the new server) and reports the loud frames it saw.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gesturegan.server.inference.model import default_model_path
from gesturegan.server.tools.harness import osc_packet, start_server
from gesturegan.server.tools.jackd import JackDummy

pytestmark = [pytest.mark.jack, pytest.mark.slow]

RECORDER = r"""
import sys, time, jack, numpy as np
loud = [0]
client = jack.Client("gg-rec", no_start_server=True)
inp = client.inports.register("in")

@client.set_process_callback
def process(frames):
    loud[0] += int(np.count_nonzero(inp.get_array()))

with client:
    deadline = time.monotonic() + 10
    while not [p for p in client.get_ports(is_audio=True, is_output=True) if p.name == "gesturegan:out_1"]:
        if time.monotonic() > deadline:
            print("no gesturegan:out_1", flush=True)
            sys.exit(1)
        time.sleep(0.05)
    client.connect("gesturegan:out_1", inp)
    time.sleep(float(sys.argv[1]))
    print(loud[0], flush=True)
"""


def _record(jack: JackDummy, seconds: float) -> int:
    """Loud frames a fresh recorder client hears from gesturegan:out_1 in ``seconds``."""
    out = subprocess.run(
        [sys.executable, "-c", RECORDER, str(seconds)],
        env=jack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return int(out.stdout.split()[-1])


def _replies(server, seconds: float) -> list[tuple]:
    """Every OSC reply that arrives within ``seconds`` (address and arguments)."""
    from pythonosc.osc_message import OscMessage

    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = server.reply.recv(65536)
        except OSError:
            continue
        msg = OscMessage(data)
        got.append((msg.address, *msg.params))
    return got


def test_the_engine_survives_losing_the_jack_server_and_resumes_when_it_returns():
    with JackDummy(48000, 256) as jack:
        server = start_server(default_model_path(), jack, 256, midi=False, extra=("--backend", "jack"))
        try:
            server.send(osc_packet("/stream/density", 8.0))
            server.send(osc_packet("/stream/start"))
            assert _record(jack, 1.5) > 48000 // 4  # a texture is playing

            server.drain()
            jack.kill()
            time.sleep(0.3)
            server.send(osc_packet("/status"))
            server.send(osc_packet("/trigger", "trigger", 1.0))  # a note while there is no server
            replies = _replies(server, 1.5)
            addresses = [r[0] for r in replies]
            assert server.proc.poll() is None, server.stderr()
            assert "/status" in addresses  # still answering
            assert ("/audio/state", "lost") in replies and ("/error", "/audio") in [r[:2] for r in replies]
            assert "/voice/start" in addresses  # the engine keeps playing on the wall clock

            jack.start()  # the same name, a new process
            deadline = time.monotonic() + 15
            while "audio resumed" not in server.stderr() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "audio resumed" in server.stderr(), server.stderr()[-2000:]
            # The stream is heard again. Two clean-clone CI runs heard nothing in the first 1.5 s
            # after "audio resumed" on a loaded machine and passed on every rerun, so the test
            # asks for sound within three windows (resuming, not resuming within 1.5 s, is the
            # behaviour), and says what each window heard.
            windows = []
            for _ in range(3):
                windows.append(_record(jack, 1.5))
                if windows[-1] > 48000 // 4:
                    break
            assert windows[-1] > 48000 // 4, (windows, server.status(), server.stderr()[-3000:])
            status = server.status()
            assert status is not None and status["errors"] == 0
        finally:
            server.stop()
