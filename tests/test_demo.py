"""`gesturegan demo`: the bundled model through the real engine, driven over loopback OSC."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from gesturegan.cli import main
from gesturegan.server.audio.record import replay


@pytest.mark.slow
def test_demo_plays_the_script_and_replays_identically(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "wrote" in said and "demo.wav" in said
    for name in ("demo.wav", "demo.png", "events.jsonl", "sent.jsonl", "session.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    audio, rate = sf.read(str(out / "demo.wav"), dtype="float32", always_2d=True)
    assert audio.shape[1] == 2 and audio.shape[0] > 20 * rate
    assert np.abs(audio).max() > 0.01, "the demo is silent"

    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    plays = {e["act"]: e for e in events if e.get("kind") == "play"}
    ran = {e["ran"]: e["frame"] for e in events if "ran" in e}
    names = {plays[a]["name"] for a in ran if a in plays}
    assert {"trigger", "trigger_continuous", "continuous_variation", "continuous_repetition", "mix"} <= names
    # The timetagged phrase: eight triggers an eighth of a second apart, to the sample.
    sent = [json.loads(x) for x in (out / "sent.jsonl").read_text().splitlines()]
    assert sum(1 for s in sent if s.get("timetag")) == 8
    phrase = sorted(
        f
        for a, f in ran.items()
        if a in plays and plays[a]["velocity"] < 0.99 and plays[a]["name"] == "trigger"
    )
    steps = np.diff(phrase[-8:])
    assert (steps == rate // 8).all(), steps

    again, _ = replay(out)
    np.testing.assert_array_equal(again, audio)


def test_the_script_plays_the_models_own_categories():
    """A model of other categories (prepare --categories thud,groove) gets a demo of its own."""
    from gesturegan.server.tools.demo import script

    cues, _ = script(("thud", "groove"))
    named = {c.args[0] for c in cues if c.address == "/trigger"}
    named |= {args[0] for c in cues for _, address, args in c.bundle if address == "/trigger"}
    assert named == {"thud", "groove", "mix"}
