"""What the control side asks the audio side to do, one typed value per action (pure).

Built by ``Engine.submit``'s callers, scheduled by frame, carried out by ``Player.process`` (in
this process or the mixer process, which gets them through ``audio/mixer/``'s records) and
logged by ``audio/record.py``. NamedTuples: attribute access for readers, tuple speed on the
audio thread. Every action carries its id: a panic cancels the actions sent before it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Play(NamedTuple):
    """Start a gesture: its mono samples (or None in the mixer process, which reads ``row``),
    velocity, speaker gains ``[channels]``, the name ``/voice/start`` reports, its arena row."""

    id: int
    samples: np.ndarray | None
    velocity: float
    pan: np.ndarray
    name: str | int
    row: int | None = None


class Stop(NamedTuple):
    """Stop one voice (``voice``), or every voice (None); sounding gestures fade out."""

    id: int
    voice: int | None


class Panic(NamedTuple):
    """Silence at once and cancel every action sent before this one."""

    id: int


class Gain(NamedTuple):
    """The master gain, linear."""

    id: int
    gain: float


class Rate(NamedTuple):
    """The playback rate of sounding and new gestures (0.25..4)."""

    id: int
    rate: float


Action = Play | Stop | Panic | Gain | Rate

#: the word each action is logged and replied as (``/error /play ...``, ``events.jsonl`` kinds)
KIND: dict[type, str] = {Play: "play", Stop: "stop", Panic: "panic", Gain: "gain", Rate: "rate"}


def kind_of(action: Action) -> str:
    return KIND[type(action)]
