"""Audio output as a JACK client of our own (JACK-Client), which survives losing the server.

PortAudio's JACK host API binds to a server once, when PortAudio starts, and cannot follow it
after a restart; a performance must. ``JackOutput`` is a plain JACK client:

- its process callback stamps the audio clock and runs ``engine.process`` straight into the
  port buffers' block (nothing allocated beyond the ports' array views);
- JACK's xrun callback counts xruns, its shutdown callback marks the server lost;
- a supervisor thread notices the loss, says so (``/audio/state lost`` and an ``/error``
  reply, a line on stderr), keeps the engine running on the wall clock (voices play out,
  ``/voice/end`` replies, stream mode and the recording go on, OSC is answered), retries the
  server every ``retry_s`` and, once it is back, registers the same ports, restores the
  connections it had and goes on (``/audio/state running``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from gesturegan.server.audio.backends import AUDIO_SWITCH_S, CONTROL_SWITCH_S, AudioError, ClockedOutput
from gesturegan.server.audio.clock import AudioClock

if TYPE_CHECKING:  # the mixer process imports this module without onnxruntime
    from gesturegan.server.core.engine import Engine

TIMING_RING = 1 << 16

try:  # the callback thread's own processor time and context switches (Linux)
    import resource

    _THREAD = resource.RUSAGE_THREAD
except (ImportError, AttributeError):
    resource, _THREAD = None, None


def _client(name: str, server: str | None):
    import jack

    return jack.Client(name, servername=server, no_start_server=True)


def timing_summary(
    entry: np.ndarray,
    took: np.ndarray,
    block: int,
    sample_rate: int,
    where: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Percentiles of callbacks' entry into their cycle (``entry [n]`` frames, as blocks) and
    run time (``took [n]`` seconds, as ms); empty when there were none.

    ``where`` (``cpu [n]`` s, ``slept [n]``, ``pushed [n]`` switches): for the slow callbacks
    (over half a block), how many slept, were pushed off the processor, or neither (their time
    went to the hypervisor), and the share of their time they had the processor."""
    if not len(entry):
        return {}
    out: dict = {}
    if where is not None:
        cpu, slept, pushed = where
        slow = took > 0.5 * block / sample_rate
        if slow.any():
            out["slow"] = int(slow.sum())
            out["slow_slept"] = int((slept[slow] > 0).sum())
            out["slow_pushed"] = int(((pushed[slow] > 0) & (slept[slow] == 0)).sum())
            out["slow_neither"] = int(((pushed[slow] == 0) & (slept[slow] == 0)).sum())
            out["slow_cpu_share_p50"] = float(np.median(cpu[slow] / took[slow]))
        else:
            out["slow"] = 0
    took_ms = took * 1e3
    for q in (50, 99, 99.9):
        out[f"entry_p{q:g}_blocks"] = float(np.percentile(entry, q)) / block
        out[f"took_p{q:g}_ms"] = float(np.percentile(took_ms, q))
    out["entry_max_blocks"] = float(entry.max()) / block
    out["took_max_ms"] = float(took_ms.max())
    return out


class JackOutput:
    """``channels`` output ports ``out_1``... of a client ``name`` on JACK server ``server``
    (None: ``$JACK_DEFAULT_SERVER`` or the default one)."""

    def __init__(
        self,
        name: str = "gesturegan",
        server: str | None = None,
        channels: int = 2,
        connect: bool = True,
        retry_s: float = 0.5,
        log: Callable[[str], None] | None = None,
    ):
        try:
            import jack  # noqa: F401
        except OSError as e:  # JACK-Client is installed but libjack is not
            raise AudioError(
                f"libjack is missing ({e}); install JACK (jackd2) or use --backend sounddevice"
            ) from e
        self.name, self.server, self.channels = name, server, channels
        self.connect_physical, self.retry_s = connect, retry_s
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.engine: Engine | None = None
        self.clock: AudioClock | None = None
        self.tap = None
        self.xruns = 0
        self.callbacks = 0
        self.losses = 0
        # The last TIMING_RING callbacks: how far into JACK's cycle the callback got to run (the
        # wait for the interpreter lock shows here) and how long it took, in frames/seconds.
        self._entry = np.zeros(TIMING_RING, np.float32)
        self._took = np.zeros(TIMING_RING, np.float32)
        # Where a long callback's time went: its own processor time (s), and whether it slept
        # (voluntary switches: a lock, a page, a pipe) or was pushed off the processor
        # (involuntary). Time missing from all three was taken by the hypervisor (steal).
        self._cpu = np.zeros(TIMING_RING, np.float32)
        self._slept = np.zeros(TIMING_RING, np.int16)
        self._pushed = np.zeros(TIMING_RING, np.int16)
        # Each xrun, blamed on us when one of our last callbacks ended past its cycle.
        self.xruns_ours = 0
        self.faults = 0  # blocks the engine failed to render (silence instead; JACK keeps us)
        self.state = "running"
        self._links: dict[int, list[str]] = {}  # output channel -> the ports it feeds
        self.on_links: Callable[[dict[int, list[str]]], None] | None = None  # told when they change
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._pacer: ClockedOutput | None = None
        self._supervisor: threading.Thread | None = None
        try:
            self.client = _client(name, server)
        except Exception as e:
            raise AudioError(
                f"no JACK server{' ' + repr(server) if server else ''} to connect to ({e}); start one "
                "(jackd -d dummy -r 48000 -p 128, or a real driver) or use --backend sounddevice"
            ) from e
        self.samplerate, self.blocksize = self.client.samplerate, self.client.blocksize

    # -- wiring --------------------------------------------------------------------------------
    def restore_links(self, links: dict[int, list[str]]) -> None:
        """Connect to these ports when started, instead of the physical playback ports (a
        replacement for an output that died)."""
        self._links = {int(c): list(names) for c, names in links.items()}

    def bind(self, engine: Engine, clock: AudioClock, tap=None) -> JackOutput:
        """Play ``engine`` (whose block and rate should be this server's); ``tap`` gets each block."""
        self.engine, self.clock, self.tap = engine, clock, tap
        self._setup(self.client)
        return self

    def _setup(self, client) -> None:
        self._buf = np.zeros((max(client.blocksize, self.engine.cfg.block), self.channels), np.float32)
        self.ports = [client.outports.register(f"out_{c + 1}") for c in range(self.channels)]
        client.set_process_callback(self._process)
        client.set_xrun_callback(self._xrun)
        client.set_shutdown_callback(self._shutdown)
        client.set_blocksize_callback(self._blocksize)

    def _blocksize(self, frames: int) -> None:  # JACK calls this outside the process thread
        if frames > self._buf.shape[0]:
            self._buf = np.zeros((frames, self.channels), np.float32)

    # -- JACK's threads ------------------------------------------------------------------------
    def _process(self, frames: int) -> None:
        # An exception escaping this callback would make JACK drop the client: none does.
        t0 = time.perf_counter()
        r0 = resource.getrusage(_THREAD) if _THREAD is not None else None
        engine, block = self.engine, self.engine.cfg.block
        buf = self._buf[:frames]
        entry = 0
        sys.setswitchinterval(AUDIO_SWITCH_S)  # see server/audio/backends.py
        try:
            entry = self.client.frames_since_cycle_start
            self.clock.stamp(engine.frame)
            for start in range(0, frames, block):
                engine.process(buf[start : start + block])
        except Exception as e:  # a fault in the engine: this block is silent, the stream lives on
            buf.fill(0.0)
            self.faults += 1
            if self.faults == 1:
                self.log(f"gesturegan: the audio callback failed ({e!r}); playing silence for that block")
        sys.setswitchinterval(CONTROL_SWITCH_S)
        for c, port in enumerate(self.ports):
            port.get_array()[:] = buf[:, c]
        if self.tap is not None:
            self.tap(buf)
        i = self.callbacks % TIMING_RING
        self._entry[i] = entry
        self._took[i] = time.perf_counter() - t0
        if r0 is not None:
            r1 = resource.getrusage(_THREAD)
            self._cpu[i] = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
            self._slept[i] = r1.ru_nvcsw - r0.ru_nvcsw
            self._pushed[i] = r1.ru_nivcsw - r0.ru_nivcsw
        self.callbacks += 1

    def timing(self) -> dict:
        """Percentiles of the last callbacks: when they started into the cycle (frames and
        blocks) and how long they ran (ms); the xruns and server losses so far."""
        out = {
            "callbacks": self.callbacks,
            "xruns": self.xruns,
            "xruns_ours": self.xruns_ours,  # one of our callbacks ended past its cycle
            "faults": self.faults,
            "losses": self.losses,
            "state": self.state,
            "mixer": "thread",
        }
        n = min(self.callbacks, TIMING_RING)
        return out | timing_summary(
            self._entry[:n],
            self._took[:n],
            self.engine.cfg.block,
            self.engine.cfg.sample_rate,
            (self._cpu[:n], self._slept[:n], self._pushed[:n]),
        )

    def _xrun(self, delay_usecs: float) -> None:
        self.xruns += 1
        self.engine.counts.add("xruns", 1)
        # JACK tells us after the fact (from its notification thread): look at our last
        # callbacks. One that ended past its cycle was ours; if none did, the cycle was lost
        # elsewhere (another client, the server's own thread, the machine).
        n, block_s = self.callbacks, self.engine.cfg.block / self.engine.cfg.sample_rate
        for k in range(max(0, n - 4), n):
            i = k % TIMING_RING
            if self._entry[i] / self.engine.cfg.block * block_s + self._took[i] > block_s:
                self.xruns_ours += 1
                break

    def _shutdown(self, status, reason: str) -> None:
        # Called from libjack as the server goes; no client call is allowed here.
        self._lost.set()

    # -- the supervisor ------------------------------------------------------------------------
    def start(self) -> JackOutput:
        self.client.activate()
        self._connect(self.client)
        self._supervisor = threading.Thread(target=self._supervise, name="gesturegan-jack", daemon=True)
        self._supervisor.start()
        return self

    def _connect(self, client) -> None:
        """Restore the links we had; the first time (none yet), the physical playback ports."""
        links = self._links
        if not links and self.connect_physical:
            sinks = client.get_ports(is_physical=True, is_input=True, is_audio=True)
            links = {c: [sinks[c].name] for c in range(min(len(sinks), self.channels))}
        for c, names in links.items():
            for name in names:
                try:
                    client.connect(self.ports[c], name)
                except Exception:  # the other side is not back (yet): say so, go on
                    self.log(f"gesturegan: {name} is not there; {self.ports[c].name} left unconnected")

    def _remember_links(self) -> None:
        with contextlib.suppress(Exception):  # the server is going: keep what we knew
            links = {c: [p.name for p in port.connections] for c, port in enumerate(self.ports)}
            if links != self._links and self.on_links is not None:
                self.on_links(links)
            self._links = links

    def _supervise(self) -> None:
        while not self._stop.is_set():
            if not self._lost.wait(timeout=self.retry_s):
                self._remember_links()
                continue
            if self._stop.is_set():
                return
            self._on_lost()
            while not self._stop.wait(self.retry_s):
                if self._try_return():
                    break

    def _on_lost(self) -> None:
        self.losses += 1
        self.state = "lost"
        # The engine keeps its time on the wall clock: voices end, stream mode goes on, the
        # recording records; nothing waits for the server.
        self._pacer = ClockedOutput(self.engine, self.clock, tap=self.tap).start()
        msg = "the JACK server is gone; the engine goes on and reconnects when it is back"
        self.log(f"gesturegan: {msg}")
        self.engine.replies.append(("/audio/state", "lost"))
        self.engine.replies.append(("/error", "/audio", msg))
        old, self.client = self.client, None
        with contextlib.suppress(Exception):  # a dead server's client may not close cleanly
            old.close()

    def _try_return(self) -> bool:
        import jack

        jack.set_error_function(lambda msg: None)  # libjack's "cannot connect" lines, every retry
        try:
            client = _client(self.name, self.server)
        except Exception:
            return False  # not back yet
        finally:
            jack.set_error_function(None)
        try:
            self._setup(client)
            self._pacer.close()  # never two threads in engine.process
            self._pacer = None
            self._lost.clear()
            self.client = client  # before activate: the process callback reads it at once
            client.activate()
        except Exception as e:
            self.log(f"gesturegan: the JACK server is back but the client failed ({e}); retrying")
            if self._pacer is None:
                self._pacer = ClockedOutput(self.engine, self.clock, tap=self.tap).start()
            self.client = None
            with contextlib.suppress(Exception):
                client.close()
            return False
        self.samplerate = client.samplerate
        if client.samplerate != self.engine.cfg.sample_rate:
            self.log(
                f"gesturegan: the JACK server came back at {client.samplerate} Hz; the engine plays at "
                f"{self.engine.cfg.sample_rate} Hz (restart gesturegan to follow it)"
            )
        self._connect(client)
        self.state = "running"
        self.log("gesturegan: the JACK server is back; audio resumed")
        self.engine.replies.append(("/audio/state", "running"))
        return True

    def close(self) -> None:
        self._stop.set()
        self._lost.set()  # wake the supervisor
        if self._supervisor is not None:
            self._supervisor.join(timeout=2)
        if self._pacer is not None:
            self._pacer.close()
        if self.client is not None:
            try:
                self.client.deactivate()
                self.client.close()
            except Exception:
                pass
