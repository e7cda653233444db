"""A JACK server with the dummy driver: audio and MIDI without a sound card (bench, tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path


class JackError(RuntimeError):
    pass


class JackDummy:
    """``jackd --no-realtime -d dummy -r RATE -p BLOCK`` under a unique name; a context manager.

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
        self.name = f"gg-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> JackDummy:
        jackd = shutil.which("jackd")
        if jackd is None:
            raise JackError("jackd is not installed (apt-get install --no-install-recommends jackd2)")
        # Realtime (SCHED_FIFO for the server's and every client's process thread) is how JACK
        # runs on stage; it needs the right to it (root, or the audio group's rtprio limit).
        cmd = [jackd, "--realtime" if self.realtime else "--no-realtime", "-n", self.name]
        if self.sync:
            cmd += ["--sync", "--timeout", "5000"]
        cmd += ["-d", "dummy", "-r", str(self.rate), "-p", str(self.block)]
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if self.log:
            out.close()
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        # Probe from another process (jack_wait): libjack clients of two JACK servers in one
        # process crash it, and the caller may already be a client of another server.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise JackError(f"jackd exited with status {self.proc.returncode}")
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
        self.stop()
        raise JackError(f"JACK server {self.name!r} did not come up in {timeout:.0f} s")

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
        under the same name."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> JackDummy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
