"""The engine's side of the mixer process: ``MixerProcess`` starts, feeds, watches and replaces it,
and is the engine's ``AudioSide`` (core/audio_side.py) for it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import asdict

import numpy as np

from gesturegan.server.audio.backends import AudioError
from gesturegan.server.audio.mixer.protocol import (
    CALLBACKS,
    CLOCK,
    END,
    FAULTS,
    FEED_MAX,
    FEED_SLOW,
    LATE,
    LATE_MAX,
    LOSSES,
    MASTER,
    PENDING,
    RAN,
    READY,
    REC_OVERFLOWS,
    REC_READ,
    RECEIVED,
    RECORDED,
    REFUSED,
    REPLY,
    ROW,
    SEND_MAX,
    SEND_SLOW,
    SOUNDING,
    SPARE_ROWS,
    START,
    STATE,
    STOLEN,
    TIMING_RING,
    XRUNS,
    XRUNS_OURS,
    _layout,
    _load_links,
    _shared_dir,
    _views,
    encode_action,
)
from gesturegan.server.core.actions import Action, Play, kind_of
from gesturegan.server.core.voices import VoiceBank


class _RemoteVoices:
    """The engine's view of the mixer's voices: staging into the shared arena, the figures."""

    def __init__(self, bank: VoiceBank, stats: np.ndarray):
        self.bank, self._stats = bank, stats
        self.max_len, self.free_rows = bank.max_len, bank.free_rows

    def stage(self, gesture: np.ndarray) -> int | None:
        return self.bank.stage(gesture)

    def release_row(self, row: int | None) -> None:
        self.bank.release_row(row)

    @property
    def sounding(self) -> int:
        return int(self._stats[SOUNDING])

    @property
    def stolen(self) -> int:
        return int(self._stats[STOLEN])


class _RemoteStats:
    def __init__(self, stats: np.ndarray):
        self._stats = stats

    @property
    def late(self) -> int:
        return int(self._stats[LATE])

    @property
    def late_frames_max(self) -> int:
        return int(self._stats[LATE_MAX])


class _RemoteScheduler:
    """The engine's scheduler, as seen from the engine: ``submit`` sends the action down the pipe."""

    def __init__(self, link: MixerProcess):
        self._link = link
        self.stats = _RemoteStats(link.stats)

    def submit(self, frame: int, action: Action) -> None:
        self._link.send(frame, action)

    def pending(self) -> int:
        """Actions sent and not yet played (approximate: the mixer's count is a block old)."""
        st = self._link.stats
        return max(0, self._link.sent - int(st[RECEIVED])) + int(st[PENDING])


class MixerProcess:
    """The audio side in a process of its own, playing through JACK (``backend="jack"``, our own
    client) or PortAudio (``backend="sounddevice"``: ``device``, ``hostapi``, and the engine's
    ``samplerate`` and ``blocksize``, which JACK decides for itself).

    Create it first (with JACK it asks the server for its rate and block size), build the
    engine with ``Engine(model, cfg, mixer=this)`` (the engine calls ``open``), then ``bind``
    and ``start``. It has the figures of an audio output: ``xruns``, ``callbacks``, ``timing()``.
    POSIX only (the pipes are handed to the child with ``pass_fds``).
    """

    def __init__(
        self,
        channels: int = 2,
        name: str = "gesturegan",
        server: str | None = None,
        connect: bool = True,
        log=None,
        start_timeout: float = 20.0,
        backend: str = "jack",
        device: int | None = None,
        hostapi: str | None = None,
        samplerate: int | None = None,
        blocksize: int | None = None,
    ):
        if os.name != "posix":
            raise AudioError("the mixer process needs a POSIX system; use --mixer thread")
        self.channels, self.name, self.server, self.connect = channels, name, server, connect
        self.backend, self.device, self.hostapi = backend, device, hostapi
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.start_timeout = start_timeout
        if backend == "jack":
            self.samplerate, self.blocksize = _probe(server)
        else:
            self.samplerate, self.blocksize = samplerate, blocksize
        self.engine = None
        self.clock = None
        self.recording = None
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._xruns_before = 0  # xruns counted by mixers that died
        self.sent = 0
        self.frame = 0
        self.state = "starting"
        self._names: OrderedDict[int, str] = OrderedDict()  # action id -> voice name, till it starts
        self._send_lock = threading.Lock()
        self._ready = threading.Event()
        self._closing = False
        self._cmd_w: int | None = None
        self._reader: threading.Thread | None = None
        self._shm_fd: int | None = None

    # -- the engine calls these ------------------------------------------------------------------
    def open(self, engine, fade: int, max_len: int):
        """The shared file for ``engine``'s geometry; returns this, the engine's ``AudioSide``."""
        cfg = engine.cfg
        self.spec = {
            "engine": asdict(cfg),
            "max_voices": cfg.max_voices,
            "channels": cfg.channels,
            "block": cfg.block,
            "fade": fade,
            "max_len": max_len,
            "sample_rate": cfg.sample_rate,
            "name": self.name,
            "server": self.server,
            "connect": self.connect,
            "backend": self.backend,
            "device": self.device,
            "hostapi": self.hostapi,
        }
        _, size = _layout(self.spec)
        # The file is unlinked at once and lives on through its descriptor (handed to each mixer
        # with pass_fds): a crash of either process leaves nothing behind in /dev/shm.
        fd, path = tempfile.mkstemp(prefix="gesturegan-mixer-", dir=_shared_dir())
        os.unlink(path)
        os.ftruncate(fd, size)
        self._shm_fd = fd
        self.views = _views(fd, self.spec)
        for view in self.views.values():
            # Write every page now: a hole in the file is the zero page until someone writes to
            # it, and the mixer would fault on its first read after the engine's first write.
            view.fill(0)
        self.stats = self.views["stats"]
        self.stats[MASTER] = 1.0
        bank = VoiceBank(
            cfg.max_voices,
            cfg.channels,
            cfg.block,
            fade,
            max_len=max_len,
            spare_rows=SPARE_ROWS,
            arena=self.views["arena"],
            row_len=self.views["row_len"],
        )
        self.engine = engine
        self.voices, self.scheduler = _RemoteVoices(bank, self.stats), _RemoteScheduler(self)
        return self

    # -- the AudioSide protocol (core/audio_side.py) besides voices, scheduler, frame, master ------
    staged_only = True  # the mixer reads gestures from the arena only
    action_log = None  # the frames actions ran at come back through the reply pipe, into engine.log

    def process(self, out: np.ndarray) -> None:
        raise RuntimeError("this engine's audio side runs in the mixer process")

    @property
    def master(self) -> float:
        return float(self.stats[MASTER])

    @property
    def record_ring(self) -> np.ndarray:
        return self.views["record"]

    def send(self, frame: int, action: Action) -> None:
        """One action down the pipe (any control thread; one write, so records never interleave)."""
        if type(action) is Play:
            self._names[action.id] = action.name
            while len(self._names) > 16384:  # plays a panic dropped never report back
                self._names.popitem(last=False)
        data = encode_action(frame, action, self.channels)
        with self._send_lock:  # the counter and the write together
            fd = self._cmd_w
            try:
                if fd is None:
                    raise BrokenPipeError
                os.write(fd, data)
                self.sent += 1
                return
            except BlockingIOError:  # the mixer has not read a pipe-full (64 kB) of actions: stalled
                reason = "the audio process is not keeping up; action dropped"
            except OSError:  # the mixer is gone; the reader starts a new one
                reason = "the audio process is restarting; action dropped"
        engine = self.engine
        engine.counts.add("dropped", 1)
        engine.replies.append(("/error", f"/{kind_of(action)}", reason))
        if type(action) is Play:
            self._names.pop(action.id, None)
            engine.voices.release_row(action.row)

    # -- the audio output's interface ---------------------------------------------------------------
    def bind(self, engine, clock, recording=None) -> MixerProcess:
        """Replies to ``clock`` (timetags) and ``engine``; the blocks to ``recording`` (made with
        ``ring=self.record_ring``), if any."""
        self.clock, self.recording = clock, recording
        self.spec["record"] = recording is not None
        if recording is not None:
            recording.on_read = self._publish_read
        return self

    def _publish_read(self, frames: int) -> None:
        self.stats[REC_READ] = frames

    def start(self) -> MixerProcess:
        self._spawn()
        if not self._ready.wait(self.start_timeout) or self.proc.poll() is not None:
            code = self.proc.poll()
            self.close()
            raise AudioError(
                f"the mixer process did not start (exit code {code}); see the lines above, or use "
                "--mixer thread"
            )
        return self

    def _spawn(self) -> None:
        cmd_r, cmd_w = os.pipe()
        reply_r, reply_w = os.pipe()
        spec = dict(self.spec, cmd_fd=cmd_r, reply_fd=reply_w, shm_fd=self._shm_fd, frame=self.frame)
        if self.recording is not None:
            spec["record_from"] = self.recording.written
        # One BLAS thread: the mix's small matrix product must never fan out to a thread pool.
        env = dict(os.environ, PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gesturegan.server.audio.mixer", json.dumps(spec)],
            pass_fds=(cmd_r, reply_w, self._shm_fd),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(reply_w)
        os.set_blocking(cmd_w, False)  # a stalled mixer refuses actions; it never blocks OSC
        with self._send_lock:
            self._cmd_w = cmd_w
        self._reader = threading.Thread(
            target=self._read, args=(reply_r, self.proc), name="gesturegan-mixer-replies", daemon=True
        )
        self._reader.start()

    def _read(self, fd: int, proc: subprocess.Popen) -> None:
        """Turn the mixer's replies into the engine's; restart the mixer if it dies."""
        buf = bytearray(REPLY.itemsize * 1024)
        recs = np.frombuffer(buf, REPLY)
        pending = b""
        while True:
            try:
                n = os.readv(fd, [buf])
            except OSError:
                n = 0
            if n == 0:
                break
            data = pending + bytes(buf[:n]) if pending else None
            if data is not None:  # a record split across reads (writes above PIPE_BUF)
                whole = len(data) // REPLY.itemsize * REPLY.itemsize
                rows, pending = np.frombuffer(data[:whole], REPLY), data[whole:]
            else:
                whole = n // REPLY.itemsize * REPLY.itemsize
                rows, pending = recs[: whole // REPLY.itemsize], bytes(buf[whole:n])
            for tag, a, b, x in rows.tolist():
                self._apply(tag, a, b, x)
        os.close(fd)
        if self._closing:
            return
        code = proc.wait()
        self._lost(f"the mixer process ended (exit code {code}); starting a new one")

    def _apply(self, tag: int, a: int, b: int, x: float) -> None:
        engine = self.engine
        if tag == CLOCK:
            self.clock.anchor = (a, x)
            self.frame = b
            engine.counts["xruns"] = int(self.stats[XRUNS]) + self._xruns_before
        elif tag == RECORDED:
            if self.recording is not None:
                self.recording.written = a
        elif tag == START:
            engine.replies.append(("/voice/start", a, self._names.pop(b, "mix")))
        elif tag == END:
            engine.replies.append(("/voice/end", a))
        elif tag == RAN:
            if engine.log is not None:
                engine.log.append(("ran", a, b))
        elif tag == ROW:
            engine.voices.free_rows.append(a)
        elif tag == REFUSED:
            engine.counts.add("dropped", 1)
            engine.replies.append(("/error", "/trigger", "too many gestures waiting to start"))
        elif tag == STATE:
            self.state = "running" if a else "lost"
            engine.replies.append(("/audio/state", self.state))
            if not a:
                msg = "the JACK server is gone; the engine goes on and reconnects when it is back"
                engine.replies.append(("/error", "/audio", msg))
        elif tag == READY:
            self.samplerate, self.blocksize = a, b
            self.state = "running"
            self._ready.set()

    def _lost(self, msg: str) -> None:
        """The mixer died: report it, give every row back, start a new one."""
        self.log(f"gesturegan: {msg}")
        self.state = "lost"
        engine = self.engine
        engine.replies.append(("/audio/state", "lost"))
        engine.replies.append(("/error", "/audio", msg))
        self._xruns_before += int(self.stats[XRUNS])
        with self._send_lock:
            if self._cmd_w is not None:
                with contextlib.suppress(OSError):
                    os.close(self._cmd_w)
            self._cmd_w = None
            self.sent = 0
        read, links = self.stats[REC_READ], _load_links(self.views)
        self.stats[:] = 0.0
        self.stats[MASTER], self.stats[REC_READ] = 1.0, read
        self.spec["links"] = links  # the new mixer connects where the old one was connected
        rows = engine.voices.free_rows
        rows.clear()
        rows.extend(range(self.views["arena"].shape[0]))
        self.restarts += 1
        time.sleep(0.5)  # a mixer that dies at once must not spin
        if self._closing:
            return
        self._ready.clear()
        self._spawn()
        if self._ready.wait(self.start_timeout):
            engine.replies.append(("/audio/state", "running"))
            self.log("gesturegan: a new mixer process plays")

    # -- figures ---------------------------------------------------------------------------------
    @property
    def xruns(self) -> int:
        return int(self.stats[XRUNS]) + self._xruns_before

    @property
    def callbacks(self) -> int:
        return int(self.stats[CALLBACKS])

    def timing(self) -> dict:
        """As ``JackOutput.timing``, read from the mixer's shared figures."""
        from gesturegan.server.audio.jack import timing_summary

        st = self.stats
        out = {
            "callbacks": self.callbacks,
            "xruns": self.xruns,
            "xruns_ours": int(st[XRUNS_OURS]),
            "faults": int(st[FAULTS]),
            "losses": int(st[LOSSES]),
            "state": self.state,
            "mixer": "process",
            "backend": self.backend,
            "mixer_restarts": self.restarts,
            "record_overflows": int(st[REC_OVERFLOWS]),
            # the callback's pipe work: reading actions, sending replies (slowest, and > 1 ms)
            "feed_max_ms": float(st[FEED_MAX]) * 1e3,
            "send_max_ms": float(st[SEND_MAX]) * 1e3,
            "feed_slow": int(st[FEED_SLOW]),
            "send_slow": int(st[SEND_SLOW]),
        }
        if self.backend != "jack":  # PortAudio's callbacks are not timed
            return out
        n = min(self.callbacks, TIMING_RING)
        v, cfg = self.views, self.engine.cfg
        where = (v["cpu"][:n], v["slept"][:n], v["pushed"][:n])
        return out | timing_summary(v["entry"][:n], v["took"][:n], cfg.block, cfg.sample_rate, where)

    def close(self) -> None:
        self._closing = True
        with self._send_lock:
            if self._cmd_w is not None:
                with contextlib.suppress(OSError):
                    os.close(self._cmd_w)  # the mixer sees the end of its pipe and stops
                self._cmd_w = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._shm_fd is not None:
            os.close(self._shm_fd)  # the mapping stays valid; the memory goes with the last one
            self._shm_fd = None


PROBE = """
import sys, jack
try:
    client = jack.Client("gesturegan-probe", servername=sys.argv[1] or None, no_start_server=True)
except Exception as e:
    print("error", e, flush=True)
    sys.exit(1)
print(client.samplerate, client.blocksize, flush=True)
client.close()
"""


def _probe(server: str | None) -> tuple[int, int]:
    """The JACK server's sample rate and block size, asked by a client in a short-lived process:
    this process then holds no JACK client of its own (libjack with clients of two servers in
    one process crashes, and the engine's process needs none)."""
    try:
        res = subprocess.run(
            [sys.executable, "-c", PROBE, server or ""], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AudioError(f"could not ask the JACK server for its rate ({e})") from e
    words = res.stdout.split()
    if res.returncode != 0 or len(words) != 2:
        reason = res.stdout.strip() or res.stderr.strip().splitlines()[-1:] or "no answer"
        if "libjack" in res.stderr or "OSError" in res.stderr:
            raise AudioError("libjack is missing; install JACK (jackd2) or use --backend sounddevice")
        raise AudioError(
            f"no JACK server{' ' + repr(server) if server else ''} to connect to ({reason}); start one "
            "(jackd -d dummy -r 48000 -p 128, or a real driver) or use --backend sounddevice"
        )
    return int(words[0]), int(words[1])
