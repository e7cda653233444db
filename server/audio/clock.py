"""The audio clock: which engine frame plays at which wall time (stamped by the audio side, read
by whatever schedules against it: OSC timetags, the mixer link)."""

from __future__ import annotations

import time

from gesturegan.server.core.scheduler import frame_at


class AudioClock:
    """Which engine frame starts when: the audio callback stamps every block."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.anchor = (0, time.time())  # (frame, wall time): one attribute, so read whole

    def stamp(self, frame: int) -> None:
        self.anchor = (frame, time.time())

    def frame_at(self, when: float, anchor: tuple[int, float] | None = None) -> int:
        """The frame of wall time ``when``; pass one ``anchor`` for every message of a packet so
        their spacing is exact whatever the clock does between them."""
        frame, wall = anchor or self.anchor
        return frame_at(when, wall, frame, self.sample_rate)
