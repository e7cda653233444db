"""The audio side of the engine: the scheduler's due actions and the voice bank, block by block.

``Player.process(out)`` is what an audio callback runs. It reads only what the control side
prepared (gestures staged in the voice arena, speaker gains, velocities) and never generates,
waits or locks. It runs in the engine's own process (offline rendering, sounddevice, pyo, the
clocked backend) or alone in the mixer process (``server/audio/mixer/``), where no control thread
shares its interpreter lock.

Actions are the typed values of ``core/actions.py`` (``Play``, ``Stop``, ``Panic``, ``Gain``,
``Rate``), scheduled by frame.
Replies go to ``replies`` (``/voice/start id label``, ``/voice/end id``, ``/error``); when
``log`` is a deque, the frame each action ran at is appended to it (recording).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from gesturegan.server.core.actions import Action, Gain, Panic, Play, Rate, Stop
from gesturegan.server.core.scheduler import Scheduler
from gesturegan.server.core.voices import VoiceBank


class Player:
    """Plays ``scheduler``'s actions through ``voices`` into ``[block, channels]`` blocks."""

    def __init__(
        self,
        voices: VoiceBank,
        scheduler: Scheduler,
        cfg,
        replies: deque | None = None,
        counts: dict | None = None,
        feed: Callable[[], None] | None = None,
    ):
        self.voices, self.scheduler, self.cfg = voices, scheduler, cfg
        self.replies: deque = deque() if replies is None else replies
        if counts is None:
            from gesturegan.server.core.counts import Counts

            counts = Counts(dropped=0, xruns=0)
        self.counts = counts
        self.log: deque | None = None
        self.master = 1.0
        self.frame = 0  # engine frame of the next block's first sample
        self.feed = feed  # called first in every block: moves actions from elsewhere into the scheduler

    def _drop_play(self, action: Action) -> None:
        """A play that will never start gives its staged arena row back."""
        if type(action) is Play and action.row is not None:
            self.voices.release_row(action.row)

    def process(self, out: np.ndarray) -> None:
        """Fill ``out [block, channels]``: due actions at their offsets, the voices, master gain."""
        if self.feed is not None:
            self.feed()
        out.fill(0.0)
        frames = out.shape[0]
        panic_id = 0  # a panic cancels what was sent before it, never what was sent after
        for offset, action in self.scheduler.due(self.frame, frames):
            kind = type(action)
            if kind is Play and action.id < panic_id:
                self._drop_play(action)
                continue
            if self.log is not None:
                self.log.append(("ran", action.id, self.frame + offset))
            if kind is Play:
                vid = self.voices.start(
                    action.samples, action.velocity, offset=offset, pan=action.pan, row=action.row
                )
                if vid:
                    self.replies.append(("/voice/start", vid, action.name))
                else:  # every arena row taken by pending starts: this one cannot play
                    self.counts.add("dropped", 1)
                    self.replies.append(("/error", "/trigger", "too many gestures waiting to start"))
            elif kind is Stop:
                self.voices.stop(action.voice)
            elif kind is Panic:
                self.voices.panic()
                panic_id = action.id
                for dropped in self.scheduler.cancel_pending(keep=lambda a, p=panic_id: a.id > p):
                    self._drop_play(dropped)
            elif kind is Gain:
                self.master = action.gain
            elif kind is Rate:
                self.voices.set_rate(action.rate)
        self.voices.mix(out)
        if self.master != 1.0:
            np.multiply(out, self.master, out=out)
        while self.voices.ended:
            self.replies.append(("/voice/end", self.voices.ended.pop(0)))
        self.frame += frames
