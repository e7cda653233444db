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

Reported as medians and percentiles, side by side, from one run. Nothing here asserts a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
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


def _osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentiles(values: list[float]) -> dict:
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


# -- generation -------------------------------------------------------------------------------
def generation(model_path: Path, batches=(1, 16, 64), seconds: float = 1.5) -> list[dict]:
    """ms per gesture and real-time factor of ``model_path`` on each onnxruntime provider here."""
    from gesturegan.server.inference.model import load_model, provider_candidates

    rows = []
    providers = ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in provider_candidates("auto") else [])
    for provider in providers:
        model = load_model(model_path, provider=provider, batch_sizes=batches)
        info = model.info
        for b in batches:
            rng = np.random.default_rng(0)
            z = rng.standard_normal((b, info.latent_dim)).astype(np.float32)
            cond = np.eye(info.n_categories, dtype=np.float32)[np.arange(b) % info.n_categories]
            times, start = [], time.perf_counter()
            while len(times) < 5 or (time.perf_counter() - start < seconds and len(times) < 500):
                t = time.perf_counter()
                model.generate(z, cond)
                times.append(time.perf_counter() - t)
            med = float(np.median(times))
            rows.append(
                {
                    "model": model_path.name,
                    "family": info.family,
                    "engine": "onnxruntime",
                    "device": provider,
                    "batch": b,
                    "calls": len(times),
                    "median_ms": med * 1e3,
                    "p99_ms": float(np.percentile(times, 99)) * 1e3,
                    "ms_per_gesture": med * 1e3 / b,
                    "realtime_factor": info.duration_s * b / med,
                }
            )
    return rows


def generation_side_by_side(models: list[Path], batches=(1, 16, 64), rounds: int = 3) -> list[dict]:
    """``generation`` of several models, interleaved round by round so the machine's drift (heat,
    other load) falls on all alike; each row is the round whose median is the median of the rounds."""
    runs: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for path in models:
            for row in generation(path, batches, seconds=1.0):
                runs.setdefault((str(path), row["device"], row["batch"]), []).append(row)
    out = []
    for rows in runs.values():
        rows = sorted(rows, key=lambda r: r["median_ms"])
        out.append(dict(rows[len(rows) // 2], rounds=len(rows)))
    return out


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
        self.send(_osc("/status"))
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
    osc_port = _free_port()
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
    port = _free_port()
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
                result["floor"] = _percentiles(frames)
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
                trigger = _osc("/trigger", first, 1.0, 0.5)
                panic = _osc("/panic")
                result["osc"] = _percentiles(
                    _trials(probe, lambda: server.send(trigger), lambda: server.send(panic), trials)
                )

                def note() -> None:
                    probe.note = (0x90, 36, 127)

                result["midi"] = _percentiles(
                    _trials(probe, note, lambda: server.send(panic), trials, midi=True)
                )
                # a gesture right after a morph change: the mix's pool is new, so the first
                # trigger of a new position plays the reserve's nearest grid point
                rng = np.random.default_rng(1)

                def morph_then_trigger() -> None:
                    x, y = (float(v) for v in rng.uniform(0.05, 0.95, 2))
                    server.send(_osc("/morph", x, y))
                    server.send(_osc("/trigger", "mix", 1.0))

                result["morph"] = _percentiles(
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
                result["morph-exact"] = _percentiles(
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


#: One cycle of the stress's messages: 0 trigger, 1-3 morph, 4-6 position, 7-8 jitter, 9 status.
STRESS_PATTERN = (0, 1, 4, 7, 9, 2, 5, 8, 3, 6)


def _steal_s() -> float | None:
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
    worst = 0
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("# Max Latencies:"):
            worst = max(int(x) for x in parts[3:]) if len(parts) > 3 else 0
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
    return {"wakeups": total, "late_half_block": late_half, "late_block": late_block, "max_us": worst}


def stress(
    model: Path,
    block: int,
    seconds: float,
    rate_hz: float = 500.0,
    log=print,
    pattern=STRESS_PATTERN,
    backend: str = "sounddevice",
    mixer: str = "process",
) -> dict:
    """``rate_hz`` OSC messages/s for ``seconds``: 50 triggers/s of 1.5 s gestures keep the 32
    voices full, the rest are morph, position, jitter and status messages."""
    folder = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    with JackDummy(48000, block, realtime=True, log=folder / "jackd.log") as jack:
        stats = folder / "stats.json"
        extra = ("--backend", backend, "--stats", str(stats))
        if backend == "jack":
            extra += ("--mixer", mixer)
        server = start_server(model, jack, block, midi=False, extra=extra)
        probe = Probe(jack.name, listen=False)  # out of the graph: only the server plays
        try:
            time.sleep(0.5)
            idle_start = probe.xruns
            time.sleep(min(5.0, seconds / 4))
            idle = probe.xruns - idle_start
            rng = np.random.default_rng(0)
            cats = model_categories(model)
            before, sent, voices = probe.xruns, 0, []
            steal0 = _steal_s()
            floor = PlatformFloor(seconds)
            start = time.perf_counter()
            stop_at = start + seconds
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    break
                due = start + sent / rate_hz
                if due > now:
                    time.sleep(due - now)
                k = pattern[sent % len(pattern)]
                if k == 0:
                    msg = _osc(
                        "/trigger",
                        cats[int(rng.integers(len(cats)))],
                        float(rng.uniform(0.3, 1.0)),
                        float(rng.random()),
                    )
                elif k in (1, 2, 3):
                    msg = _osc("/morph", float(rng.random()), float(rng.random()))
                elif k in (4, 5, 6):
                    msg = _osc("/position", float(rng.random()))
                elif k in (7, 8):
                    msg = _osc("/latent/jitter", float(rng.uniform(0, 1)))
                else:
                    msg = _osc("/status")
                server.send(msg)
                sent += 1
                if sent % int(rate_hz) == 0:
                    voices.append(_voices_from_replies(server))
            elapsed = time.perf_counter() - start
            xruns = probe.xruns - before
            steal1 = _steal_s()
            machine = floor.result(block / 48000)
            status = server.status()
            result = {
                "block": block,
                "seconds": elapsed,
                "messages": sent,
                "messages_per_s": sent / elapsed,
                "xruns_jack": xruns,
                "xruns_idle_baseline": idle,
                "idle_seconds": min(5.0, seconds / 4),
                "xruns_server": status.get("xruns") if status else None,
                # on a virtual machine: processor time the hypervisor gave to someone else meanwhile
                "steal_s": None if steal0 is None or steal1 is None else steal1 - steal0,
                # the machine's own real-time floor meanwhile (cyclictest): wakeups of an idle
                # SCHED_FIFO thread later than a block
                "platform": machine,
                "jack_realtime": jack.is_realtime(),
                "voices_median": float(np.median([v for v in voices if v is not None])) if voices else None,
                "server_status": status,
                "rss_mb": server.rss_mb(),
                "pss_mb": server.pss_mb(),
                "processes": len(server.pids()),
                "torch_in_server": server.has_torch(),
            }
        finally:
            probe.close()
            server.stop()
    if stats.is_file():  # the server's own counters and callback timing, written as it stopped
        result["server_stats"] = json.loads(stats.read_text())
        timing = result["server_stats"].get("audio")
        if timing and "entry_p99_blocks" in timing:
            log(
                f"  callback start into the cycle p50/p99/p99.9/max {timing['entry_p50_blocks']:.2f}/"
                f"{timing['entry_p99_blocks']:.2f}/{timing['entry_p99.9_blocks']:.2f}/"
                f"{timing['entry_max_blocks']:.2f} blocks; ran p50/p99/p99.9/max {timing['took_p50_ms']:.2f}/"
                f"{timing['took_p99_ms']:.2f}/{timing['took_p99.9_ms']:.2f}/{timing['took_max_ms']:.2f} ms"
            )
    result["backend"] = backend
    result["mixer"] = mixer if backend == "jack" else None
    result["jackd_says"] = jackd_xruns((folder / "jackd.log").read_text(errors="replace"))
    log(f"  jackd's own account of the xruns: {result['jackd_says']}")
    if result.get("platform"):
        f = result["platform"]
        log(
            f"  the machine meanwhile (cyclictest, SCHED_FIFO wakeups every 1 ms): {f['late_block']} of "
            f"{f['wakeups']} later than a block, {f['late_half_block']} later than half a block, latest "
            f"{f['max_us'] / 1000:.2f} ms"
        )
    log(
        f"stress @{block}: {result['messages']} messages in {result['seconds']:.0f} s "
        f"({result['messages_per_s']:.0f}/s), voices median {result['voices_median']}, "
        f"xruns {result['xruns_jack']} (JACK), {result['xruns_server']} (server), idle baseline "
        f"{result['xruns_idle_baseline']} in {result['idle_seconds']:.0f} s; server RSS {result['rss_mb']:.0f} MB "
        f"(PSS {result['pss_mb'] or 0:.0f} MB, {result['processes']} processes), "
        f"torch loaded: {result['torch_in_server']}, JACK realtime: {result['jack_realtime']}, "
        f"steal {result['steal_s']} s"
    )
    return result


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


def _voices_from_replies(server: ServerProcess) -> int | None:
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


def machine() -> dict:
    import onnxruntime

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
    }


def idle(model: Path, block: int, seconds: float, log=print, mixer: str = "process") -> dict:
    """The xruns of a running engine with nothing to play, for ``seconds``, beside the machine's
    floor (cyclictest) and jackd's account: the baseline any stress figure is read against."""
    folder = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    with JackDummy(48000, block, realtime=True, log=folder / "jackd.log") as jack:
        extra = ("--backend", "jack", "--mixer", mixer, "--stats", str(folder / "stats.json"))
        server = start_server(model, jack, block, midi=False, extra=extra)
        probe = Probe(jack.name, listen=False)
        try:
            time.sleep(1.0)
            before, steal0 = probe.xruns, _steal_s()
            floor = PlatformFloor(seconds)
            time.sleep(seconds)
            result = {
                "block": block,
                "seconds": seconds,
                "mixer": mixer,
                "xruns_jack": probe.xruns - before,
                "steal_s": None if steal0 is None else (_steal_s() or steal0) - steal0,
                "platform": floor.result(block / 48000),
                "jack_realtime": jack.is_realtime(),
            }
        finally:
            probe.close()
            server.stop()
    stats = folder / "stats.json"
    if stats.is_file():
        result["audio"] = json.loads(stats.read_text()).get("audio")
    result["jackd_says"] = jackd_xruns((folder / "jackd.log").read_text(errors="replace"))
    log(
        f"idle @{block}: {result['xruns_jack']} xruns in {seconds:.0f} s with nothing to play; jackd: "
        f"{result['jackd_says']}; the machine: {result['platform']}"
    )
    return result


def run(
    model: Path,
    blocks=(128, 256),
    trials: int = 100,
    stress_seconds: float = 60.0,
    stress_blocks=(256, 128),
    batches=(1, 16, 64),
    baselines=None,
    log=print,
    backend: str = "jack",
    mixers=("process", "thread"),
    beside: Path | None = None,
    audio: bool = True,
) -> dict:
    """Everything ``gesturegan bench`` measures, as one dict.

    ``mixers``: with the JACK backend, the stress runs once per mixer placement (the audio
    callback in a process of its own, or in the engine's), one after the other.

    ``baselines``: a callable returning rows (the PyTorch and SpecGAN baselines, measured by
    ``gesturegan.export.benchmark``: that room needs torch, so the caller brings it)."""
    result: dict = {"machine": machine(), "model": str(model)}
    if beside is not None:
        log(f"generation (onnxruntime), {Path(model).name} beside {Path(beside).name}, interleaved:")
        result["beside"] = str(beside)
        result["generation"] = generation_side_by_side([Path(model), Path(beside)], batches)
    else:
        log(f"generation (onnxruntime, {Path(model).name}):")
        result["generation"] = generation(model, batches)
    for r in result["generation"]:
        log(_gen_line(r))
    if baselines is not None:
        result["baselines"] = baselines()
    result["backend"] = backend
    if not audio:
        result["latency"], result["stress"] = [], []
        return result
    result["latency"] = [latency(model, b, trials, log=log, backend=backend) for b in blocks]
    placements = mixers if backend == "jack" else ("thread",)
    result["stress"] = [
        stress(model, b, stress_seconds, log=log, backend=backend, mixer=m)
        for b in stress_blocks
        for m in placements
    ]
    return result


def _gen_line(r: dict) -> str:
    return (
        f"  {r['family']:8s} {r['engine']:11s} {r['device']:4s} batch {r['batch']:3d}: {r['ms_per_gesture']:8.2f} ms/gesture "
        f"(median call {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f}), {r['realtime_factor']:8.1f}x real time"
    )


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Machine: {m['processor']}, {m['cpus']} CPUs, {m['platform']}, onnxruntime {m['onnxruntime']}.",
        "",
        "| model | engine | device | batch | ms per gesture | median call ms | p99 call ms | x real time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = list(result["generation"])
    if isinstance(result.get("baselines"), list):
        rows += [dict(r, model=f"{r['family']} (default config)") for r in result["baselines"]]
    for r in rows:
        name = r.get("model", r["family"])
        lines.append(
            f"| {name} | {r['engine']} | {r['device']} | {r['batch']} | {r['ms_per_gesture']:.2f} | "
            f"{r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['realtime_factor']:.0f} |"
        )
    if not result["latency"] and not result["stress"]:  # --no-audio
        return "\n".join(lines)
    lines += [
        "",
        "| trigger to sound | block | p50 frames | p50 ms | p50 blocks | p99 frames | p99 ms | p99 blocks | max frames | trials |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lat in result["latency"]:
        for path in ("floor", "osc", "midi", "morph", "morph-exact"):
            r = lat.get(path, {})
            if r.get("n"):
                lines.append(
                    f"| {path} | {lat['block']} | {r['p50']:.0f} | {r['p50_ms']:.2f} | {r['p50_blocks']:.2f} | "
                    f"{r['p99']:.0f} | {r['p99_ms']:.2f} | {r['p99_blocks']:.2f} | {r['max']:.0f} | {r['n']} |"
                )
    lines += [
        "",
        "| stress | mixer | block | seconds | messages/s | voices (median) | xruns (JACK) | of them the engine's callback late | "
        "callback start max (blocks) | callback ran p99.9 / max ms | idle xruns | machine: wakeups later than a block | "
        "steal s | server RSS / PSS MB | torch in server | JACK realtime |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in result["stress"]:
        t = (s.get("server_stats") or {}).get("audio") or {}
        ours = t.get("xruns_ours", "n/a")
        entry = f"{t['entry_max_blocks']:.2f}" if "entry_max_blocks" in t else "n/a"
        took = f"{t['took_p99.9_ms']:.2f} / {t['took_max_ms']:.2f}" if "took_max_ms" in t else "n/a"
        steal = "n/a" if s.get("steal_s") is None else f"{s['steal_s']:.2f}"
        f = s.get("platform")
        machine_late = (
            "n/a" if not f else f"{f['late_block']} of {f['wakeups']} (max {f['max_us'] / 1000:.1f} ms)"
        )
        pss = "n/a" if s.get("pss_mb") is None else f"{s['pss_mb']:.0f}"
        lines.append(
            f"| 32 voices, 500 msg/s | {s.get('mixer') or 'n/a'} | {s['block']} | {s['seconds']:.0f} | "
            f"{s['messages_per_s']:.0f} | {s['voices_median']} | "
            f"{s['xruns_jack']} | {ours} | {entry} | {took} | {s['xruns_idle_baseline']} in {s['idle_seconds']:.0f} s | "
            f"{machine_late} | {steal} | {s['rss_mb']:.0f} / {pss} | {s['torch_in_server']} | {s['jack_realtime']} |"
        )
    return "\n".join(lines)
