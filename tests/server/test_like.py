"""Variations of a real sound, live: /like over real UDP into a running engine, and its MIDI CCs."""

from __future__ import annotations

import shutil
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from gesturegan.server.control.midi import MidiMap, MidiTranslator
from gesturegan.server.core.engine import EngineConfig
from gesturegan.server.inference.like import load_like, place
from gesturegan.server.inference.model import encoder_beside, load_encoder, load_model
from gesturegan.server.runtime import Live, ServeConfig


@pytest.fixture
def sounds(corpus, tmp_path):
    folder = tmp_path / "sounds"
    folder.mkdir()
    shutil.copy(corpus / "drum_snare_hard.flac", folder / "snare.flac")
    shutil.copy(corpus / "ambi_drone.flac", folder / "drone.flac")
    (folder / "notes.wav").write_text("not audio")
    (tmp_path / "secret.wav").write_bytes(b"x")
    return folder


def _live(model_path, sounds):
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(10)
    serve = ServeConfig(
        osc_port=0, reply_port=reply.getsockname()[1], backend="clock", sounds_dir=str(sounds)
    )
    live = Live(load_model(model_path, provider="cpu"), EngineConfig(channels=1, block=256), serve).start()

    def ask(address, *args):
        SimpleUDPClient("127.0.0.1", live.osc.port).send_message(address, list(args))
        while True:
            msg = OscMessage(reply.recvfrom(65536)[0])
            if msg.address not in ("/voice/start", "/voice/end"):
                return (msg.address, *msg.params)

    return live, reply, ask


def test_like_plays_takes_of_a_sound_from_the_folder(server_models, sounds):
    live, reply, ask = _live(server_models["twostage"], sounds)
    try:
        assert ask("/like/list") == ("/like/list", "drone.flac", "notes.wav", "snare.flac")
        assert ask("/like", "../secret.wav")[:2] == ("/error", "/like")
        refused = ask("/like", "notes.wav")
        assert refused[:2] == ("/error", "/like") and "cannot read it as audio" in refused[2]
        assert ask("/like", "missing.wav")[2].startswith("missing.wav: no such file")
        engine = live.engine
        got = ask("/like", "snare.flac", 0.0)
        encoder = load_encoder(encoder_beside(server_models["twostage"]), provider="cpu")
        placed = place(encoder, load_like(sounds / "snare.flac", engine.info), engine.info.n_categories)
        assert got == ("/like", "snare.flac", engine.info.categories[placed.category], 0.0)
        np.testing.assert_allclose(engine.latent.base, placed.mu, atol=1e-6)
        assert engine.weights[placed.category] == 1.0
        np.testing.assert_allclose(engine.latent.sample(), placed.mu, atol=1e-6)  # amount 0: the sound itself
        SimpleUDPClient("127.0.0.1", live.osc.port).send_message("/latent/jitter", [1.0])  # no reply
        deadline = time.monotonic() + 5
        while engine.latent.jitter != 1.0 and time.monotonic() < deadline:
            time.sleep(0.01)
        takes = np.stack([engine.latent.sample() for _ in range(3)])
        assert np.abs(takes - placed.mu).max() > 0.1  # amount 1: takes wander ...
        kept = placed.sigma < 1e-3  # the component choice, which a take keeps
        assert np.abs(takes[:, kept] - placed.mu[kept]).max() < 1e-3
        assert ask("/like/off") == ("/like", "", "", 1.0)  # ... and /like/off returns to the seeded latent
        assert engine.latent.scale is None
    finally:
        live.close()
        reply.close()


def test_like_needs_an_encoder(server_models, sounds):
    live, reply, ask = _live(server_models["gan"], sounds)
    try:
        refused = ask("/like", "snare.flac")
        assert refused[:2] == ("/error", "/like") and "has no encoder (gan.encoder.onnx)" in refused[2]
    finally:
        live.close()
        reply.close()


def test_midi_cc20_picks_a_sound_and_cc21_its_amount():
    t = MidiTranslator(MidiMap(), 4, sounds=lambda: ["a.wav", "b.wav"])
    assert t.translate_bytes([0xB0, 20, 2]) == [("/like", ["b.wav"])]
    assert t.translate_bytes([0xB0, 20, 0]) == [("/like/off", [])]
    assert t.translate_bytes([0xB0, 20, 9]) == [] and t.ignored == 1
    assert t.translate_bytes([0xB0, 21, 127]) == [("/latent/jitter", [2.0])]
