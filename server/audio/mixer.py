"""The mixer process: the engine's audio side alone in a process of its own, playing through its
own JACK client or a PortAudio stream.

Why a process: CPython runs one thread at a time per process. In one process the audio
callback shares the interpreter lock with the OSC, MIDI and worker threads; whenever numpy
lets go of the lock inside the mix, a control thread may take it and the callback waits. Under
load that wait made xruns (``docs/benchmarks/stress-runs.md``). The mixer process runs nothing
but the callback (and a supervisor that wakes every half second), so nobody else wants its lock.

What crosses between the two processes:

- **Gestures** go through shared memory: the engine stages each one into a free row of the
  voice arena (a file mapped by both) before it schedules the start, exactly as in one process.
- **Actions** (play, stop, panic, gain, rate) go down a pipe as fixed-size binary records
  (``command_dtype``), one ``os.write`` each (atomic: far below ``PIPE_BUF``), so any control thread may
  send. The callback reads whatever arrived with one non-blocking ``os.readv`` into a
  preallocated buffer at the start of each block.
- **Replies** come back up a second pipe (``REPLY`` records): the clock stamp of each block
  (frame, wall time, frames recorded), voice starts and ends, the frame each action ran at,
  arena rows to free, the JACK server's state. They wait in a ring and go out a few writes per
  block at most. A reader thread in the engine's process turns them into OSC replies, the
  recording's log and free rows.
- **Figures** (callbacks, xruns, voices sounding, late actions, callback timing) are plain
  numbers in the shared file, written by the mixer, read on demand.

A pipe's system calls order memory on every architecture, so a row staged before its record is
written is complete when the mixer reads the record; nothing relies on x86's store order.

The mixer ends when the engine's end of the command pipe closes (the engine quit or died). If
the mixer dies, the engine says so (``/audio/state lost``), starts a new one and goes on.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np

from gesturegan.server.audio.backends import AUDIO_SWITCH_S, AudioError
from gesturegan.server.core.actions import Action, Gain, Panic, Play, Rate, Stop, kind_of
from gesturegan.server.core.blockring import push_block
from gesturegan.server.core.scheduler import Scheduler
from gesturegan.server.core.voices import VoiceBank

TIMING_RING = 1 << 16
RECORD_SECONDS = 8.0  # the recording's ring (as server/audio/record.py)
SPARE_ROWS = 16
REPLY_RING = 8192  # replies waiting for the engine to read them (~20 s of blocks when it stalls)
SEND_RECORDS = 128  # records per write: 4 kB, PIPE_BUF
SEND_WRITES = 4  # writes per block at most: a backlog drains over several blocks
LINKS_BYTES = 16384  # the JACK connections, as JSON, for a mixer that replaces a dead one

# Command kinds and reply tags (the first field of each record).
PLAY, STOP, PANIC, GAIN, RATE = 1, 2, 3, 4, 5
KINDS = {Play: PLAY, Stop: STOP, Panic: PANIC, Gain: GAIN, Rate: RATE}
CLOCK, START, END, RAN, ROW, REFUSED, STATE, READY, RECORDED = 1, 2, 3, 4, 5, 6, 7, 8, 9

REPLY = np.dtype([("tag", "<i8"), ("a", "<i8"), ("b", "<i8"), ("x", "<f8")])

# Slots of the shared figures (float64). The mixer writes all but REC_READ.
(
    CALLBACKS,
    XRUNS,
    XRUNS_OURS,
    FAULTS,
    LOSSES,
    LOST,
    SOUNDING,
    LATE,
    LATE_MAX,
    RECEIVED,
    PENDING,
    MASTER,
    REC_OVERFLOWS,
    REC_READ,
    STOLEN,
    LINKS_LEN,
    FEED_MAX,
    SEND_MAX,
    FEED_SLOW,
    SEND_SLOW,
) = range(20)
N_STATS = 24
SLOW_S = 1e-3  # a pipe call slower than this is counted (it should take microseconds)


def command_dtype(channels: int) -> np.dtype:
    """One action: kind, frame, action id, arena row, a value (velocity, gain, rate, voice) and
    the speaker gains ``[channels]`` (a staged row's length is in the shared file)."""
    return np.dtype(
        [
            ("kind", "<i8"),
            ("frame", "<i8"),
            ("id", "<i8"),
            ("row", "<i8"),
            ("value", "<f8"),
            ("pan", "<f4", (channels,)),
        ]
    )


def encode_action(frame: int, action: Action, channels: int) -> bytes:
    """An engine action (core/actions.py) as one command record (control side)."""
    rec = np.zeros(1, command_dtype(channels))[0]
    rec["kind"], rec["frame"], rec["id"] = KINDS[type(action)], frame, action.id
    if type(action) is Play:  # the samples are in the arena already, at ``row``
        rec["row"], rec["value"], rec["pan"] = action.row, action.velocity, action.pan
    elif type(action) is Stop:
        rec["value"] = -1 if action.voice is None else action.voice
    elif type(action) is Gain:
        rec["value"] = action.gain
    elif type(action) is Rate:
        rec["value"] = action.rate
    return rec.tobytes()


def decode_action(rec) -> tuple[int, Action]:
    """A command record as ``(frame, action)`` for the mixer's scheduler; a play's name is its
    action id (the engine names the voice when the start comes back)."""
    kind, frame, action_id = int(rec["kind"]), int(rec["frame"]), int(rec["id"])
    if kind == PLAY:
        return frame, Play(
            action_id, None, float(rec["value"]), rec["pan"].copy(), action_id, int(rec["row"])
        )
    if kind == STOP:
        voice = int(rec["value"])
        return frame, Stop(action_id, None if voice < 0 else voice)
    if kind == PANIC:
        return frame, Panic(action_id)
    if kind == GAIN:
        return frame, Gain(action_id, float(rec["value"]))
    if kind == RATE:
        return frame, Rate(action_id, float(rec["value"]))
    raise ValueError(f"unknown command kind {kind}")


# -- the shared file -------------------------------------------------------------------------


def _layout(spec: dict) -> tuple[dict, int]:
    """Byte offsets of each array in the shared file, and its size (each array 64-byte aligned)."""
    rows, row_len = VoiceBank.arena_shape(spec["max_voices"], spec["block"], spec["max_len"], SPARE_ROWS)
    ring = int(RECORD_SECONDS * spec["sample_rate"])
    parts = [
        ("stats", np.float64, (N_STATS,)),
        ("row_len", np.int64, (rows,)),
        ("entry", np.float32, (TIMING_RING,)),
        ("took", np.float32, (TIMING_RING,)),
        ("cpu", np.float32, (TIMING_RING,)),
        ("slept", np.int16, (TIMING_RING,)),
        ("pushed", np.int16, (TIMING_RING,)),
        ("links", np.uint8, (LINKS_BYTES,)),
        ("record", np.float32, (ring, spec["channels"])),
        ("arena", np.float32, (rows, row_len)),
    ]
    out, at = {}, 0
    for name, dtype, shape in parts:
        out[name] = (at, dtype, shape)
        at += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64
    return out, at


def _views(source: str | int, spec: dict) -> dict[str, np.ndarray]:
    """Every array of the shared file ``source`` (a path, or an open descriptor), mapped."""
    layout, size = _layout(spec)
    if isinstance(source, int):  # the mapping outlives the file object (and the descriptor)
        with os.fdopen(os.dup(source), "r+b") as f:
            mm = np.memmap(f, np.uint8, mode="r+", shape=(size,))
    else:
        mm = np.memmap(source, np.uint8, mode="r+", shape=(size,))
    return {
        name: mm[at : at + int(np.prod(shape)) * np.dtype(dtype).itemsize].view(dtype).reshape(shape)
        for name, (at, dtype, shape) in layout.items()
    }


def _shared_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


# -- the mixer process -----------------------------------------------------------------------


class Mixer:
    """The mixer process's side: reads actions before each block, sends replies after it."""

    def __init__(self, spec: dict, views: dict[str, np.ndarray], cmd_fd: int, reply_fd: int):
        from gesturegan.server.core.player import Player

        self.cmd_fd, self.reply_fd = cmd_fd, reply_fd
        os.set_blocking(cmd_fd, False)
        os.set_blocking(reply_fd, False)
        self.stats = views["stats"]
        self.cfg = SimpleNamespace(**spec["engine"])  # EngineConfig's fields (no engine import here)
        self.voices = VoiceBank(
            spec["max_voices"],
            spec["channels"],
            spec["block"],
            spec["fade"],
            max_len=spec["max_len"],
            spare_rows=SPARE_ROWS,
            arena=views["arena"],
            row_len=views["row_len"],
        )
        self.voices.free_rows.clear()  # rows belong to the engine: a start without one is refused
        self.freed: deque[int] = deque()
        self.voices.on_release = self.freed.append
        self.scheduler = Scheduler()
        self.player = Player(self.voices, self.scheduler, self.cfg, feed=self.feed)
        self.player.log = deque()  # the frame each action ran at goes back to the engine
        self.record = views["record"]
        self.recording = bool(spec.get("record"))
        # A mixer started after another died goes on from its frame and its place in the recording.
        self.written = int(spec.get("record_from", 0))
        self.player.frame = int(spec.get("frame", 0))
        self.eof = threading.Event()
        cmd = command_dtype(spec["channels"])
        self._in = bytearray(cmd.itemsize * 64)
        self._in_recs = np.frombuffer(self._in, cmd)
        # Replies wait in a ring until the pipe takes them: a stalled engine delays them, a burst
        # never costs one block more than a few writes (see _send).
        self._ring = np.zeros(REPLY_RING, REPLY)
        self._ring_bytes = memoryview(self._ring).cast("B")
        self._head = self._tail = 0  # records written, records sent
        self.replies_dropped = 0
        self.output = None  # the JackOutput or SoundDeviceOutput, for its figures
        self.jack = spec.get("backend", "jack") == "jack"
        self.clock = None

    def feed(self) -> None:
        """Start of a block: every action that arrived goes to the scheduler (no waiting)."""
        t0 = time.perf_counter()
        self._feed()
        self._took(t0, FEED_MAX, FEED_SLOW)

    def _took(self, t0: float, slot: int, slow: int) -> None:
        took = time.perf_counter() - t0
        if took > self.stats[slot]:
            self.stats[slot] = took
        if took > SLOW_S:
            self.stats[slow] += 1

    def _feed(self) -> None:
        size = self._in_recs.itemsize
        while True:
            try:
                n = os.readv(self.cmd_fd, [self._in])
            except BlockingIOError:
                return
            except OSError:
                n = 0
            if n == 0:  # the engine closed its end: it quit or died
                self.eof.set()
                return
            for rec in self._in_recs[: n // size]:
                try:
                    self.scheduler.submit(*decode_action(rec))
                except ValueError:
                    continue
            self.stats[RECEIVED] += n // size
            if n < len(self._in):
                return

    def after_block(self, block: np.ndarray) -> None:
        """End of a block (the output's tap): record it, send the replies, update the figures."""
        if self.recording:
            self._push(block)
        st, out = self.stats, self.output
        st[CALLBACKS] = out.callbacks + 1
        st[XRUNS] = out.xruns
        if self.jack:  # the JACK output's own figures (PortAudio has none of these)
            st[XRUNS_OURS], st[FAULTS], st[LOSSES] = out.xruns_ours, out.faults, out.losses
            st[LOST] = out.state == "lost"
        st[SOUNDING] = self.voices.sounding
        st[STOLEN] = self.voices.stolen
        st[LATE], st[LATE_MAX] = self.scheduler.stats.late, self.scheduler.stats.late_frames_max
        st[PENDING] = self.scheduler.pending()
        st[MASTER] = self.player.master
        t0 = time.perf_counter()
        self._send()
        self._took(t0, SEND_MAX, SEND_SLOW)

    def _push(self, block: np.ndarray) -> None:
        if push_block(self.record, self.written, int(self.stats[REC_READ]), block):
            self.written += block.shape[0]
        else:
            self.stats[REC_OVERFLOWS] += 1  # the engine's writer fell behind: drop, never wait

    def _reply(self, tag: int, a: int = 0, b: int = 0, x: float = 0.0) -> None:
        if self._head - self._tail >= REPLY_RING:  # the engine has not read for seconds
            self.replies_dropped += 1
            return
        self._ring[self._head % REPLY_RING] = (tag, a, b, x)
        self._head += 1

    def _send(self) -> None:
        frame, wall = self.clock.anchor  # this block's first frame and when its callback began
        self._reply(CLOCK, frame, self.player.frame, wall)
        if self.recording:
            self._reply(RECORDED, self.written)
        replies, log, freed = self.player.replies, self.player.log, self.freed
        while log:
            _, action_id, at = log.popleft()
            self._reply(RAN, action_id, at)
        while freed:
            self._reply(ROW, freed.popleft())
        while replies:
            r = replies.popleft()
            if r[0] == "/voice/start":
                self._reply(START, r[1], r[2])
            elif r[0] == "/voice/end":
                self._reply(END, r[1])
            elif r[0] == "/audio/state":
                self._reply(STATE, 1 if r[1] == "running" else 0)
            elif r[0] == "/error" and r[1] == "/trigger":
                self._reply(REFUSED)
            # "/error /audio ...": the engine words it from the STATE record
        size = REPLY.itemsize
        for _ in range(SEND_WRITES):
            n = min(self._head - self._tail, SEND_RECORDS)
            start = self._tail % REPLY_RING
            n = min(n, REPLY_RING - start)  # up to the ring's end; the rest next write
            if n <= 0:
                return
            try:
                # at most PIPE_BUF bytes (4 kB, the least POSIX allows): all of it or nothing
                os.write(self.reply_fd, self._ring_bytes[start * size : (start + n) * size])
            except BlockingIOError:  # the engine is not reading (stalled): they wait in the ring
                return
            except OSError:  # the engine is gone
                self.eof.set()
                return
            self._tail += n


def _output(spec: dict, mixer: Mixer, clock, views: dict[str, np.ndarray]):
    """The mixer's audio output, bound to its player, with READY queued for the first block:
    our own JACK client, or a PortAudio stream (sounddevice)."""
    if spec.get("backend", "jack") == "jack":
        from gesturegan.server.audio.jack import JackOutput

        out = JackOutput(spec["name"], spec.get("server"), spec["channels"], connect=spec["connect"])
        # its callback timing goes straight into the shared file
        out._entry, out._took, out._cpu = views["entry"], views["took"], views["cpu"]
        out._slept, out._pushed = views["slept"], views["pushed"]
        if spec.get("links"):  # a dead mixer's connections, where the performer had put them
            out.restore_links(spec["links"])
        out.on_links = lambda links: _save_links(views, links)
        out.bind(mixer.player, clock, tap=mixer.after_block)
        mixer._reply(READY, out.samplerate, out.blocksize)
        return out
    from gesturegan.server.audio.backends import SoundDeviceOutput, find_output

    device = find_output(spec.get("device"), spec.get("hostapi"))
    out = SoundDeviceOutput(mixer.player, clock, device, tap=mixer.after_block)
    mixer._reply(READY, mixer.cfg.sample_rate, mixer.cfg.block)
    return out


def _save_links(views: dict[str, np.ndarray], links: dict[int, list[str]]) -> None:
    """The output's connections into the shared file (the supervisor thread, every change)."""
    data = np.frombuffer(json.dumps(links).encode(), np.uint8)
    if data.size <= LINKS_BYTES:
        views["links"][: data.size] = data
        views["stats"][LINKS_LEN] = data.size


def _load_links(views: dict[str, np.ndarray]) -> dict | None:
    n = int(views["stats"][LINKS_LEN])
    if not 0 < n <= LINKS_BYTES:
        return None
    try:
        return json.loads(views["links"][:n].tobytes())
    except ValueError:
        return None


def run_mixer(spec: dict) -> int:
    """The mixer process's main: an audio output playing the engine's actions until told to stop."""
    from gesturegan.server.audio.clock import AudioClock

    # Ctrl-C and a group's SIGTERM reach this process too: the engine decides when the mixer
    # ends (it closes its pipe; if it is killed outright its pipe closes all the same).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.setswitchinterval(AUDIO_SWITCH_S)
    views = _views(spec["shm_fd"], spec)
    for name in ("arena", "row_len", "record", "entry", "took", "cpu"):  # map every page now
        float(views[name].sum())
    mixer = Mixer(spec, views, spec["cmd_fd"], spec["reply_fd"])
    clock = AudioClock(mixer.cfg.sample_rate)
    mixer.clock = clock
    try:
        out = _output(spec, mixer, clock, views)
    except AudioError as e:
        print(f"gesturegan mixer: {e}", file=sys.stderr, flush=True)
        return 2
    mixer.output = out
    # Nothing in this process makes reference cycles per block; collection would only ever run
    # in the callback, so it is off (what exists now is frozen out of any later collection).
    gc.collect()
    gc.freeze()
    gc.disable()
    out.start()
    parent = os.getppid()
    while not mixer.eof.wait(0.5):
        if os.getppid() != parent:  # orphaned: the engine died without closing its pipe
            break
    out.close()
    return 0


# -- the engine's side -------------------------------------------------------------------------


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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("gesturegan's mixer process is started by `gesturegan serve`, not by hand", file=sys.stderr)
        return 2
    return run_mixer(json.loads(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
