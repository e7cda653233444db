"""--record and replay: a live performance on JACK renders again offline, sample for sample."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from gesturegan.cli import main
from gesturegan.server.audio.record import RecordError, replay
from gesturegan.server.core.engine import EngineConfig
from gesturegan.server.inference.model import load_model
from gesturegan.server.runtime import Live, ServeConfig

pytestmark = pytest.mark.jack


def test_a_recorded_performance_replays_identically(jack_server, server_models, tmp_path, capsys):
    take = tmp_path / "take"
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=(1, 4), spinning=False)
    serve = ServeConfig(osc_port=0, reply_port=None, hostapi="JACK", record_dir=str(take))
    live = Live(model, EngineConfig(sample_rate=0, channels=2, block=jack_server.blocksize), serve).start()
    osc = SimpleUDPClient("127.0.0.1", live.osc.port)
    try:
        assert (take / "performance.wav.part").exists() and not (take / "performance.wav").exists()
        script = [
            ("/trigger", ["trigger", 0.9, 0.1]),
            ("/morph", [0.8, 0.3]),
            ("/trigger", ["mix", 0.7]),
            ("/rate", [1.5]),
            ("/trigger", ["continuous_variation", 1.0, 0.9, 5]),
            ("/gain", [-6.0]),
            ("/stop", []),
            ("/trigger", [1]),
            ("/panic", []),
            ("/trigger", ["continuous_repetition"]),
        ]
        for address, args in script:
            osc.send_message(address, args)
            time.sleep(0.07)
        time.sleep(0.6)
    finally:
        live.close()
    assert not list(take.glob("*.part")), "a .part file was left behind"
    events = [json.loads(x) for x in (take / "events.jsonl").read_text().splitlines()]
    kinds = {e.get("kind") for e in events if "act" in e}
    assert {"play", "rate", "gain", "stop", "panic"} <= kinds
    assert sum("ran" in e for e in events) >= 6
    heard, rate = sf.read(str(take / "performance.wav"), dtype="float32", always_2d=True)
    assert np.abs(heard).max() > 1e-7, "the recording is silent"  # tiny models are quiet
    again, rate2 = replay(take)
    assert rate2 == rate and again.shape == heard.shape
    np.testing.assert_array_equal(again, heard)  # identical, not merely close

    assert main(["replay", str(take)]) == 0
    assert "identical to the live recording" in capsys.readouterr().out
    assert (take / "replay.wav").exists()


def test_replay_refuses_what_is_not_a_recording(tmp_path, capsys):
    with pytest.raises(RecordError, match="not a finished recording"):
        replay(tmp_path)
    assert main(["replay", str(tmp_path)]) == 2
    assert "not a finished recording" in capsys.readouterr().err
