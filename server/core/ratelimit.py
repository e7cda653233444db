"""A token bucket: at most ``rate`` events a second, a burst of one second's worth (pure)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``take()`` is True while the budget lasts; it refills continuously at ``rate`` per second.

    Used wherever a flood must be cut rather than queued: ``/error`` replies, trigger-time
    generation on empty pools, MIDI events reaching the engine.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        """``clock``: seconds, monotonic (tests pass their own to step time exactly)."""
        self.rate = float(rate)
        self.clock = clock
        self.tokens = self.rate
        self.last = clock()
        self._lock = threading.Lock()  # several threads take from one budget (OSC, MIDI, worker)

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False
