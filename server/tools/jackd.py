"""A JACK server with the dummy driver: audio and MIDI without a sound card (bench, tests).

JACK keeps a registry of running servers in shared memory (``/dev/shm/jack-shm-registry``, eight
entries). A server that is killed (as the JACK-loss tests do on purpose, or a crashed run) stays
registered; jack2 reclaims a dead entry only when a server *of the same name* starts. Servers
named afresh on every run therefore filled the registry until jackd refused with "Too many
servers already active". So the harness names its servers from a small set of slots
(``gg-slot-N``, each held by a lock file for the server's life): a killed one is reclaimed by
the next start in its slot. ``clear_stale`` also reclaims what dead harness servers of any name
left (registry entries and ``jack_sem.*`` files) before a start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path


class JackError(RuntimeError):
    pass


SHM = Path("/dev/shm")
REGISTRY = SHM / "jack-shm-registry"
SLOTS = 16  # harness servers that may run at once on one machine
SLOT_DIR = Path(tempfile.gettempdir()) / "gesturegan-jack-slots"
OURS = re.compile(r"^gg-")  # the names this harness gives its servers (now and before slots)
BANNER = re.compile(r"^jackdmp \d|Copyright|ABSOLUTELY NO WARRANTY|free software|certain conditions")


@dataclass(frozen=True)
class Registered:
    """A server in JACK's shared-memory registry."""

    name: str
    pid: int

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # someone else's live process


def registered_servers(path: Path = REGISTRY) -> list[Registered]:
    """The servers JACK's registry lists (jack2's ``jack_shm_header_t``: magic, protocol, type,
    size, header length, entry length, then eight ``{pid, name[257]}`` server entries)."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if len(data) < 24 or data[:4] != b"KCAJ":
        return []
    hdr_len = struct.unpack_from("<I", data, 16)[0]
    n_servers = 8
    size = (hdr_len - 24) // n_servers if hdr_len > 24 else 0
    out = []
    for i in range(n_servers):
        at = 24 + i * size
        if size < 8 or at + size > len(data):
            break
        pid = struct.unpack_from("<i", data, at)[0]
        raw = data[at + 4 : at + size].split(b"\0", 1)[0].decode("utf-8", "replace")
        if pid > 0 and raw:
            # registered as "jack-UID:NAME:"
            parts = raw.split(":")
            out.append(Registered(parts[1] if len(parts) >= 2 else raw, pid))
    return out


def _jackd_pids(name: str) -> list[int]:
    """PIDs of jackd processes serving ``name``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name == "jackd" and name.encode() in argv:
            pids.append(int(proc.name))
    return pids


def clear_stale(log=None) -> list[str]:
    """Reclaim what dead harness servers left: their registry entries (by starting and cleanly
    stopping a server of the same name, jack2's own way) and their ``jack_sem.*`` files. Returns
    the names cleared. Servers of other names are left alone unless the registry is full."""
    jackd = shutil.which("jackd")
    cleared = []
    entries = registered_servers()
    full = len(entries) >= 8
    for entry in entries:
        if entry.alive or not (OURS.match(entry.name) or full):
            continue
        if jackd is not None:
            proc = subprocess.Popen(
                [jackd, "--no-realtime", "-n", entry.name, "-d", "dummy", "-r", "48000", "-p", "256"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(0.5)
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        cleared.append(entry.name)
    live = {e.name for e in registered_servers() if e.alive}
    for sem in SHM.glob("jack_sem.*") if SHM.is_dir() else []:
        # jack_sem.<uid>_<server>_<client>
        server = sem.name.split("_", 1)[1].split("_", 1)[0] if "_" in sem.name else ""
        if OURS.match(server) and server not in live and not _jackd_pids(server):
            with contextlib.suppress(OSError):
                sem.unlink()
                if server not in cleared:
                    cleared.append(server)
    if cleared and log is not None:
        log(f"cleared what dead JACK servers left: {', '.join(sorted(cleared))}")
    return cleared


def _claim_slot() -> tuple[str, int]:
    """A free slot's server name and its lock file's descriptor (held while the server runs)."""
    SLOT_DIR.mkdir(parents=True, exist_ok=True)
    for k in range(SLOTS):
        fd = os.open(SLOT_DIR / f"slot-{k}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        name = f"gg-slot-{k}"
        for pid in _jackd_pids(name):  # a server whose harness died without stopping it
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        return name, fd
    raise JackError(f"all {SLOTS} JACK test server slots are in use ({SLOT_DIR})")


class JackDummy:
    """``jackd --no-realtime -d dummy -r RATE -p BLOCK`` in a slot of its own; a context manager.

    ``sync``: the server waits for every client before a cycle ends (a late client makes the
    cycle late rather than play a stale buffer): right for sample-exact tests, while the
    default asynchronous mode is what a performance runs and what counts xruns.
    """

    def __init__(
        self,
        rate: int = 48000,
        block: int = 128,
        sync: bool = False,
        log: Path | None = None,
        realtime: bool = False,
    ):
        self.rate, self.block, self.sync, self.realtime = rate, block, sync, realtime
        self.name = ""  # given by the slot, at the first start
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._slot_fd: int | None = None
        self._lines: deque[str] = deque(maxlen=64)  # jackd's last lines, when no log file

    def start(self, timeout: float = 15.0) -> JackDummy:
        jackd = shutil.which("jackd")
        if jackd is None:
            raise JackError("jackd is not installed (apt-get install --no-install-recommends jackd2)")
        if self._slot_fd is None:
            clear_stale()
            self.name, self._slot_fd = _claim_slot()
        # Realtime (SCHED_FIFO for the server's and every client's process thread) is how JACK
        # runs on stage; it needs the right to it (root, or the audio group's rtprio limit).
        cmd = [jackd, "--realtime" if self.realtime else "--no-realtime", "-n", self.name]
        if self.sync:
            cmd += ["--sync", "--timeout", "5000"]
        cmd += ["-d", "dummy", "-r", str(self.rate), "-p", str(self.block)]
        if self.log is not None:
            with open(self.log, "wb") as out:
                self.proc = subprocess.Popen(
                    cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        else:
            # No log asked for: jackd's words go to a pipe a thread keeps draining into memory.
            # With a file here an occasional trigger came a block late in bench (jackd writes
            # from its own threads; figures in docs/benchmarks/restructure-before-after.md).
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            self._lines = deque(maxlen=64)
            threading.Thread(target=self._drain, args=(self.proc.stdout, self._lines), daemon=True).start()
        self._wait(timeout)
        return self

    @staticmethod
    def _drain(pipe, lines: deque) -> None:
        for raw in pipe:
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        pipe.close()

    def said(self, most: int = 4) -> str:
        """What jackd printed besides its banner (why it would not start, usually)."""
        if self.log is not None:
            try:
                lines = self.log.read_text(errors="replace").splitlines()
            except OSError:
                return ""
        else:
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.1)  # the drain thread reads what jackd wrote before it exited
            lines = list(self._lines)
        words = [line.strip() for line in lines if line.strip() and not BANNER.search(line)]
        return " | ".join(words[:most]) or "no message"

    def _wait(self, timeout: float) -> None:
        # Probe from another process (jack_wait): libjack clients of two JACK servers in one
        # process crash it, and the caller may already be a client of another server.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise JackError(f"jackd exited with status {self.proc.returncode}: {self.said()}")
            res = subprocess.run(
                [shutil.which("jack_wait") or "jack_wait", "-s", self.name, "-c"],
                capture_output=True,
                text=True,
                env=self.env(),
                timeout=10,
            )
            if "running" in res.stdout and "not" not in res.stdout:
                return
            time.sleep(0.1)
        said = self.said()
        self.stop()
        raise JackError(f"JACK server {self.name!r} did not come up in {timeout:.0f} s: {said}")

    def is_realtime(self) -> bool | None:
        """Whether jackd's threads really run SCHED_FIFO/RR (it falls back silently); None off Linux."""
        try:
            tasks = os.listdir(f"/proc/{self.proc.pid}/task")
            policies = {os.sched_getscheduler(int(t)) for t in tasks}
        except (OSError, AttributeError):
            return None
        return bool(policies & {os.SCHED_FIFO, os.SCHED_RR})

    def env(self) -> dict[str, str]:
        """Environment for a process whose clients should find this server."""
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def kill(self) -> None:
        """The server dies at once (SIGKILL), as a crashed one would; ``start()`` brings it back
        under the same name (which reclaims its registry entry)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """Stop cleanly (jackd unregisters itself) and give the slot back."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._slot_fd is not None:
            os.close(self._slot_fd)  # the lock goes with it
            self._slot_fd = None

    def __enter__(self) -> JackDummy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
