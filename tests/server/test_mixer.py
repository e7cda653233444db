"""The mixer process: its pipe records, its block loop over real pipes and shared memory, and
the whole engine playing through a mixer process on a real JACK server (kill -9 included)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from gesturegan.server.audio import mixer as mx
from gesturegan.server.audio.clock import AudioClock
from gesturegan.server.audio.mixer import protocol as wire
from gesturegan.server.core.actions import Gain, Panic, Play, Rate, Stop
from gesturegan.server.core.voices import VoiceBank


@pytest.mark.parametrize(
    "action",
    [
        Play(7, np.ones(100, np.float32), 0.5, np.float32([0.6, 0.8]), "trigger", 3),
        Stop(8, None),
        Stop(9, 42),
        Panic(10),
        Gain(11, 0.25),
        Rate(12, 1.5),
    ],
    ids=lambda a: type(a).__name__,
)
def test_an_action_survives_the_pipe_record(action):
    raw = wire.encode_action(480, action, channels=2)
    assert len(raw) == wire.command_dtype(2).itemsize  # fixed size: reads never split a record
    frame, back = wire.decode_action(np.frombuffer(raw, wire.command_dtype(2))[0])
    assert frame == 480 and type(back) is type(action) and back.id == action.id
    if type(action) is Play:
        # the mixer plays the staged row; the name is the action id, named when the start returns
        assert back.samples is None and back.velocity == 0.5 and back.name == 7 and back.row == 3
        assert np.allclose(back.pan, action.pan)
    else:
        assert back == action


def test_an_unknown_record_kind_is_refused():
    rec = np.zeros(1, wire.command_dtype(2))[0]
    rec["kind"] = 99
    with pytest.raises(ValueError):
        wire.decode_action(rec)


class _Out:
    """What ``Mixer.after_block`` reads off the JACK output (its counters), nothing else."""

    callbacks = xruns = xruns_ours = faults = losses = 0
    state = "running"


def _spec(tmp_path, record=False) -> dict:
    spec = {
        "engine": {"sample_rate": 48000, "block": 128, "channels": 2},
        "max_voices": 4,
        "channels": 2,
        "block": 128,
        "fade": 64,
        "max_len": 4800,
        "sample_rate": 48000,
        "record": record,
    }
    _, size = wire._layout(spec)
    path = tmp_path / "shared"
    path.write_bytes(b"\0" * size)
    spec["shm_fd"] = os.open(path, os.O_RDWR)  # the mixer maps a descriptor it inherited
    return spec


def _replies(fd: int) -> list[tuple]:
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return [tuple(r) for r in np.frombuffer(data, wire.REPLY).tolist()]


def test_the_mixer_plays_a_staged_row_and_reports_back_through_real_pipes(tmp_path):
    spec = _spec(tmp_path, record=True)
    engine_side = wire._views(spec["shm_fd"], spec)  # what the engine maps
    bank = VoiceBank(
        4,
        2,
        128,
        64,
        max_len=4800,
        spare_rows=wire.SPARE_ROWS,
        arena=engine_side["arena"],
        row_len=engine_side["row_len"],
    )
    cmd_r, cmd_w = os.pipe()
    reply_r, reply_w = os.pipe()
    m = mx.Mixer(spec, wire._views(spec["shm_fd"], spec), cmd_r, reply_w)
    m.output, m.clock = _Out(), AudioClock(48000)
    gesture = np.full(300, 0.5, np.float32)
    row = bank.stage(gesture)  # the engine stages, then sends the record
    pan = np.float32([1.0, 0.0])
    os.write(cmd_w, wire.encode_action(100, Play(1, gesture, 1.0, pan, "trigger", row), 2))
    out = np.zeros((128, 2), np.float32)
    heard = []
    for _ in range(6):
        m.clock.stamp(m.player.frame)
        m.player.process(out)
        m.after_block(out)
        heard.append(out.copy())
    audio = np.concatenate(heard)
    # sample-accurate: silent before frame 100, the gesture on the left from there
    assert np.all(audio[:100] == 0) and audio[100, 0] == pytest.approx(0.5) and np.all(audio[:, 1] == 0)
    assert np.count_nonzero(audio[:, 0]) == 300
    got = _replies(reply_r)
    tags = [r[0] for r in got]
    assert (wire.RAN, 1, 100, 0.0) in got
    start = next(r for r in got if r[0] == wire.START)
    assert start[2] == 1  # the action id, so the engine names the voice
    assert (wire.END, start[1], 0, 0.0) in got
    assert (wire.ROW, row, 0, 0.0) in got  # the row comes back to the engine when the voice ends
    assert tags.count(wire.CLOCK) == 6
    clock = [r for r in got if r[0] == wire.CLOCK][-1]
    assert clock[1] == 5 * 128 and clock[2] == 6 * 128  # this block's first frame, the next one's
    # the recording ring holds what was played, and the figures are in the shared file
    assert np.array_equal(engine_side["record"][: 6 * 128], audio)
    assert engine_side["stats"][wire.RECEIVED] == 1 and engine_side["stats"][wire.CALLBACKS] == 1
    os.close(cmd_w)  # the engine went away: the mixer notices at its next block
    m.player.process(out)
    assert m.eof.is_set()


def test_the_mixer_keeps_replies_when_the_engine_stops_reading(tmp_path):
    spec = _spec(tmp_path)
    cmd_r, _cmd_w = os.pipe()
    reply_r, reply_w = os.pipe()
    m = mx.Mixer(spec, wire._views(spec["shm_fd"], spec), cmd_r, reply_w)
    m.output, m.clock = _Out(), AudioClock(48000)
    out = np.zeros((128, 2), np.float32)
    blocks = 3000  # 3000 clock records: 96 kB, more than a pipe holds
    for _ in range(blocks):
        m.player.process(out)
        m.after_block(out)
    got = _replies(reply_r)
    assert 0 < len(got) < blocks  # the pipe filled up; the rest waits in the ring
    more = 0
    while len(got) < blocks + more:  # the pipe has room again: the backlog goes out, a few kB a block
        m.player.process(out)
        m.after_block(out)
        more += 1
        got += _replies(reply_r)
        assert more < 100
    frames = [r[2] for r in got if r[0] == wire.CLOCK]
    assert frames == [128 * (i + 1) for i in range(blocks + more)]  # in order, none lost
    assert m.replies_dropped == 0


def _links_of(port: str) -> list[str]:
    """The ports ``port`` is connected to, from ``jack_lsp -c`` (another process)."""
    out = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, timeout=30).stdout
    links, current = [], None
    for line in out.splitlines():
        if not line.startswith(" "):
            current = line.strip()
        elif current == port:
            links.append(line.strip())
    return links


@pytest.mark.jack
@pytest.mark.slow
def test_a_live_engine_plays_through_its_mixer_process_and_survives_kill_9(
    server_models, tmp_path, monkeypatch
):
    """``serve --backend jack`` (mixer process) with ``--record``: the mixer carries no
    onnxruntime; killed with SIGKILL, it is replaced, the engine says so, and triggers sound
    again, connected where the old one was. The recording (what the mixer played) holds both
    gestures, the second one after the first in time: the new mixer goes on from the old one's
    frame.

    Its own JACK server, asynchronous as on stage: the session's server runs ``--sync`` with a
    5 s timeout, where a client killed mid-cycle holds every cycle (and new clients) for good.
    No JACK client of this process goes near it (libjack in one process with two servers crashes)."""
    import soundfile as sf

    from gesturegan.server.core.engine import EngineConfig
    from gesturegan.server.inference.model import load_model
    from gesturegan.server.runtime import Live, ServeConfig
    from gesturegan.server.tools.jackd import JackDummy

    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(0.2)
    model = load_model(server_models["gan"], provider="cpu")
    cfg = EngineConfig(sample_rate=0, channels=1, block=999)
    serve = ServeConfig(
        osc_port=0, reply_port=reply.getsockname()[1], backend="jack", record_dir=str(tmp_path / "rec")
    )
    seen: list[tuple] = []

    def drain(until: float) -> None:
        while time.monotonic() < until:
            try:
                msg = OscMessage(reply.recvfrom(65536)[0])
            except OSError:
                continue
            seen.append((msg.address, *msg.params))

    with JackDummy(block=128) as jack:
        monkeypatch.setenv("JACK_DEFAULT_SERVER", jack.name)
        live = Live(model, cfg, serve).start()
        try:
            pid = live.audio.proc.pid
            fd_link = Path(f"/proc/self/fd/{live.audio._shm_fd}")
            if fd_link.exists():  # the shared file has no name: a crash leaves nothing in /dev/shm
                assert os.readlink(fd_link).endswith("(deleted)")
            if Path(f"/proc/{pid}/maps").exists():
                maps = Path(f"/proc/{pid}/maps").read_text()
                assert "onnxruntime" not in maps and "libtorch" not in maps
            osc = SimpleUDPClient("127.0.0.1", live.osc.port)
            osc.send_message("/trigger", ["trigger", 1.0, 0.5, 17])
            # a performer's own routing: out_1 to the second speaker as well (jack_connect, another
            # process: no JACK client of this one goes near this server)
            subprocess.run(["jack_connect", "gesturegan:out_1", "system:playback_2"], check=True, timeout=30)
            drain(time.monotonic() + 1.0)  # the mixer notes its links every half second
            before = live.engine.frame
            os.kill(pid, signal.SIGKILL)
            t0 = time.monotonic()
            while time.monotonic() < t0 + 20 and not (live.audio.restarts and live.audio.state == "running"):
                drain(time.monotonic() + 0.2)
            assert live.audio.restarts == 1 and live.audio.state == "running", live.audio.timing()
            assert live.audio.proc.pid != pid and live.engine.frame >= before
            assert "system:playback_2" in _links_of("gesturegan:out_1")  # the routing came back
            osc.send_message("/trigger", ["trigger", 1.0, 0.5, 17])
            drain(time.monotonic() + 1.0)
            osc.send_message("/status", [])
            drain(time.monotonic() + 0.5)
        finally:
            live.close()
            reply.close()
    addresses = [m[0] for m in seen]
    assert ("/audio/state", "lost") in seen and ("/audio/state", "running") in seen
    assert any(m[0] == "/error" and m[1] == "/audio" for m in seen)
    assert addresses.count("/voice/start") == 2 and addresses.count("/voice/end") >= 1
    status = next(m for m in seen if m[0] == "/status")
    assert status[2] == 2  # both triggers counted
    audio, rate = sf.read(tmp_path / "rec" / "performance.wav", dtype="float32")
    loud = np.flatnonzero(np.abs(audio) > 1e-7)
    assert rate == 48000 and loud.size
    gaps = np.flatnonzero(np.diff(loud) > 48000 // 2)  # two gestures, more than 0.5 s apart
    assert gaps.size >= 1, "the gesture after the restart is not in the recording"


def test_both_placements_offer_the_engine_the_same_audio_side():
    """The engine never asks where the callback runs: both placements have the whole protocol."""
    from gesturegan.server.core.audio_side import AudioSide, LocalAudio

    members = {"frame", "master", "process", "staged_only", "action_log"}
    assert members <= set(dir(AudioSide)) | set(AudioSide.__annotations__)
    link = mx.MixerProcess(backend="sounddevice", samplerate=48000, blocksize=128)  # starts nothing yet
    for placement in (LocalAudio, link):
        assert members <= set(dir(placement)), placement
    assert mx.MixerProcess.staged_only and not LocalAudio.staged_only


def test_one_table_chooses_backend_and_placement():
    from gesturegan.server.audio.backends import AudioError
    from gesturegan.server.audio.placement import PLACEMENTS, Placement, choose

    assert choose("jack", "auto") == Placement("jack", True)  # POSIX: the callback alone
    assert choose("sounddevice", "auto") == Placement("sounddevice", True)
    assert choose("jack", "thread") == Placement("jack", False)
    assert choose("pyo", "auto") == Placement("pyo", False)  # pyo has no mixer-process row
    assert choose("clock", "auto") == Placement("clock", False)
    with pytest.raises(AudioError, match="--mixer process plays through jack or sounddevice, not pyo"):
        choose("pyo", "process")
    assert {p.backend for p in PLACEMENTS} == {"jack", "sounddevice", "pyo", "clock"}
