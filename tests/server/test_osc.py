"""OSC over real UDP into the engine: triggers, timetagged bundles, errors, the allow list."""

from __future__ import annotations

import shutil
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from gesturegan.server.audio.clock import AudioClock
from gesturegan.server.control.osc import OscControl, encode, osc_args
from gesturegan.server.core.engine import Engine, EngineConfig
from gesturegan.server.inference.model import load_model


@pytest.fixture
def rig(server_models):
    model = load_model(server_models["gan"], provider="cpu")
    engine = Engine(model, EngineConfig(sample_rate=16000, block=64))
    clock = AudioClock(16000)
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(2)
    osc = OscControl(engine, clock, port=0, reply_port=reply.getsockname()[1]).start()
    yield engine, clock, osc, reply
    osc.close()
    reply.close()


def _replies(sock, n):
    out = []
    for _ in range(n):
        data, _ = sock.recvfrom(65536)
        msg = OscMessage(data)
        out.append((msg.address, *msg.params))
    return out


def _wait(cond, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_trigger_and_errors_over_udp(rig):
    engine, _, osc, reply = rig
    client = SimpleUDPClient("127.0.0.1", osc.port)
    client.send_message("/trigger", ["trigger", 0.5, 0.25, 3])
    client.send_message("/trigger", ["nope"])
    client.send_message("/status", [])
    _wait(lambda: osc.stats.messages == 3)
    got = _replies(reply, 2)
    assert got[0] == (
        "/error",
        "/trigger",
        "unknown category 'nope'; this model has trigger, "
        "trigger_continuous, continuous_variation, continuous_repetition",
    )
    assert got[1][0] == "/status" and got[1][2] == 1  # one trigger accepted
    assert engine.scheduler.pending() == 1


def test_garbage_is_counted_and_answered(rig):
    _, _, osc, reply = rig
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for junk in (b"", b"\x00\x01garbage", b"/trigger\x00\x00\x00\x00,i\x00"):
        s.sendto(junk, ("127.0.0.1", osc.port))
    _wait(lambda: osc.stats.packets == 3)
    assert osc.stats.rejected == 3
    assert _replies(reply, 1)[0][:2] == ("/error", "?")


def test_a_timetagged_bundle_lands_on_its_frame(rig):
    engine, clock, osc, _ = rig
    clock.stamp(0)
    when = clock.anchor[1] + 0.5
    bundle = OscBundleBuilder(when)
    m = OscMessageBuilder("/trigger")
    for v in ("trigger", 1.0, 0.5, 9):
        m.add_arg(v)
    bundle.add_content(m.build())
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bundle.build().dgram, ("127.0.0.1", osc.port))
    _wait(lambda: engine.scheduler.pending() == 1)
    due = engine.scheduler.due(0, 16000)
    assert len(due) == 1 and abs(due[0][0] - 8000) <= 1  # 0.5 s at 16 kHz, within float rounding


def test_senders_outside_allow_are_ignored(server_models):
    engine = Engine(load_model(server_models["gan"], provider="cpu"), EngineConfig(sample_rate=16000))
    osc = OscControl(engine, AudioClock(16000), port=0, reply_port=None, allow=["10.0.0.9"]).start()
    try:
        SimpleUDPClient("127.0.0.1", osc.port).send_message("/panic", [])
        _wait(lambda: osc.stats.packets == 1)
        assert osc.stats.refused_senders == 1 and osc.stats.messages == 0
    finally:
        osc.close()


def test_replies_are_max_friendly():
    assert osc_args([True, 2**40, 1.5, float("nan"), np.int64(3), "x"]) == [
        (1, "i"),
        (str(2**40), "s"),
        (1.5, "f"),
        (0.0, "f"),
        (3, "i"),
        ("x", "s"),
    ]
    assert OscMessage(encode("/voice/start", [1, "trigger"])).params == [1, "trigger"]


def test_the_control_thread_survives_quiet_gaps(rig):
    """Messages after a silence longer than the socket timeout are still handled."""
    _, _, osc, reply = rig
    client = SimpleUDPClient("127.0.0.1", osc.port)
    for n in (1, 2, 3):
        client.send_message("/status", [])
        _wait(lambda n=n: osc.stats.messages == n)
        time.sleep(0.3)  # three socket timeouts of quiet
    assert osc._thread.is_alive()
    assert [r[0] for r in _replies(reply, 3)] == ["/status"] * 3


def test_bundles_with_unsound_element_sizes_are_refused_before_python_osc():
    """The fuzzer's packet: element sizes that send python-osc's bundle parser backwards for ever."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    from gesturegan.server.control.osc import BUNDLE_PREFIX, bundle_framing_ok

    msg = OscMessageBuilder("/panic").build().dgram
    head = BUNDLE_PREFIX + b"\x00\x00\x00\x00\x00\x00\x00\x01"
    good = head + len(msg).to_bytes(4, "big") + msg
    nested = head + len(good).to_bytes(4, "big") + good
    assert bundle_framing_ok(good) and bundle_framing_ok(nested) and bundle_framing_ok(msg)
    backwards = head + (-8).to_bytes(4, "big", signed=True) + msg
    assert not bundle_framing_ok(backwards)
    assert not bundle_framing_ok(
        head + (6).to_bytes(4, "big") + b",itrmF/_b\x00\x00\x00"
    )  # not a multiple of 4
    assert not bundle_framing_ok(head + (400).to_bytes(4, "big") + msg)  # longer than the packet
    assert not bundle_framing_ok(head + (0).to_bytes(4, "big"))
    deep = good
    for _ in range(10):
        deep = head + len(deep).to_bytes(4, "big") + deep
    assert not bundle_framing_ok(deep)


def _free_udp_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.mark.skipif(
    shutil.which("oscsend") is None or shutil.which("oscdump") is None,
    reason="needs liblo's oscsend and oscdump (Debian: liblo-tools)",
)
def test_liblo_clients_play_and_hear_a_running_server(server_models):
    """An outside OSC implementation (liblo, as many tools use) against the real server: its
    messages are taken, a bad one is refused, and its oscdump reads the replies."""
    import subprocess

    from gesturegan.server.runtime import Live, ServeConfig

    reply_port = _free_udp_port()
    dump = subprocess.Popen(["oscdump", "-L", str(reply_port)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # oscdump binds its port
    serve = ServeConfig(osc_port=0, reply_port=reply_port, backend="clock", mixer="thread")
    live = Live(
        load_model(server_models["gan"], provider="cpu"), EngineConfig(channels=1, block=256), serve
    ).start()
    try:

        def send(*args: str) -> None:
            subprocess.run(["oscsend", "localhost", str(live.osc.port), *args], check=True, timeout=10)

        send("/trigger", "sf", "trigger_continuous", "0.5")
        send("/morph", "ff", "0.25", "0.75")
        send("/gain", "f", "-200")  # out of range: refused with a reason
        _wait(lambda: live.engine.counts["triggers"] == 1 and live.engine.counts["errors"] == 1)
        send("/status")
        _wait(lambda: live.engine.weights[2] > 0.5)
    finally:
        time.sleep(0.3)
        live.close()
        dump.terminate()
    # oscdump prints "TIMETAG /address types args..."
    lines = [line.split(" ", 1)[1] for line in dump.communicate(timeout=10)[0].splitlines()]
    assert '/voice/start is 1 "trigger_continuous"' in lines, lines
    assert '/error ss "/gain" "db must be in -120..24, not -200"' in lines, lines
    status = next(line.split()[2:] for line in lines if line.startswith("/status iiiiii"))
    assert status[1] == "1" and status[3] == "1"  # triggers, errors


def test_udp_drops_accounts_for_what_a_full_buffer_threw_away():
    """The fuzz test's packet accounting: read + dropped == sent, on a real socket nobody reads."""
    from gesturegan.server.tools.harness import udp_drops

    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        assert udp_drops(port) == 0
        for _ in range(500):
            tx.sendto(b"x" * 64, ("127.0.0.1", port))
        rx.setblocking(False)
        read = 0
        while True:
            try:
                rx.recv(128)
            except BlockingIOError:
                break
            read += 1
        drops = udp_drops(port)
        assert drops is not None and drops > 0
        assert read + drops == 500
