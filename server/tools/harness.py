"""What bench and the tests share to drive a real ``gesturegan serve``: a JACK client that records
its output and sends MIDI (``Probe``), the server in a process of its own (``ServerProcess``,
``start_server``), the machine's real-time floor (``PlatformFloor``, cyclictest), and readers of
jackd's log. Nothing here asserts or reports: it measures."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from gesturegan.server.tools.jackd import JackDummy, JackError


def osc_packet(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_drops(port: int) -> int | None:
    """Datagrams the kernel dropped for the UDP socket bound to ``port`` on this machine (a full
    receive buffer), from /proc/net/udp; None where that file does not exist (not Linux)."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    total = None
    for line in lines:
        fields = line.split()
        if len(fields) >= 13 and int(fields[1].split(":")[1], 16) == port:
            total = (total or 0) + int(fields[12])
    return total


def percentiles(values: list[float]) -> dict:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
        "min": float(a.min()),
    }


# -- the JACK side ----------------------------------------------------------------------------
class Probe:
    """Our JACK client: records the server's first output channel, sends it MIDI, counts xruns."""

    def __init__(self, server_name: str, listen: bool = True):
        import jack

        self.client = jack.Client("gg-bench", servername=server_name, no_start_server=True)
        self.listen = listen  # False: no ports and no process callback, only count xruns
        if listen:
            self.inp = self.client.inports.register("in")
            self.keys = self.client.midi_outports.register("keys")
        self.xruns = 0
        self.armed = False
        self.onset: int | None = None
        self.silent_cycles = 0
        self.note: tuple | None = None
        self.note_frame: int | None = None
        self.anchor = (time.perf_counter(), 0)  # (wall time, first frame) of the latest cycle
        if listen:
            self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        self.anchor = (time.perf_counter(), self.client.last_frame_time)
        buf = self.inp.get_array()
        loud = bool(buf.any())
        self.silent_cycles = 0 if loud else self.silent_cycles + 1
        if self.armed and loud:
            self.onset = self.client.last_frame_time + int(np.flatnonzero(buf)[0])
            self.armed = False
        self.keys.clear_buffer()
        if self.note is not None:
            self.keys.write_midi_event(0, self.note)
            self.note_frame = self.client.last_frame_time
            self.note = None

    def connect(self, audio_from: str, midi_to: str | None, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        src = dst = None
        while time.monotonic() < deadline:
            outs = [p for p in self.client.get_ports(is_audio=True, is_output=True) if audio_from in p.name]
            ins = [
                p for p in self.client.get_ports(is_midi=True, is_input=True) if midi_to and midi_to in p.name
            ]
            src, dst = (outs[0] if outs else None), (ins[0] if ins else None)
            if src is not None and (dst is not None or midi_to is None):
                break
            time.sleep(0.05)
        if src is None:
            raise JackError(f"no JACK audio output matching {audio_from!r}")
        self.client.connect(src, self.inp)
        if midi_to is not None:
            if dst is None:
                raise JackError(f"no JACK MIDI input matching {midi_to!r}")
            self.client.connect(self.keys, dst)

    def now_frame(self) -> int:
        """The frame playing now, from the latest cycle's start (JACK's own estimate,
        ``jack_frame_time``, drifts by blocks with the dummy driver out of real time)."""
        wall, frame = self.anchor
        return frame + round((time.perf_counter() - wall) * self.client.samplerate)

    def wait_silent(self, cycles: int = 3, timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.silent_cycles < cycles and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.silent_cycles >= cycles

    def wait_onset(self, timeout: float = 1.0) -> int | None:
        deadline = time.monotonic() + timeout
        while self.onset is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        return self.onset

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    osc_port: int
    reply: socket.socket
    log: object = None  # a temporary file holding the server's stderr

    def stderr(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def send(self, data: bytes) -> None:
        self.reply.sendto(data, ("127.0.0.1", self.osc_port))

    def status(self, timeout: float = 3.0) -> dict | None:
        self.drain()
        self.send(osc_packet("/status"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = OscMessage(self.reply.recvfrom(65536)[0])
            except (TimeoutError, OSError):
                continue
            if msg.address == "/status":
                keys = ("voices", "triggers", "misses", "errors", "late", "xruns")
                return dict(zip(keys, msg.params, strict=False))
        return None

    def drain(self) -> None:
        self.reply.setblocking(False)
        try:
            while True:
                self.reply.recvfrom(65536)
        except (BlockingIOError, OSError):
            pass
        finally:
            self.reply.settimeout(0.2)

    def pids(self) -> list[int]:
        """The server's process and its children (the mixer process), Linux only."""
        pids = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        return pids

    @staticmethod
    def _kb(pid: int, field: str, name: str) -> int | None:
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def rss_mb(self) -> float | None:
        """Resident memory of the server and its mixer process together (shared pages, the voice
        arena among them, counted in each: an upper bound)."""
        kb = [self._kb(pid, "VmRSS:", "status") for pid in self.pids()]
        return sum(kb) / 1024 if kb and None not in kb else None

    def pss_mb(self) -> float | None:
        """Proportional set size of the server and its mixer together: shared pages split between
        them, so nothing counts twice."""
        kb = [self._kb(pid, "Pss:", "smaps_rollup") for pid in self.pids()]
        return sum(kb) / 1024 if kb and None not in kb else None

    def has_torch(self) -> bool | None:
        try:
            return any("torch" in Path(f"/proc/{pid}/maps").read_text() for pid in self.pids())
        except OSError:
            return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reply.close()
        if self.log is not None:
            self.log.close()


def model_categories(model: Path | None) -> tuple[str, ...]:
    """The categories of ``model`` (default: the bundled one), from its contract."""
    from gesturegan.server.inference.model import default_model_path, open_session

    return tuple(open_session(model or default_model_path(), "cpu", threads=1, spinning=False)[1].categories)


def start_server(
    model: Path, jack: JackDummy | None, block: int, midi: bool = True, extra: tuple[str, ...] = ()
) -> ServerProcess:
    """``gesturegan serve`` in its own process on JACK; returns once it answers /status."""
    osc_port = free_port()
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(0.2)
    cmd = [
        sys.executable,
        "-m",
        "gesturegan",
        "serve",
        str(model),
        "--audio",
        "jack",
        "--block",
        str(block),
        "--osc-port",
        str(osc_port),
        "--reply-port",
        str(reply.getsockname()[1]),
    ]
    if not midi:
        cmd.append("--no-midi")
    cmd += list(extra)
    env = jack.env() if jack is not None else dict(os.environ)
    # stderr to a file, never an undrained pipe: a server blocked on a full pipe is not measured.
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by ServerProcess.stop)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    server = ServerProcess(proc, osc_port, reply, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise JackError(f"gesturegan serve exited: {server.stderr()[-2000:]}")
        if server.status(timeout=0.5) is not None:
            return server
    server.stop()
    raise JackError(f"gesturegan serve did not answer /status within 60 s: {server.stderr()[-2000:]}")


def steal_seconds() -> float | None:
    """CPU time the hypervisor took from this virtual machine so far (``/proc/stat``), in s."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class PlatformFloor:
    """What this machine does to any real-time thread: ``cyclictest`` (rt-tests) wakes a
    SCHED_FIFO thread on each processor every millisecond for ``seconds`` and keeps a histogram
    of how late each wakeup was. A wakeup later than an audio block means that an audio
    callback due then would have missed its cycle whatever it ran: on a virtual machine those
    stalls are the hypervisor's (steal). Run it beside a measurement to read its xruns against
    the floor. None of its results when cyclictest is not installed."""

    def __init__(self, seconds: float):
        exe = shutil.which("cyclictest")
        self.proc = None
        if exe is None:
            return
        cmd = [exe, "-m", "-q", "-p", "90", "-a", "-t", str(os.cpu_count() or 1), "-i", "1000"]
        cmd += ["-h", "30000", "-D", f"{max(1, round(seconds))}s"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self, block_s: float) -> dict | None:
        """Wakeups late by more than half a block and by more than a block, the latest, and how
        many wakeups there were (all processors together); None without cyclictest."""
        if self.proc is None:
            return None
        try:
            out = self.proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        return parse_cyclictest(out, block_s)


def parse_cyclictest(text: str, block_s: float) -> dict | None:
    """``cyclictest -h`` output: per-microsecond histogram lines, then ``# Max Latencies``."""
    half, whole = 0.5 * block_s * 1e6, block_s * 1e6
    late_half = late_block = total = 0
    worst = processors = 0
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("# Max Latencies:"):
            worst = max(int(x) for x in parts[3:]) if len(parts) > 3 else 0
            processors = len(parts[3:])
        elif line.startswith("# Histogram Overflows:"):
            late_block += sum(int(x) for x in parts[3:])  # beyond the histogram: 30 ms
            late_half += sum(int(x) for x in parts[3:])
            total += sum(int(x) for x in parts[3:])
        elif parts and parts[0].isdigit() and len(parts) > 1:
            us, n = int(parts[0]), sum(int(x) for x in parts[1:])
            total += n
            late_half += n if us > half else 0
            late_block += n if us > whole else 0
    if not total:
        return None
    return {
        "wakeups": total,
        "late_half_block": late_half,
        "late_block": late_block,
        "max_us": worst,
        "processors": max(1, processors),
    }


def xrun_allowance(seconds: float, idle_xruns: int, idle_seconds: float, machine: dict | None) -> float:
    """How many xruns ``seconds`` of load may show before the engine is to blame.

    A few (5), one every two seconds (a two-core VM's dummy driver wakes late now and then), the
    rate counted while the same engine idled, and one for each stall of the machine's own
    real-time wakeups (``PlatformFloor``) later than half a block during the same window: a stall
    of that length lands in whichever callback is running, the engine's included. cyclictest
    counts a stall once on each processor, so the stalls are its late count over the processors.
    A regression in the engine (a callback that blocks, a lock held across a cycle) shows as
    hundreds of xruns in a few seconds, far above this."""
    allowed = 5.0 + seconds / 2.0 + idle_xruns * seconds / max(idle_seconds, 1e-9)
    if machine:
        allowed += machine["late_half_block"] / machine.get("processors", 1)
    return allowed


def jackd_xruns(text: str) -> dict[str, int]:
    """What jackd's log blames for each xrun: a client that had not finished its cycle
    (by name), or the driver itself waking late (``driver late``)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        if "was not finished" in line and "client = " in line:
            name = line.split("client = ", 1)[1].split(" was not finished", 1)[0]
        elif "Process XRun" in line or "driver is late" in line.lower():
            name = "driver late"
        else:
            continue
        out[name] = out.get(name, 0) + 1
    return out


def voices_from_replies(server: ServerProcess) -> int | None:
    """The last /status reply's voice count among what arrived (non-blocking)."""
    last = None
    server.reply.setblocking(False)
    try:
        while True:
            msg = OscMessage(server.reply.recvfrom(65536)[0])
            if msg.address == "/status":
                last = msg.params[0]
    except (BlockingIOError, OSError):
        pass
    finally:
        server.reply.settimeout(0.2)
    return last
