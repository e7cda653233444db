"""``gesturegan bench``: generation speed, trigger-to-sound latency, xruns and memory, measured.

Latency and stress run against a real ``gesturegan serve`` process on a JACK server (one this
module starts with the dummy driver, or a running one): a JACK client of our own records the
server's output and sends it MIDI, so every figure is counted in frames by JACK's clock.

- OSC: the send moment is the frame playing when the datagram leaves (the latest JACK cycle's
  start plus the wall time since); the onset is the first non-zero output frame after silence.
- morph: ``/morph x y`` to a new position then ``/trigger mix``: the first gesture of a new mix,
  whose pool is still empty, served from the reserve's nearest grid point (``--reserve-grid``);
  morph-exact: the same with ``--reserve-grid 0``, where it is generated at once.
- MIDI: a note-on written at offset 0 of one of our cycles; the onset as above.
- floor: the same OSC measurement against a bare process whose sounddevice callback only
  outputs a constant once a datagram arrived: what Python, PortAudio and JACK cost anyway.
- stress: 500 OSC messages/s (triggers that keep the voice limit full, morph, position,
  jitter, status) for a period; xruns counted by JACK (our client's xrun callback) and by
  the server's own audio callback; the server's resident memory and whether torch is mapped.

Reported as medians and percentiles, side by side, from one run. Nothing here asserts a time."""

from gesturegan.server.tools.bench.generation import generation, generation_side_by_side
from gesturegan.server.tools.bench.latency import latency
from gesturegan.server.tools.bench.report import machine, markdown, run
from gesturegan.server.tools.bench.stress import STRESS_PATTERN, idle, stress
from gesturegan.server.tools.harness import (
    PlatformFloor,
    Probe,
    ServerProcess,
    jackd_xruns,
    model_categories,
    parse_cyclictest,
    start_server,
)

__all__ = [
    "STRESS_PATTERN",
    "PlatformFloor",
    "Probe",
    "ServerProcess",
    "generation",
    "generation_side_by_side",
    "idle",
    "jackd_xruns",
    "latency",
    "machine",
    "markdown",
    "model_categories",
    "parse_cyclictest",
    "run",
    "start_server",
    "stress",
]
