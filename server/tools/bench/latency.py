"""Trigger-to-sound latency, counted in frames by JACK's clock: OSC, MIDI, morph, morph-exact, and
the floor of a bare PortAudio process."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gesturegan.server.tools.harness import (
    Probe,
    free_port,
    model_categories,
    osc_packet,
    percentiles,
    start_server,
)
from gesturegan.server.tools.jackd import JackDummy

FLOOR = r"""
import socket, sys, numpy as np, sounddevice as sd
level = [0.0]
api = [i for i, a in enumerate(sd.query_hostapis()) if "JACK" in a["name"]][0]
dev = [i for i, d in enumerate(sd.query_devices()) if d["hostapi"] == api and d["max_output_channels"]][0]
def cb(out, frames, t, status):
    out.fill(level[0])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", int(sys.argv[1])))
with sd.OutputStream(samplerate=int(sys.argv[2]), blocksize=int(sys.argv[3]), channels=1, dtype="float32",
                     device=dev, callback=cb, latency="low"):
    print("ready", flush=True)
    while True:
        data = sock.recv(1024)
        level[0] = 0.5 if b"/on" in data else 0.0
"""


def _floor_process(jack: JackDummy, block: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", FLOOR, str(port), str(jack.rate), str(block)],
        env=jack.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    proc.stdout.readline()
    return proc, port


def _trials(probe: Probe, fire, reset, n: int, midi: bool = False, gap: float = 0.05) -> list[int]:
    out = []
    for _ in range(n):
        reset()
        if not probe.wait_silent():
            continue
        probe.onset = None
        probe.armed = True
        if midi:
            probe.note_frame = None
            fire()
            onset = probe.wait_onset()
            sent = probe.note_frame
        else:
            sent = probe.now_frame()
            fire()
            onset = probe.wait_onset()
        probe.armed = False
        if onset is not None and sent is not None:
            out.append(onset - sent)
        time.sleep(gap)  # a performer's pace (~15 triggers/s): the pools keep up; misses are counted apart
    return out


def latency(
    model: Path, block: int, trials: int, rate: int = 48000, log=print, backend: str = "jack"
) -> dict:
    """OSC, MIDI and floor trigger-to-sound latency at ``block`` frames on a fresh JACK dummy."""
    result = {"block": block, "rate": rate}
    first = model_categories(model)[0]
    with JackDummy(rate, block, realtime=True) as jack:
        result["jack_realtime"] = jack.is_realtime()
        probe = Probe(jack.name)
        try:
            proc, port = _floor_process(jack, block)
            try:
                probe.connect("PortAudio", None)
                out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                frames = _trials(
                    probe,
                    lambda: out.sendto(b"/on", ("127.0.0.1", port)),
                    lambda: out.sendto(b"/off", ("127.0.0.1", port)),
                    trials,
                )
                result["floor"] = percentiles(frames)
            finally:
                proc.terminate()
                proc.wait()
            for p in probe.inp.connections:  # the floor's port may already be gone
                with contextlib.suppress(Exception):
                    probe.client.disconnect(p, probe.inp)
            port = "gesturegan:out_1" if backend == "jack" else "PortAudio"
            server = start_server(model, jack, block, extra=("--backend", backend))
            try:
                probe.connect(port, "gesturegan")
                trigger = osc_packet("/trigger", first, 1.0, 0.5)
                panic = osc_packet("/panic")
                result["osc"] = percentiles(
                    _trials(probe, lambda: server.send(trigger), lambda: server.send(panic), trials)
                )

                def note() -> None:
                    probe.note = (0x90, 36, 127)

                result["midi"] = percentiles(
                    _trials(probe, note, lambda: server.send(panic), trials, midi=True)
                )
                # a gesture right after a morph change: the mix's pool is new, so the first
                # trigger of a new position plays the reserve's nearest grid point
                rng = np.random.default_rng(1)

                def morph_then_trigger() -> None:
                    x, y = (float(v) for v in rng.uniform(0.05, 0.95, 2))
                    server.send(osc_packet("/morph", x, y))
                    server.send(osc_packet("/trigger", "mix", 1.0))

                result["morph"] = percentiles(
                    _trials(probe, morph_then_trigger, lambda: server.send(panic), max(10, trials // 2))
                )
                result["server_status"] = server.status()
            finally:
                server.stop()
            # The same without the reserve: the first trigger at a new position waits for the model.
            server = start_server(
                model, jack, block, midi=False, extra=("--backend", backend, "--reserve-grid", "0")
            )
            try:
                probe.connect(port, None)
                result["morph-exact"] = percentiles(
                    _trials(probe, morph_then_trigger, lambda: server.send(panic), max(10, trials // 2))
                )
            finally:
                server.stop()
        finally:
            probe.close()
    for path in ("floor", "osc", "midi", "morph", "morph-exact"):
        r = result.get(path, {})
        if r.get("n"):
            for k in ("p50", "p99", "max"):
                r[f"{k}_ms"] = r[k] / rate * 1e3
                r[f"{k}_blocks"] = r[k] / block
        log(_latency_line(path, block, r))
    return result


def _latency_line(path: str, block: int, r: dict) -> str:
    if not r.get("n"):
        return f"latency {path:5s} @{block}: no measurement"
    return (
        f"latency {path:5s} @{block}: p50 {r['p50']:6.0f} frames ({r['p50_ms']:5.2f} ms, {r['p50_blocks']:4.2f} blocks)"
        f"  p99 {r['p99']:6.0f} ({r['p99_ms']:5.2f} ms, {r['p99_blocks']:4.2f} blocks)  max {r['max']:6.0f}  n={r['n']}"
    )
