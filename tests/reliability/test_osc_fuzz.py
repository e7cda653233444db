"""OSC fuzzing of a running engine: 100,000 bad, odd and good packets; it stays up and plays.

Packets come from a hypothesis grammar of OSC (addresses from the spec and made up; int32,
int64, float32, double, NaN, inf, huge strings, blobs, booleans, nil; truncated messages,
corrupted type tags; nested, expired and far-future bundles) plus raw random bytes. They are
sent in paced batches over real UDP to an engine that plays on a realtime JACK dummy server.
"""

from __future__ import annotations

import math
import random
import struct
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY
from pythonosc.parsing import osc_types

from gesturegan.server.core.commands import SPEC
from gesturegan.server.tools.harness import PlatformFloor, osc_packet, udp_drops, xrun_allowance

pytestmark = [pytest.mark.jack, pytest.mark.slow]

BATCH = 50
EXAMPLES = 200  # x BATCH = 10,000 packets from the grammar ...
MUTANTS = 90_000  # ... and 90,000 cheap mutations of them (hypothesis draws ~400 packets/s here)
RATE = 4000  # packets per second: 8 times the 500 messages/s of the stress benchmark
PATHS = [a.path for a in SPEC]

values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (v, "i")),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: (v, "h")),
    st.floats(width=32, allow_nan=True, allow_infinity=True).map(lambda v: (v, "f")),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: (v, "d")),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0]).map(lambda v: (v, "d")),
    st.text(
        alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40
    ).map(lambda v: (v, "s")),
    st.integers(300, 5000).map(lambda n: ("x" * n, "s")),
    st.sampled_from(["trigger", "continuous_repetition", "mix", "../../etc/passwd", "/abs.onnx"]).map(
        lambda v: (v, "s")
    ),
    st.binary(min_size=1, max_size=64).map(lambda v: (v, "b")),
    st.sampled_from([(True, "T"), (False, "F"), (None, "N")]),
)
addresses = st.one_of(
    st.sampled_from(PATHS),
    st.sampled_from(PATHS).map(lambda p: p + "/x"),
    st.text(alphabet="/abcxyz_", min_size=1, max_size=30).map(lambda t: "/" + t.lstrip("/")),
)


_WRITE = {
    "i": osc_types.write_int,
    "h": osc_types.write_int64,
    "f": osc_types.write_float,
    "d": osc_types.write_double,
    "s": osc_types.write_string,
    "b": osc_types.write_blob,
}


def encode(address: str, args: list[tuple[object, str]]) -> bytes:
    """An OSC message from parts, written by python-osc's type writers without re-parsing it
    (the builder parses what it built, and refuses some of what a fuzzer wants to send)."""
    out = osc_types.write_string(address) + osc_types.write_string("," + "".join(t for _, t in args))
    for value, tag in args:
        if tag in _WRITE:
            out += _WRITE[tag](value)
    return out


@st.composite
def message(draw) -> bytes:
    return encode(draw(addresses), draw(st.lists(values, max_size=6)))


@st.composite
def bundle(draw, depth: int = 0) -> bytes:
    """``#bundle``, a timetag (immediate, expired, soon, far future, beyond the limit), elements."""
    now = time.time()
    when = draw(st.sampled_from([IMMEDIATELY, now - 1000.0, now + 0.05, now + 3599.0, now + 1e6, 1.0]))
    out = b"#bundle\x00" + osc_types.write_date(when)
    for _ in range(draw(st.integers(1, 4))):
        inner = draw(bundle(depth + 1)) if depth < 2 and draw(st.booleans()) else draw(message())
        out += struct.pack(">i", len(inner)) + inner
    return out


@st.composite
def mangled(draw) -> bytes:
    raw = draw(st.one_of(message(), bundle()))
    how = draw(st.sampled_from(["truncate", "tags", "flip"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "tags" and b"," in raw:
        i = raw.index(b",")
        junk = draw(st.binary(min_size=1, max_size=8))
        return raw[: i + 1] + junk + raw[i + 1 + len(junk) :]
    pos = draw(st.integers(0, max(0, len(raw) - 1)))
    return raw[:pos] + bytes([raw[pos] ^ 0xFF]) + raw[pos + 1 :] if raw else raw


packets = st.lists(
    st.one_of(message(), bundle(), mangled(), st.binary(max_size=512)), min_size=BATCH, max_size=BATCH
)


def mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    """A grammar packet damaged one of several ways, or random bytes."""
    p = rng.choice(corpus)
    how = rng.randrange(6)
    if how == 0 and p:
        return p[: rng.randrange(len(p))]
    if how == 1 and p:
        i = rng.randrange(len(p))
        return p[:i] + bytes([rng.randrange(256)]) + p[i + 1 :]
    if how == 2:
        return p + rng.choice(corpus)
    if how == 3:
        return rng.randbytes(rng.randrange(1, 600))
    if how == 4 and b"," in p:
        i = p.index(b",") + 1
        return p[:i] + bytes(rng.choice(b"ifdshbTFN[]mcrt") for _ in range(rng.randrange(1, 6))) + p[i:]
    return p


SENDER = r"""
import socket, struct, sys, time
data, port, rate = open(sys.argv[1], "rb").read(), int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
i = sent = 0
t0 = time.monotonic()
while i < len(data):
    n = struct.unpack(">I", data[i : i + 4])[0]
    sock.sendto(data[i + 4 : i + 4 + n], ("127.0.0.1", port))
    i += 4 + n
    sent += 1
    if sent % 100 == 0:
        pause = t0 + sent / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
print(sent)
"""


def test_a_hundred_thousand_fuzzed_packets(stage, tmp_path):
    corpus: list[bytes] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(packets)
    def grammar(batch):
        corpus.extend(batch)

    grammar()
    rng = random.Random(0)
    stream = corpus + [mutate(rng, corpus) for _ in range(MUTANTS)]
    rng.shuffle(stream)
    blob = tmp_path / "packets.bin"
    blob.write_bytes(b"".join(struct.pack(">I", len(p)) + p for p in stream))
    del stream

    server = stage.server
    time.sleep(1.0)
    idle = stage.xruns_during(3.0)
    start_xruns, t0 = stage.xruns(), time.monotonic()
    # what the machine does to any real-time thread meanwhile
    floor = PlatformFloor((EXAMPLES * BATCH + MUTANTS) / RATE + 5)
    # Sent from another process at a fixed rate, as from Max or a DAW gone wild.
    res = subprocess.run(
        [sys.executable, "-c", SENDER, str(blob), str(server.osc_port), str(RATE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    sent = int(res.stdout)
    elapsed = time.monotonic() - t0
    fuzz_xruns = stage.xruns() - start_xruns
    machine = floor.result(256 / 48000)
    time.sleep(1.0)
    # What the kernel threw away for a full receive buffer: UDP promises nothing, and a starved
    # two-core machine can hold the OSC thread for longer than the buffer lasts.
    kernel_drops = udp_drops(server.osc_port)
    # it still plays: the fuzz may have set gain, rate or stream mode; reset and trigger
    for address, args in (("/panic", ()), ("/stream/stop", ()), ("/gain", (0.0,)), ("/rate", (1.0,))):
        server.send(osc_packet(address, *args))
    time.sleep(0.1)
    before = server.status()
    server.send(osc_packet("/trigger", "trigger", 1.0))
    time.sleep(0.2)
    after = server.status()
    s = stage.stop()["osc"]
    print(
        "STDERR>>>", stage.server.stderr()[-4000:], "<<<", stage.stats.get("audio"), stage.stats.get("engine")
    )
    print(
        f"\n{sent} packets in {elapsed:.1f} s: accepted {s['accepted']}, rejected {s['rejected']}, "
        f"undecodable {s['undecodable']}, /error sent {s['errors_sent']} dropped {s['errors_dropped']}, "
        f"xruns {fuzz_xruns} (idle {idle} in 3 s), jack realtime {stage.jack.is_realtime()}; {stage.timing()}; "
        f"the machine meanwhile (cyclictest): {machine}; dropped by the kernel {kernel_drops}"
    )
    assert sent >= 100_000
    assert kernel_drops is not None, "/proc/net/udp is needed to account for every packet"
    # every packet sent was read by the engine or dropped by the kernel, and drops stay rare: a
    # hung OSC thread (as once on a python-osc loop, docs/reliability.md) loses most of them
    assert s["packets"] + kernel_drops >= sent
    assert kernel_drops <= 0.05 * sent, f"the kernel dropped {kernel_drops} of {sent} packets"
    assert s["accepted"] + s["rejected"] == s["messages"] + s["undecodable"]  # every one counted
    assert s["undecodable"] > 1000 and s["rejected"] > 10_000
    assert s["errors_sent"] + s["errors_dropped"] >= s["rejected"]  # every refusal answered or limited
    assert s["errors_sent"] <= 20 * (elapsed + 30)  # the rate limit (20/s) held
    assert after["triggers"] == before["triggers"] + 1 and after["voices"] >= 1
    # The audio callback runs in the mixer process, which shares nothing with the OSC thread but a
    # pipe; what xruns remain are the machine's (its floor is printed above; docs/reliability.md).
    # Bounded so a regression shows, less the stalls the machine had meanwhile.
    allowed = xrun_allowance(elapsed, idle, 3.0, machine)
    assert fuzz_xruns <= allowed, (
        f"{fuzz_xruns} xruns, {allowed:.1f} allowed on this machine's floor {machine}"
    )
