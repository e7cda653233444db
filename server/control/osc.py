"""OSC control over UDP: python-osc's packet codec, the engine's parser, replies for Max.

Datagrams are decoded with ``pythonosc.osc_packet.OscPacket`` (messages and nested bundles);
a bundle's timetag becomes an engine frame through the audio clock, so a timetagged phrase
plays sample-accurately instead of waiting in a sleeping handler. Replies go to a fixed
``udpreceive`` port (Max's ``udpsend`` sends from a random port) and carry only int32,
float32 and strings. ``/error`` replies are rate-limited; every refused packet is counted.
Binds 127.0.0.1 unless told otherwise; ``allow`` lists the sender addresses accepted.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from gesturegan.server.audio.clock import AudioClock
from gesturegan.server.core.ratelimit import TokenBucket
from gesturegan.server.core.scheduler import ScheduleError

if TYPE_CHECKING:  # the mixer process imports this module without onnxruntime
    from gesturegan.server.core.engine import Engine

log = logging.getLogger("gesturegan.osc")


def _not_from_python_osc(record: logging.LogRecord) -> bool:
    """python-osc warns on the root logger for every malformed packet it meets: a flood of bad
    packets would become a flood of log lines (and a blocked stderr). They are counted instead."""
    return "pythonosc" not in record.pathname


INT32 = (-(2**31), 2**31 - 1)


BUNDLE_PREFIX = b"#bundle\x00"
MAX_BUNDLE_DEPTH = 8


def bundle_framing_ok(data: bytes, depth: int = 0) -> bool:
    """Whether a bundle's element sizes are sound: each a positive multiple of 4 that fits,
    nested bundles likewise, at most ``MAX_BUNDLE_DEPTH`` deep. Anything but a bundle passes.

    python-osc trusts the sizes: a negative one sends its parser backwards into the same bytes
    for ever (found by the fuzzer: one 1.6 kB packet held the OSC thread, and every packet
    behind it was lost). Checked before python-osc sees the packet.
    """
    if not data.startswith(BUNDLE_PREFIX):
        return True
    if depth > MAX_BUNDLE_DEPTH or len(data) < 16:
        return False
    i, end = 16, len(data)  # prefix and timetag
    while i < end:
        if i + 4 > end:
            return False
        size = int.from_bytes(data[i : i + 4], "big", signed=True)
        i += 4
        if size <= 0 or size % 4 or i + size > end:
            return False
        if not bundle_framing_ok(data[i : i + size], depth + 1):
            return False
        i += size
    return True


def osc_args(values: Iterable[object]) -> list[tuple[object, str]]:
    """Reply arguments as (value, type tag): int32, float32 or string only (what Max reads)."""
    out = []
    for v in values:
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, bool):
            out.append((int(v), "i"))
        elif isinstance(v, int):
            out.append((v, "i") if INT32[0] <= v <= INT32[1] else (str(v), "s"))
        elif isinstance(v, float):
            out.append((v if np.isfinite(v) else 0.0, "f"))
        else:
            out.append((str(v)[:1024], "s"))
    return out


def encode(address: str, values: Iterable[object]) -> bytes:
    b = OscMessageBuilder(address)
    for value, tag in osc_args(values):
        b.add_arg(value, tag)
    return b.build().dgram


@dataclass
class OscStats:
    packets: int = 0
    messages: int = 0
    undecodable: int = 0  # packets that are not OSC at all
    accepted: int = 0  # messages the engine took
    rejected: int = 0  # undecodable packets and refused messages
    refused_senders: int = 0
    errors_sent: int = 0
    errors_dropped: int = 0  # /error replies over the rate limit
    senders_logged: set = field(default_factory=set)


class OscPortError(OSError):
    """The OSC port cannot be had; the message names it and the option that changes it."""


def open_osc_socket(host: str, port: int) -> socket.socket:
    """The UDP socket OSC arrives on, bound to ``host:port``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # Room for a burst while the OSC thread waits for the interpreter; the kernel caps this
        # at net.core.rmem_max (docs/reliability.md says how to raise it).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise OscPortError(
                f"UDP port {port} on {host} is already in use (another gesturegan serve?): stop it, "
                "or pass --osc-port with a free port"
            ) from e
        if e.errno == errno.EADDRNOTAVAIL or isinstance(e, socket.gaierror):
            raise OscPortError(f"--host {host} is not an address of this machine") from e
        if e.errno == errno.EACCES:
            raise OscPortError(f"UDP port {port} needs privileges here; pass --osc-port 1024 or above") from e
        raise OscPortError(f"cannot listen for OSC on {host}:{port}: {e.strerror or e}") from e
    sock.settimeout(0.1)
    return sock


class OscControl:
    """A UDP socket feeding ``engine``; ``start()`` runs it in a thread, ``close()`` stops it."""

    def __init__(
        self,
        engine: Engine,
        clock: AudioClock,
        host: str = "127.0.0.1",
        port: int = 9000,
        reply_host: str = "127.0.0.1",
        reply_port: int | None = 9001,
        allow: list[str] | None = None,
        errors_per_s: float = 20.0,
        sock: socket.socket | None = None,
    ):
        """``sock``: an already bound socket (``open_osc_socket``), so a taken port is found
        before anything else starts."""
        self.engine, self.clock = engine, clock
        root = logging.getLogger()
        if _not_from_python_osc not in root.filters:
            root.addFilter(_not_from_python_osc)
        self.sock = sock if sock is not None else open_osc_socket(host, port)
        self.port = self.sock.getsockname()[1]
        self.reply_to = (reply_host, reply_port) if reply_port else None
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.allow = set(allow) if allow else None
        self.stats = OscStats()
        self.errors = TokenBucket(errors_per_s)  # /error replies per second
        self._reply_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OscControl:
        self._thread = threading.Thread(target=self._run, name="gesturegan-osc", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sock.close()
        self.out.close()

    def _run(self) -> None:
        # Wait for the first datagram, then drain whatever else has arrived in one go: one
        # interpreter-lock hand-over per burst instead of one per packet keeps a flood from
        # making the audio callback wait.
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            self.handle_datagram(data, addr)
            for _ in range(256):
                try:
                    data, addr = self.sock.recvfrom(65536, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError, TimeoutError):
                    break  # nothing more queued (TimeoutError: the socket's timeout applies too)
                except OSError:
                    return
                self.handle_datagram(data, addr)

    def handle_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Decode one datagram and hand its messages to the engine; never raises."""
        self.stats.packets += 1
        if self.allow is not None and addr[0] not in self.allow:
            self.stats.refused_senders += 1
            if addr[0] not in self.stats.senders_logged:
                self.stats.senders_logged.add(addr[0])
                log.warning("ignored OSC from %s (not in --allow)", addr[0])
            return
        try:
            if not bundle_framing_ok(data):
                raise ValueError("bad bundle element sizes")
            messages = OscPacket(data).messages
        except Exception:  # python-osc raises several types for malformed input
            self.stats.undecodable += 1
            self.stats.rejected += 1
            self._error("?", "malformed OSC packet")
            self.flush_replies()
            return
        now, anchor = time.time(), self.clock.anchor
        for timed in messages:
            self.stats.messages += 1
            at = None
            if timed.time > now:
                try:
                    at = self.clock.frame_at(timed.time, anchor)
                except ScheduleError as e:
                    self.stats.rejected += 1
                    self._error(timed.message.address, str(e))
                    continue
            try:
                accepted = self.engine.message(timed.message.address, timed.message.params, at)
            except Exception as e:  # a bug must not take the control thread down
                log.exception("engine failed on %s", timed.message.address)
                accepted = False
                self.engine.replies.append(("/error", str(timed.message.address), f"internal error: {e}"))
            if accepted:
                self.stats.accepted += 1
            else:
                self.stats.rejected += 1
        self.flush_replies()

    def _error(self, address: str, reason: str) -> None:
        self.engine.replies.append(("/error", address, reason))

    def flush_replies(self) -> int:
        """Send what the engine wants to say; ``/error`` at most ``errors_per_s``."""
        # The OSC thread and the worker both flush, one at a time so replies keep their order.
        # Never wait for the other: whoever holds the lock sends everything queued, and the OSC
        # thread must go back to its socket (a trigger may be waiting there) rather than queue
        # behind a flush. A reply that arrives just as the other finishes goes out with the
        # worker's next flush, a couple of milliseconds later.
        if not self._reply_lock.acquire(blocking=False):
            return 0
        sent = 0
        try:
            while True:
                try:
                    reply = self.engine.replies.popleft()
                except IndexError:
                    return sent
                sent += self._send_reply(reply)
        finally:
            self._reply_lock.release()

    def _send_reply(self, reply: tuple) -> int:
        """Send one reply (1), or drop it (0): an ``/error`` over budget, or no reply port."""
        if reply[0] == "/error":
            if not self.errors.take():
                self.stats.errors_dropped += 1
                return 0
            self.stats.errors_sent += 1
        if self.reply_to is None:
            return 0
        try:
            self.out.sendto(encode(reply[0], reply[1:]), self.reply_to)
            return 1
        except OSError as e:
            log.warning("reply to %s failed: %s", self.reply_to, e)
            return 0
