"""Xruns and memory under load (500 OSC messages a second) and at rest, beside the machine's floor."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from gesturegan.server.tools.harness import (
    PlatformFloor,
    Probe,
    jackd_xruns,
    model_categories,
    osc_packet,
    start_server,
    steal_seconds,
    voices_from_replies,
)
from gesturegan.server.tools.jackd import JackDummy

#: One cycle of the stress's messages: 0 trigger, 1-3 morph, 4-6 position, 7-8 jitter, 9 status.
STRESS_PATTERN = (0, 1, 4, 7, 9, 2, 5, 8, 3, 6)


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
            steal0 = steal_seconds()
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
                    msg = osc_packet(
                        "/trigger",
                        cats[int(rng.integers(len(cats)))],
                        float(rng.uniform(0.3, 1.0)),
                        float(rng.random()),
                    )
                elif k in (1, 2, 3):
                    msg = osc_packet("/morph", float(rng.random()), float(rng.random()))
                elif k in (4, 5, 6):
                    msg = osc_packet("/position", float(rng.random()))
                elif k in (7, 8):
                    msg = osc_packet("/latent/jitter", float(rng.uniform(0, 1)))
                else:
                    msg = osc_packet("/status")
                server.send(msg)
                sent += 1
                if sent % int(rate_hz) == 0:
                    voices.append(voices_from_replies(server))
            elapsed = time.perf_counter() - start
            xruns = probe.xruns - before
            steal1 = steal_seconds()
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
            before, steal0 = probe.xruns, steal_seconds()
            floor = PlatformFloor(seconds)
            time.sleep(seconds)
            result = {
                "block": block,
                "seconds": seconds,
                "mixer": mixer,
                "xruns_jack": probe.xruns - before,
                "steal_s": None if steal0 is None else (steal_seconds() or steal0) - steal0,
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
