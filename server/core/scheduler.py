"""Sample-accurate scheduling of commands (pure).

Control threads ``submit`` commands with the engine frame they are due at (a ``deque`` append,
atomic under the GIL, so they never block the audio thread); at the start of each block the
audio thread calls ``due(block_start, frames)`` and gets ``(offset, command)`` pairs for that
block, in time order. A command whose frame has passed plays at offset 0 and is counted late;
``ASAP`` (an immediate message, no timetag) plays at the next block and is never late.
Timetags (OSC bundles, MIDI timestamps) become frames with ``frame_at``.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass

#: Bundles further ahead than this are refused: a typo in a timetag must not arm a note for next year.
MAX_AHEAD_S = 3600.0
#: The frame of a command with no time of its own: the start of the next block the audio thread runs.
ASAP = -1


class ScheduleError(ValueError):
    pass


def frame_at(when_s: float, now_s: float, now_frame: int, sample_rate: int) -> int:
    """The engine frame of wall-clock time ``when_s``, given that ``now_s`` is frame ``now_frame``."""
    ahead = when_s - now_s
    if ahead > MAX_AHEAD_S:
        raise ScheduleError(f"timetag is {ahead:.0f} s ahead (at most {MAX_AHEAD_S:.0f} s)")
    return now_frame + round(ahead * sample_rate)


@dataclass
class SchedulerStats:
    submitted: int = 0
    late: int = 0  # due before the block they were handled in
    late_frames_max: int = 0


class Scheduler:
    def __init__(self) -> None:
        self._inbox: deque = deque()
        self._heap: list = []
        self._order = itertools.count()  # ties keep submission order
        self.stats = SchedulerStats()

    def submit(self, frame: int, command: object) -> None:
        """From any thread: run ``command`` at engine frame ``frame`` (or as soon as possible)."""
        self._inbox.append((int(frame), command))
        self.stats.submitted += 1

    def due(self, block_start: int, frames: int) -> list[tuple[int, object]]:
        """Audio thread: commands due in ``[block_start, block_start + frames)`` with their offsets."""
        while self._inbox:
            frame, command = self._inbox.popleft()
            heapq.heappush(self._heap, (frame, next(self._order), command))
        out = []
        end = block_start + frames
        while self._heap and self._heap[0][0] < end:
            frame, _, command = heapq.heappop(self._heap)
            if frame == ASAP:
                frame = block_start
            elif frame < block_start:
                self.stats.late += 1
                self.stats.late_frames_max = max(self.stats.late_frames_max, block_start - frame)
                frame = block_start
            out.append((frame - block_start, command))
        return out

    def pending(self) -> int:
        return len(self._heap) + len(self._inbox)

    def cancel_pending(self, keep=None) -> list:
        """Audio thread only (it owns the heap): drop everything not yet due, e.g. on panic;
        ``keep(command)`` true spares a command (a panic spares what was sent after it).
        Returns the dropped commands (their owner may hold resources for them)."""
        while self._inbox:
            frame, command = self._inbox.popleft()
            heapq.heappush(self._heap, (frame, next(self._order), command))
        if keep is None:
            dropped = [item[2] for item in self._heap]
            self._heap.clear()
        else:
            dropped = [item[2] for item in self._heap if not keep(item[2])]
            self._heap = [item for item in self._heap if keep(item[2])]
            heapq.heapify(self._heap)
        return dropped
