"""A token bucket: at most ``rate`` events a second, a burst of one second's worth (pure)."""

from __future__ import annotations

import time


class TokenBucket:
    """``take()`` is True while the budget lasts; it refills continuously at ``rate`` per second.

    Used wherever a flood must be cut rather than queued: ``/error`` replies, trigger-time
    generation on empty pools, MIDI events reaching the engine.
    """

    def __init__(self, rate: float):
        self.rate = float(rate)
        self.tokens = self.rate
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
