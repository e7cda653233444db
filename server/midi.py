"""MIDI control: a map from MIDI messages to the engine's OSC-style messages, and an input port.

Default map (overridable by a TOML file with the same keys): notes ``base_note`` .. +K-1 trigger
the K categories, and the same pattern repeats in every octave above; velocity scales the gain;
CC1/CC2 are morph X/Y; CC7 master gain; CC10 position; CC64 (sustain) holds stream mode; pitch
bend is the playback rate (+-``bend_range`` semitones); program change N loads the N-th model
(sorted by name) of the models folder. Anything else (sysex, aftertouch ...) is counted and ignored.

The port is a virtual input named ``gesturegan`` (CoreMIDI, ALSA, or JACK through python-rtmidi's
UNIX_JACK API) unless ``name`` opens an existing one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import tomllib

from gesturegan.server.engine import Engine


class MidiMapError(ValueError):
    pass


@dataclass(frozen=True)
class MidiMap:
    base_note: int = 36
    cc_x: int = 1
    cc_y: int = 2
    cc_gain: int = 7
    cc_position: int = 10
    cc_stream: int = 64
    bend_range: int = 2  # semitones either way
    channel: int | None = None  # None: every channel

    @classmethod
    def from_toml(cls, path: str | Path) -> MidiMap:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise MidiMapError(f"cannot read MIDI map {path}: {e}") from e
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise MidiMapError(f"unknown key {key!r} in {path}; known: {', '.join(sorted(known))}")
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 127:
                raise MidiMapError(f"{key} in {path} must be a MIDI number 0..127, not {value!r}")
        return replace(cls(), **data)


class MidiTranslator:
    """Stateful translation (X and Y arrive separately): ``translate(msg) -> [(address, args)]``."""

    def __init__(self, mapping: MidiMap, n_categories: int, models: Callable[[], list[str]] | None = None):
        self.map, self.k = mapping, n_categories
        self.models = models  # the names program change picks from (None: no models folder)
        self.x, self.y = 0.5, 0.5
        self.ignored = 0

    def translate(self, msg) -> list[tuple[str, list]]:
        m = self.map
        if m.channel is not None and getattr(msg, "channel", m.channel) != m.channel:
            return []
        if msg.type == "note_on" and msg.velocity > 0:
            offset = msg.note - m.base_note
            if offset >= 0 and offset % 12 < self.k:
                return [("/trigger", [offset % 12, msg.velocity / 127.0])]
            return []
        if msg.type == "control_change":
            v = msg.value / 127.0
            if msg.control == m.cc_x:
                self.x = v
                return [("/morph", [self.x, self.y])]
            if msg.control == m.cc_y:
                self.y = v
                return [("/morph", [self.x, self.y])]
            if msg.control == m.cc_gain:
                return [("/gain", [max(-120.0, 20 * math.log10(v)) if v > 0 else -120.0])]
            if msg.control == m.cc_position:
                return [("/position", [v])]
            if msg.control == m.cc_stream:
                return [("/stream/start" if msg.value >= 64 else "/stream/stop", [])]
            return []
        if msg.type == "pitchwheel":
            semitones = m.bend_range * msg.pitch / (8192 if msg.pitch < 0 else 8191)
            return [("/rate", [min(4.0, max(0.25, 2 ** (semitones / 12)))])]
        if msg.type == "program_change":
            names = self.models() if self.models is not None else []
            if msg.program < len(names):
                return [("/model/load", [names[msg.program]])]
        self.ignored += 1
        return []


class MidiInput:
    """An open MIDI input whose callback feeds ``engine`` (rtmidi's thread; it only enqueues)."""

    def __init__(
        self,
        engine: Engine,
        mapping: MidiMap = MidiMap(),
        name: str | None = None,
        api: str | None = None,
        models: Callable[[], list[str]] | None = None,
    ):
        import mido

        self.engine = engine
        self.translator = MidiTranslator(mapping, engine.info.n_categories, models)
        self.received = 0
        backend = mido.Backend(f"mido.backends.rtmidi/{api}" if api else "mido.backends.rtmidi")
        if name is None:
            self.port = backend.open_input("gesturegan", virtual=True, callback=self._on_message)
        else:
            matches = [n for n in backend.get_input_names() if name.lower() in n.lower()]
            if not matches:
                raise MidiMapError(f"no MIDI input matching {name!r}; found {backend.get_input_names()}")
            self.port = backend.open_input(matches[0], callback=self._on_message)

    def _on_message(self, msg) -> None:
        self.received += 1
        for address, args in self.translator.translate(msg):
            self.engine.message(address, args)

    def close(self) -> None:
        self.port.close()
