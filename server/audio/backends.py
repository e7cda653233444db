"""Audio output through sounddevice/PortAudio (JACK, CoreAudio, WASAPI/ASIO, ALSA).

The callback stamps the audio clock and asks the engine for one block; it allocates nothing
and never waits. Underflows reported by PortAudio are counted as xruns.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from gesturegan.server.audio.clock import AudioClock

if TYPE_CHECKING:  # the mixer process imports this module without onnxruntime
    from gesturegan.server.core.engine import Engine


# The interpreter lock's switch interval while the audio callback runs, and otherwise. numpy
# releases the lock inside every operation on more than a few hundred elements (the voice mix
# makes a couple of dozen such calls per block); a control thread waiting for the lock takes it
# then, and the callback gets it back only when that thread lets go, by default after up to the
# switch interval. Under an OSC flood that was 4 ms of a 5.3 ms block (hundreds of xruns in
# 25 s). With a 20 us interval during the callback, whoever took the lock hands it back within
# 20 us; outside the callback the control threads run with the ordinary 0.5 ms.
AUDIO_SWITCH_S = 2e-5
CONTROL_SWITCH_S = 5e-4
# With the audio callback in the mixer process, the engine's process has no callback to protect;
# its threads hand the lock over sooner instead, so an OSC packet or MIDI note waits less for it.
ENGINE_SWITCH_S = 1e-4


class AudioError(RuntimeError):
    """No usable output; the message says what to do instead."""


def find_output(device: str | int | None = None, hostapi: str | None = None) -> int:
    """The PortAudio output device index for a name/index, or the default of a host API."""
    import sounddevice as sd

    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except Exception as e:  # PortAudio missing or broken
        raise AudioError(f"PortAudio is not usable here ({e}); use `gesturegan render` for files") from e
    outputs = [i for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if hostapi is not None:
        api = next((i for i, a in enumerate(apis) if hostapi.lower() in a["name"].lower()), None)
        if api is None:
            hint = (
                " (is the JACK server running? jackd -d dummy -r 48000 -p 128)"
                if "jack" in hostapi.lower()
                else ""
            )
            raise AudioError(
                f"no host API matching {hostapi!r}{hint}; found {', '.join(a['name'] for a in apis)}"
            )
        outputs = [i for i in outputs if devices[i]["hostapi"] == api]
    if device is not None:
        if isinstance(device, int) or str(device).isdigit():
            idx = int(device)
            if idx not in outputs:
                raise AudioError(f"device {idx} is not an output device")
            return idx
        match = [i for i in outputs if str(device).lower() in devices[i]["name"].lower()]
        if not match:
            raise AudioError(f"no output device matching {device!r} (see `gesturegan doctor`)")
        return match[0]
    if not outputs:
        raise AudioError(
            "no audio output device found (no sound card?). Start JACK "
            "(jackd -d dummy -r 48000 -p 128, or a real driver) and use --audio jack, "
            "or write files with `gesturegan render`"
        )
    if hostapi is not None:
        return outputs[0]
    default = sd.default.device[1]
    return default if default in outputs else outputs[0]


class SoundDeviceOutput:
    """An output stream whose callback runs ``engine.process``."""

    def __init__(self, engine: Engine, clock: AudioClock, device: int, tap=None):
        import sounddevice as sd

        self.engine, self.clock = engine, clock
        self.tap = tap  # called with each finished block (the recorder's push), or None
        self.xruns = 0
        self.callbacks = 0
        cfg = engine.cfg
        self.stream = sd.OutputStream(
            samplerate=cfg.sample_rate,
            blocksize=cfg.block,
            channels=cfg.channels,
            dtype="float32",
            device=device,
            callback=self._callback,
            latency="low",
        )

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status.output_underflow:
            self.xruns += 1
            self.engine.counts.add("xruns", 1)
        self.callbacks += 1
        self.clock.stamp(self.engine.frame)
        block = self.engine.cfg.block
        sys.setswitchinterval(AUDIO_SWITCH_S)
        for start in range(0, frames, block):  # PortAudio may hand a longer buffer on some hosts
            self.engine.process(outdata[start : start + block])
        sys.setswitchinterval(CONTROL_SWITCH_S)
        if self.tap is not None:
            self.tap(outdata)

    def start(self) -> SoundDeviceOutput:
        self.stream.start()
        return self

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


class ClockedOutput:
    """No device: a thread runs ``engine.process`` block by block at the wall clock's pace.

    The offline backend for a live session (``gesturegan demo`` without ``--play``, tests):
    OSC arrives in real time and every block goes to ``tap`` (the recorder) instead of a sound
    card. A block that starts late is counted in ``xruns`` (the thread fell behind).
    """

    def __init__(self, engine: Engine, clock: AudioClock, tap=None):
        import threading

        self.engine, self.clock, self.tap = engine, clock, tap
        self.xruns = 0
        self.callbacks = 0
        self._buf = np.zeros((engine.cfg.block, engine.cfg.channels), np.float32)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gesturegan-clock", daemon=True)

    def _run(self) -> None:
        import time

        period = self.engine.cfg.block / self.engine.cfg.sample_rate
        start = time.perf_counter()
        while not self._stop.is_set():
            due = start + self.callbacks * period
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif wait < -period:
                self.xruns += 1
                self.engine.counts.add("xruns", 1)
            self.callbacks += 1
            self.clock.stamp(self.engine.frame)
            sys.setswitchinterval(AUDIO_SWITCH_S)
            self.engine.process(self._buf)
            sys.setswitchinterval(CONTROL_SWITCH_S)
            if self.tap is not None:
                self.tap(self._buf)

    def start(self) -> ClockedOutput:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class PyoOutput:
    """pyo as the audio engine: its server calls us once per buffer and plays what we wrote.

    Each output channel is a ``DataTable`` of one block; pyo's per-buffer callback runs the
    engine and copies the block into the tables' own memory (``np.asarray(table.getBuffer())``,
    no lists, no allocation), and a ``TableRead`` per channel, one table length per buffer and
    no interpolation, plays it in the same buffer. ``hostapi`` "jack" uses pyo's JACK backend,
    anything else its PortAudio one. pyo reports no xruns, so none are counted here.
    """

    def __init__(self, engine: Engine, clock: AudioClock, hostapi: str | None = None, tap=None):
        import os

        os.environ.setdefault("PYO_GUI_WX", "0")  # no wxPython nagging in a headless server
        import pyo

        self.engine, self.clock, self.tap = engine, clock, tap
        self.xruns = 0
        self.callbacks = 0
        cfg = engine.cfg
        audio = "jack" if hostapi and "jack" in hostapi.lower() else "portaudio"
        self.server = pyo.Server(
            sr=cfg.sample_rate,
            nchnls=cfg.channels,
            buffersize=cfg.block,
            duplex=0,
            audio=audio,
            jackname="gesturegan",
        )
        self.server.deactivateMidi()
        self.server.boot()
        if not self.server.getIsBooted():
            raise AudioError(f"pyo could not start its {audio} audio backend")
        self._buf = np.zeros((cfg.block, cfg.channels), np.float32)
        self._tables = [pyo.DataTable(size=cfg.block) for _ in range(cfg.channels)]
        self._views = [np.asarray(t.getBuffer()) for t in self._tables]
        self._readers = [
            pyo.TableRead(t, freq=cfg.sample_rate / cfg.block, loop=True, interp=1).out(chnl=c)
            for c, t in enumerate(self._tables)
        ]
        self.server.setCallback(self._callback)

    def _callback(self) -> None:
        self.callbacks += 1
        self.clock.stamp(self.engine.frame)
        sys.setswitchinterval(AUDIO_SWITCH_S)
        self.engine.process(self._buf)
        sys.setswitchinterval(CONTROL_SWITCH_S)
        for c, view in enumerate(self._views):
            np.copyto(view, self._buf[:, c], casting="same_kind")
        if self.tap is not None:
            self.tap(self._buf)

    def start(self) -> PyoOutput:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.stop()
        self.server.shutdown()
