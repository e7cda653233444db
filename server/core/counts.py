"""The engine's counters, counted from several threads (pure: no engine, no model)."""

from __future__ import annotations

import threading


class Counts(dict):
    """The engine's counters. ``add`` is atomic: the OSC, MIDI, worker and audio threads all count
    (``+=`` on a dict entry is a read and a write, and two threads can lose one)."""

    def __init__(self, **start: int):
        super().__init__(**start)
        self._lock = threading.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self[key] += n
