"""The mixer process itself: the player and an output (our JACK client or PortAudio) alone in a
process, fed by command records, answering with reply records."""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from types import SimpleNamespace

import numpy as np

from gesturegan.server.audio.backends import AUDIO_SWITCH_S, AudioError
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
    LOST,
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
    REPLY_RING,
    ROW,
    SEND_MAX,
    SEND_RECORDS,
    SEND_SLOW,
    SEND_WRITES,
    SLOW_S,
    SOUNDING,
    SPARE_ROWS,
    START,
    STATE,
    STOLEN,
    XRUNS,
    XRUNS_OURS,
    _save_links,
    _views,
    command_dtype,
    decode_action,
)
from gesturegan.server.core.blockring import push_block
from gesturegan.server.core.scheduler import Scheduler
from gesturegan.server.core.voices import VoiceBank


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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("gesturegan's mixer process is started by `gesturegan serve`, not by hand", file=sys.stderr)
        return 2
    return run_mixer(json.loads(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
