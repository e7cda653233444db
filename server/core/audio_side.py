"""Where the audio callback runs, as the engine sees it: one protocol, two placements (pure).

``LocalAudio`` keeps the player in this process (offline rendering, ``--mixer thread``, the
clocked, pyo and sounddevice backends); ``audio/mixer/``'s ``MixerProcess`` runs it alone in a
process of its own and implements the same protocol across a shared file and two pipes. The
engine holds one ``AudioSide`` and never asks which: a reply or an action added once works in
both placements.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

from gesturegan.server.core.counts import Counts
from gesturegan.server.core.player import Player
from gesturegan.server.core.scheduler import Scheduler
from gesturegan.server.core.voices import VoiceBank


class AudioSide(Protocol):
    """The engine's handle on the audio side.

    ``voices``: stage a gesture into the arena (``stage``, ``release_row``) and read the figures
    (``sounding``, ``stolen``, ``free_rows``, ``max_len``). ``scheduler``: ``submit(frame,
    action)``, ``pending()``, ``stats.late``. ``staged_only``: a play must have an arena row
    (the mixer process reads nothing else). ``frame``, ``master``: the audio side's. ``action_log``:
    where the frame each action ran at goes when recording. ``process(out)``: the callback, where
    it runs in this process."""

    voices: object
    scheduler: object
    staged_only: bool
    action_log: deque | None

    @property
    def frame(self) -> int: ...

    @property
    def master(self) -> float: ...

    def process(self, out: np.ndarray) -> None: ...


class LocalAudio:
    """The audio side in this process: a voice bank, a scheduler and the player over them."""

    staged_only = False

    def __init__(self, cfg, fade: int, max_len: int, replies: deque, counts: Counts):
        self.voices = VoiceBank(cfg.max_voices, cfg.channels, cfg.block, fade, max_len=max_len)
        self.scheduler = Scheduler()
        self.player = Player(self.voices, self.scheduler, cfg, replies, counts)

    @property
    def frame(self) -> int:
        return self.player.frame

    @property
    def master(self) -> float:
        return self.player.master

    @property
    def action_log(self) -> deque | None:
        return self.player.log

    @action_log.setter
    def action_log(self, value: deque | None) -> None:
        self.player.log = value

    def process(self, out: np.ndarray) -> None:
        """Fill ``out [block, channels]``: the audio callback (``Player.process``)."""
        self.player.process(out)
