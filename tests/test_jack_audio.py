"""Smoke test of the real audio path: sounddevice plays through JACK, jack-client records.

The recording client emits a one-sample marker into a duplex sounddevice stream; the
stream starts a 1 kHz tone at exactly that sample. The recorder then finds the tone at a
whole number of blocks after the marker, at the marker's position inside the block, with
exactly the tone's length: sample-accurate, measured in JACK frames, not wall time.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.jack

TONE_FRAMES = 4800  # 100 ms at 48 kHz
TONE_HZ = 1000.0


class Recorder:
    """A jack-client with one output (the marker) and one input (recorded with frame times)."""

    def __init__(self, server: str, seconds: float, marker_offset: int):
        import jack

        self.client = jack.Client("gg-recorder", servername=server, no_start_server=True)
        self.out = self.client.outports.register("marker")
        self.inp = self.client.inports.register("rec")
        self.buf = np.zeros(int(seconds * self.client.samplerate), dtype=np.float32)
        self.start_frame: int | None = None  # JACK frame of buf[0]
        self.pos = 0
        self.marker_offset = marker_offset
        self.marker_frame: int | None = None
        self.arm = threading.Event()
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        now = self.client.last_frame_time
        out = self.out.get_array()
        out.fill(0.0)
        if self.arm.is_set() and self.marker_frame is None:
            out[self.marker_offset] = 1.0
            self.marker_frame = now + self.marker_offset
        if self.start_frame is None:
            self.start_frame = now
        n = min(frames, self.buf.shape[0] - self.pos)
        if n > 0:
            self.buf[self.pos : self.pos + n] = self.inp.get_array()[:n]
            self.pos += n


def test_tone_through_sounddevice_lands_in_the_right_frames(jack_server):
    import sounddevice as sd

    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * np.arange(TONE_FRAMES) / jack_server.samplerate)).astype(
        np.float32
    )
    state = {"played": -1}  # frames of the tone already played; -1 = waiting for the marker

    def callback(indata, outdata, frames, time_info, status):
        outdata.fill(0.0)
        start = 0
        if state["played"] < 0:
            hits = np.flatnonzero(indata[:, 0] > 0.5)
            if hits.size == 0:
                return
            start, state["played"] = int(hits[0]), 0
        n = min(frames - start, TONE_FRAMES - state["played"])
        if n > 0:
            outdata[start : start + n, 0] = tone[state["played"] : state["played"] + n]
            state["played"] += n

    marker_offset = 37  # anywhere inside a block, to prove sample (not block) accuracy
    rec = Recorder(jack_server.name, seconds=1.0, marker_offset=marker_offset)
    jack_api = next(i for i, a in enumerate(sd.query_hostapis()) if a["name"] == "JACK Audio Connection Kit")
    device = sd.query_hostapis(jack_api)["default_output_device"]
    stream = sd.Stream(
        device=(device, device),
        samplerate=jack_server.samplerate,
        blocksize=jack_server.blocksize,
        channels=1,
        dtype="float32",
        callback=callback,
    )
    with rec.client, stream:
        pa_out = [
            p for p in rec.client.get_ports(is_audio=True, is_output=True) if p.name.startswith("PortAudio")
        ]
        pa_in = [
            p for p in rec.client.get_ports(is_audio=True, is_input=True) if p.name.startswith("PortAudio")
        ]
        assert pa_out and pa_in, "sounddevice's JACK ports did not appear"
        rec.client.connect(rec.out, pa_in[0])
        rec.client.connect(pa_out[0], rec.inp)
        time.sleep(0.1)
        rec.arm.set()
        deadline = time.monotonic() + 5
        while rec.pos < rec.buf.shape[0] and time.monotonic() < deadline:
            time.sleep(0.05)

    assert rec.marker_frame is not None and rec.start_frame is not None
    loud = np.flatnonzero(np.abs(rec.buf) > 1e-3)
    assert loud.size > 0, "the recorder heard nothing"
    first = int(loud[0]) - 1  # tone[0] = sin(0) = 0: the tone starts one sample earlier
    delay = rec.start_frame + first - rec.marker_frame
    # The graph holds a cycle (recorder -> stream -> recorder), so JACK delays one edge by
    # whole periods; the tone must start a whole number of blocks after the marker.
    assert delay % jack_server.blocksize == 0, f"tone started {delay} frames after the marker"
    assert 0 <= delay <= 2 * jack_server.blocksize
    recorded = rec.buf[first : first + TONE_FRAMES]
    np.testing.assert_allclose(recorded, tone, atol=1e-6)
    assert np.abs(rec.buf[first + TONE_FRAMES :]).max() == 0.0
    assert np.abs(rec.buf[:first]).max() == 0.0
