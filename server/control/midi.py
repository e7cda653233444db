"""MIDI control: a map from MIDI messages to the engine's OSC-style messages, and an input port.

Default map (overridable by a TOML file with the same keys): notes ``base_note`` .. +K-1 trigger
the K categories, and the same pattern repeats in every octave above; velocity scales the gain;
CC1/CC2 are morph X/Y; CC7 master gain; CC10 position; CC64 (sustain) holds stream mode; pitch
bend is the playback rate (+-``bend_range`` semitones); program change N loads the N-th model
(sorted by name) of the models folder; CC20 picks the N-th sound of the ``--sounds`` folder for
``/like`` (0: off) and CC21 its amount (0..2). Anything else (sysex, aftertouch ...) is counted and ignored.

The port is a virtual input named ``gesturegan`` (CoreMIDI, ALSA, or JACK through python-rtmidi's
UNIX_JACK API) unless ``name`` opens an existing one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import tomllib

from gesturegan.server.core.engine import Engine
from gesturegan.server.core.ratelimit import TokenBucket


class MidiMapError(ValueError):
    pass


class MidiUnavailable(RuntimeError):
    """No MIDI system here (e.g. no ALSA sequencer in a container); the server plays on without."""


@dataclass(frozen=True)
class MidiMap:
    base_note: int = 36
    cc_x: int = 1
    cc_y: int = 2
    cc_gain: int = 7
    cc_position: int = 10
    cc_stream: int = 64
    cc_like: int = 20  # value N: /like the N-th sound of the sounds folder (0: /like/off)
    cc_like_amount: int = 21  # 0..127: /latent/jitter 0..2 (the amount of a /like take)
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
            top = 15 if key == "channel" else 127  # channel 0..15 is MIDI's 1..16
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise MidiMapError(f"{key} in {path} must be a MIDI number 0..{top}, not {value!r}")
        return replace(cls(), **data)


class MidiTranslator:
    """Stateful translation (X and Y arrive separately): ``translate(msg) -> [(address, args)]``."""

    def __init__(
        self,
        mapping: MidiMap,
        n_categories: int,
        models: Callable[[], list[str]] | None = None,
        sounds: Callable[[], list[str]] | None = None,
    ):
        self.map, self.k = mapping, n_categories
        self.models = models  # the names program change picks from (None: no models folder)
        self.sounds = sounds  # the names CC20 picks from (None: no sounds folder)
        self.x, self.y = 0.5, 0.5
        self.ignored = 0

    def translate(self, msg) -> list[tuple[str, list]]:
        """A mido message (or raw bytes) to engine messages."""
        return self.translate_bytes(msg.bytes() if hasattr(msg, "bytes") else list(msg))

    def translate_bytes(self, data) -> list[tuple[str, list]]:
        """Raw MIDI bytes (status first) to engine messages; anything unmapped is counted."""
        m = self.map
        if not data:
            self.ignored += 1
            return []
        status = data[0]
        kind, channel = status & 0xF0, status & 0x0F
        if status >= 0xF0 or len(data) < 2 or (m.channel is not None and channel != m.channel):
            self.ignored += 1
            return []
        if kind == 0x90 and len(data) >= 3 and data[2] > 0:
            offset = data[1] - m.base_note
            if offset >= 0 and offset % 12 < self.k:
                return [("/trigger", [offset % 12, data[2] / 127.0])]
            return []
        if kind == 0xB0 and len(data) >= 3:
            control, value = data[1], data[2]
            v = value / 127.0
            if control == m.cc_x:
                self.x = v
                return [("/morph", [self.x, self.y])]
            if control == m.cc_y:
                self.y = v
                return [("/morph", [self.x, self.y])]
            if control == m.cc_gain:
                return [("/gain", [max(-120.0, 20 * math.log10(v)) if v > 0 else -120.0])]
            if control == m.cc_position:
                return [("/position", [v])]
            if control == m.cc_stream:
                return [("/stream/start" if value >= 64 else "/stream/stop", [])]
            if control == m.cc_like_amount:
                return [("/latent/jitter", [2.0 * v])]
            if control == m.cc_like:
                names = self.sounds() if self.sounds is not None else []
                if value == 0:
                    return [("/like/off", [])]
                if value - 1 < len(names):
                    return [("/like", [names[value - 1]])]
                self.ignored += 1
                return []
            return []
        if kind == 0xE0 and len(data) >= 3:
            pitch = (data[1] | (data[2] << 7)) - 8192
            semitones = m.bend_range * pitch / (8192 if pitch < 0 else 8191)
            return [("/rate", [min(4.0, max(0.25, 2 ** (semitones / 12)))])]
        if kind == 0xC0:
            names = self.models() if self.models is not None else []
            if data[1] < len(names):
                return [("/model/load", [names[data[1]]])]
        if kind != 0x80:  # note-offs are expected and need nothing
            self.ignored += 1
        return []


def _destinations(rtapi: int) -> list[str]:
    """Names of the MIDI ports one can send to, as the MIDI system shows them."""
    import rtmidi

    probe = rtmidi.MidiOut(rtapi=rtapi, name="gesturegan-probe")
    try:
        return probe.get_ports()
    finally:
        probe.delete()


class MidiInput:
    """An open MIDI input feeding ``engine`` from a thread that drains it every ``poll_s``.

    Draining in batches instead of a per-event callback: a callback from rtmidi's thread asks
    for the interpreter lock once per event, and at 10,000 events/s that churn alone made the
    audio callback late (21 xruns in 10 s against 0 idle). Raw bytes, not mido objects, on the
    hot path; rtmidi filters sysex, clock and active sensing in C. At most ``max_per_s`` events a
    second reach the engine (a token bucket); the rest are counted in ``dropped``, so a runaway
    controller or a loop in a patch cannot starve the audio thread.
    """

    def __init__(
        self,
        engine: Engine,
        mapping: MidiMap = MidiMap(),
        name: str | None = None,
        api: str | None = None,
        models: Callable[[], list[str]] | None = None,
        sounds: Callable[[], list[str]] | None = None,
        max_per_s: float = 1000.0,
        poll_s: float = 0.001,
    ):
        import rtmidi

        self.engine = engine
        self.translator = MidiTranslator(mapping, engine.info.n_categories, models, sounds)
        self.received = 0
        self.dropped = 0
        self.budget = TokenBucket(max_per_s)
        rtapi = getattr(rtmidi, f"API_{api}", rtmidi.API_UNSPECIFIED) if api else rtmidi.API_UNSPECIFIED
        try:
            self.port = rtmidi.MidiIn(rtapi=rtapi, name="gesturegan", queue_size_limit=4096)
        except rtmidi.SystemError as e:
            raise MidiUnavailable(f"no MIDI system available ({e})") from e
        self.port.ignore_types(sysex=True, timing=True, active_sense=True)
        if name is None:
            # The port others see: JACK renames a client whose name is taken (our own audio client
            # is "gesturegan", so this one becomes "gesturegan-01"); the new destination is ours.
            before = set(_destinations(rtapi))
            self.port.open_virtual_port("gesturegan")
            new = [n for n in _destinations(rtapi) if n not in before]
            self.port_name = new[0] if len(new) == 1 else "gesturegan"
        else:
            names = self.port.get_ports()
            matches = [i for i, n in enumerate(names) if name.lower() in n.lower()]
            if not matches:
                self.port.delete()
                there = (
                    f"the inputs here are: {', '.join(names)}" if names else "there are no MIDI inputs here"
                )
                raise MidiMapError(f"--midi {name}: no MIDI input matches it; {there}")
            self.port.open_port(matches[0])
            self.port_name = names[matches[0]]
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gesturegan-midi", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        get = self.port.get_message
        while not self._stop.is_set():
            event = get()
            while event is not None:
                self._on_message(event)
                event = get()
            time.sleep(self._poll_s)

    def _on_message(self, event) -> None:
        self.received += 1
        if not self.budget.take():
            self.dropped += 1
            return
        for address, args in self.translator.translate_bytes(event[0]):
            self.engine.message(address, args)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.port.close_port()
        self.port.delete()
