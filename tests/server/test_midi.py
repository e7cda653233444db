"""MIDI: the default map, TOML overrides, and a note over a real JACK MIDI port."""

from __future__ import annotations

import time

import mido
import pytest

from gesturegan.server.control.midi import MidiInput, MidiMap, MidiMapError, MidiTranslator


def test_default_map():
    t = MidiTranslator(MidiMap(), 4)
    assert t.translate(mido.Message("note_on", note=38, velocity=127)) == [("/trigger", [2, 1.0])]
    assert t.translate(mido.Message("note_on", note=36 + 12 + 3, velocity=64)) == [
        ("/trigger", [3, 64 / 127])
    ]
    assert t.translate(mido.Message("note_on", note=40, velocity=100)) == []  # beyond the 4 categories
    assert t.translate(mido.Message("note_on", note=36, velocity=0)) == []  # a note-off in disguise
    assert t.translate(mido.Message("control_change", control=1, value=127)) == [("/morph", [1.0, 0.5])]
    assert t.translate(mido.Message("control_change", control=2, value=0)) == [("/morph", [1.0, 0.0])]
    assert t.translate(mido.Message("control_change", control=7, value=0)) == [("/gain", [-120.0])]
    assert t.translate(mido.Message("control_change", control=64, value=127)) == [("/stream/start", [])]
    assert t.translate(mido.Message("control_change", control=10, value=127)) == [("/position", [1.0])]
    assert t.translate(mido.Message("pitchwheel", pitch=8191)) == [("/rate", [pytest.approx(2 ** (2 / 12))])]
    assert t.translate(mido.Message("pitchwheel", pitch=-8192)) == [
        ("/rate", [pytest.approx(2 ** (-2 / 12))])
    ]
    assert t.translate(mido.Message("pitchwheel", pitch=0)) == [("/rate", [1.0])]
    assert t.translate(mido.Message("program_change", program=0)) == []  # no models folder
    t.translate(mido.Message("sysex", data=[1, 2, 3]))
    assert t.ignored == 2 + 1  # sysex, and the program change with nothing to pick


def test_program_change_picks_a_model_by_its_place_in_the_folder(tmp_path):
    from gesturegan.server.control.paths import listing

    for name in ("b.onnx", "a.onnx", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "out.onnx").symlink_to("/etc/hostname")  # a link out is never offered
    t = MidiTranslator(MidiMap(), 4, models=lambda: listing(tmp_path, ".onnx"))
    assert t.translate(mido.Message("program_change", program=1)) == [("/model/load", ["b.onnx"])]
    assert t.translate(mido.Message("program_change", program=2)) == []
    assert t.ignored == 1


def test_toml_overrides_and_refusals(tmp_path):
    good = tmp_path / "map.toml"
    good.write_text("base_note = 60\ncc_x = 20\n")
    m = MidiMap.from_toml(good)
    assert m.base_note == 60 and m.cc_x == 20 and m.cc_y == 2
    bad = tmp_path / "bad.toml"
    for text, message in [
        ("note = 1\n", "unknown key 'note'"),
        ("cc_x = 300\n", "0..127"),
        ("x = [\n", "cannot read"),
    ]:
        bad.write_text(text)
        with pytest.raises(MidiMapError, match=message):
            MidiMap.from_toml(bad)


@pytest.mark.jack
def test_a_note_over_jack_midi_triggers(jack_server, server_models):
    import jack

    from gesturegan.server.core.engine import Engine, EngineConfig
    from gesturegan.server.inference.model import load_model

    engine = Engine(load_model(server_models["gan"], provider="cpu"), EngineConfig(sample_rate=16000))
    midi = MidiInput(engine, api="UNIX_JACK")
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    out = backend.open_output("gg-test-keys", virtual=True)
    try:
        with jack.Client("gg-midi-patch", servername=jack_server.name, no_start_server=True) as patch:
            deadline = time.monotonic() + 5
            src = dst = None
            while time.monotonic() < deadline and not (src and dst):
                ports = patch.get_ports(is_midi=True)
                src = next((p for p in ports if "gg-test-keys" in p.name and p.is_output), None)
                dst = next(
                    (p for p in ports if p.name == midi.port_name and p.is_input), None
                )  # as announced
                time.sleep(0.05)
            assert src and dst, [p.name for p in patch.get_ports(is_midi=True)]
            patch.connect(src, dst)
            time.sleep(0.2)
            out.send(mido.Message("note_on", note=37, velocity=100))
            deadline = time.monotonic() + 5
            while engine.counts["triggers"] == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        out.close()
        midi.close()
    assert engine.counts["triggers"] == 1 and midi.received == 1
    assert engine.scheduler.pending() == 1


@pytest.mark.jack
def test_a_missing_midi_input_lists_the_ones_there_are(jack_server, server_models):
    from gesturegan.server.core.engine import Engine, EngineConfig
    from gesturegan.server.inference.model import load_model

    engine = Engine(load_model(server_models["gan"], provider="cpu"), EngineConfig(sample_rate=16000))
    keys = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("gg-keyboard", virtual=True)
    try:
        time.sleep(0.2)
        with pytest.raises(
            MidiMapError, match=r"--midi NoSuch: no MIDI input matches it; the inputs here are: .*gg-keyboard"
        ):
            MidiInput(engine, name="NoSuch", api="UNIX_JACK")
        midi = MidiInput(engine, name="gg-keyboard", api="UNIX_JACK")
        assert midi.port_name.endswith("gg-keyboard") or "gg-keyboard" in midi.port_name
        midi.close()
    finally:
        keys.close()
