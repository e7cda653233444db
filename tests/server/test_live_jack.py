"""The live engine on a real JACK server: an OSC /trigger over UDP becomes recorded audio."""

from __future__ import annotations

import re
import socket
import time

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from gesturegan.server.core.engine import EngineConfig
from gesturegan.server.core.morph import latent_from_seed
from gesturegan.server.inference.model import load_model
from gesturegan.server.runtime import Live, ServeConfig

pytestmark = pytest.mark.jack


def _trigger_and_hear(jack_recorder, live, model, port_prefix: str) -> None:
    """Send ``/trigger trigger 1 0.5 17`` over UDP, record the engine's first JACK port, and check
    that the seeded gesture was heard at its level (resampled to JACK's rate)."""
    rec = jack_recorder(2.0)
    try:
        with rec.client:
            deadline = time.monotonic() + 5
            src = []
            while not src and time.monotonic() < deadline:
                ports = rec.client.get_ports(is_audio=True, is_output=True)
                src = [p for p in ports if p.name.startswith(port_prefix)]
                time.sleep(0.05)
            assert src, [p.name for p in rec.client.get_ports(is_audio=True)]
            rec.client.connect(src[0], rec.inp)
            time.sleep(0.2)
            SimpleUDPClient("127.0.0.1", live.osc.port).send_message("/trigger", ["trigger", 1.0, 0.5, 17])
            deadline = time.monotonic() + 6
            while rec.pos < rec.buf.shape[0] and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        live.close()
    loud = np.flatnonzero(np.abs(rec.buf) > 1e-7)
    assert loud.size, "nothing was heard"
    # The recorded gesture is the model's, resampled 16 -> 48 kHz: compare energies.
    z = latent_from_seed(17, model.info.latent_dim).astype(np.float32)[None]
    want = model.generate(z, np.eye(4, dtype=np.float32)[:1])[0, 0]
    heard = rec.buf[loud[0] : loud[0] + 3 * want.shape[0]]
    assert abs(np.sqrt((heard**2).mean()) / np.sqrt((want**2).mean()) - 1) < 0.2
    assert live.audio.callbacks > 10 and live.engine.counts["triggers"] == 1


@pytest.mark.parametrize("mixer", ["auto", "thread"])
def test_osc_trigger_plays_through_jack(jack_server, jack_recorder, server_models, mixer):
    """sounddevice (PortAudio's JACK host API); its callback in the mixer process (auto, on
    POSIX) or in the engine's process (thread)."""
    model = load_model(server_models["gan"], provider="cpu")
    cfg = EngineConfig(sample_rate=jack_server.samplerate, channels=1, block=jack_server.blocksize)
    live = Live(model, cfg, ServeConfig(osc_port=0, reply_port=None, hostapi="JACK", mixer=mixer)).start()
    assert (type(live.audio).__name__ == "MixerProcess") == (mixer == "auto")
    _trigger_and_hear(jack_recorder, live, model, "PortAudio")


@pytest.mark.parametrize("mixer", ["process", "thread"])
def test_osc_trigger_plays_through_our_own_jack_client(jack_server, jack_recorder, server_models, mixer):
    """``--backend jack``: the engine takes the server's rate and block and plays on gesturegan:out_1,
    from the mixer process or from its own process."""
    model = load_model(server_models["gan"], provider="cpu")
    cfg = EngineConfig(sample_rate=0, channels=1, block=999)  # both follow the server
    live = Live(model, cfg, ServeConfig(osc_port=0, reply_port=None, backend="jack", mixer=mixer)).start()
    assert live.engine.cfg.block == jack_server.blocksize
    assert live.engine.cfg.sample_rate == jack_server.samplerate
    _trigger_and_hear(jack_recorder, live, model, "gesturegan:out_1")
    timing = live.audio.timing()
    assert timing["mixer"] == mixer and timing["callbacks"] > 10 and timing["faults"] == 0
    assert 0 <= timing["entry_p50_blocks"] <= timing["entry_max_blocks"] < 50


def test_model_load_and_render_over_osc_stay_in_their_folders(jack_server, server_models, tmp_path):
    import shutil
    import socket

    from pythonosc.osc_message import OscMessage

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(server_models["wavegan"], models / "other.onnx")
    (tmp_path / "secret.onnx").write_bytes(b"x")
    (models / "broken.onnx").write_bytes(b"not a model")  # /model/load would refuse it: not listed
    shutil.copy(server_models["vae"].with_suffix(".encoder.onnx"), models / "other.encoder.onnx")
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(5)
    model = load_model(server_models["gan"], provider="cpu")
    serve = ServeConfig(
        osc_port=0,
        reply_port=reply.getsockname()[1],
        hostapi="JACK",
        models_dir=str(models),
        render_dir=str(tmp_path / "renders"),
    )
    live = Live(model, EngineConfig(sample_rate=0, channels=2, block=jack_server.blocksize), serve).start()

    def ask(address, *args):
        SimpleUDPClient("127.0.0.1", live.osc.port).send_message(address, list(args))
        while True:
            msg = OscMessage(reply.recvfrom(65536)[0])
            if msg.address not in ("/voice/start", "/voice/end"):
                return (msg.address, *msg.params)

    try:
        assert ask("/model/list") == ("/model/list", "other.onnx")
        assert ask("/model/load", "../secret.onnx")[:2] == ("/error", "/model/load")
        assert ask("/model/load", "missing")[:2] == ("/error", "/model/load")
        info = ask("/model/load", "other")
        assert info[:2] == ("/model/info", "wavegan") and live.engine.info.family == "wavegan"
        rendered = ask("/render", "trigger", 2)
        assert rendered[0] == "/rendered" and rendered[1].startswith(str((tmp_path / "renders").resolve()))
        assert len(list((tmp_path / "renders").glob("trigger-*.wav"))) == 2
    finally:
        live.close()
        reply.close()


def test_pyo_backend_plays_a_trigger_through_jack(jack_server, jack_recorder, server_models):
    model = load_model(server_models["gan"], provider="cpu")
    cfg = EngineConfig(sample_rate=0, channels=1, block=jack_server.blocksize)
    serve = ServeConfig(osc_port=0, reply_port=None, hostapi="JACK", backend="pyo")
    live = Live(model, cfg, serve).start()
    assert live.engine.cfg.sample_rate == jack_server.samplerate
    _trigger_and_hear(jack_recorder, live, model, "gesturegan")


@pytest.mark.slow
def test_serve_without_a_model_plays_the_bundled_one_through_its_jack_client(jack_server, tmp_path):
    """The README's `gesturegan serve --audio jack`: no MODEL, the JACK backend chosen by itself."""
    import os
    import subprocess
    import sys

    from pythonosc.osc_message import OscMessage

    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(5)
    osc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    osc.bind(("127.0.0.1", 0))
    port = osc.getsockname()[1]
    osc.close()
    cmd = [sys.executable, "-m", "gesturegan", "serve", "--audio", "jack"]
    cmd += ["--osc-port", str(port), "--reply-port", str(reply.getsockname()[1])]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        got = None
        while got is None and time.monotonic() < deadline and proc.poll() is None:
            SimpleUDPClient("127.0.0.1", port).send_message("/model/info", [])
            try:
                got = OscMessage(reply.recvfrom(65536)[0])
            except OSError:
                continue
        assert got is not None, proc.stderr.read() if proc.poll() is not None else "no reply"
        assert got.address == "/model/info" and got.params[0] == "twostage"
        import jack

        with jack.Client("gg-look", servername=jack_server.name, no_start_server=True) as look:
            midi_ports = [p.name for p in look.get_ports(is_midi=True, is_input=True)]
    finally:
        proc.terminate()
        err = proc.communicate(timeout=20)[1]
    assert "serving default.onnx" in err and f"block {jack_server.blocksize}" in err, err[-2000:]
    # the MIDI port is announced by the name JACK gave it (the audio client holds "gesturegan")
    announced = re.search(r"MIDI in: virtual port (\S+) \(connect a controller to it\)", err)
    assert announced and announced.group(1) in midi_ports, (err[-2000:], midi_ports)
