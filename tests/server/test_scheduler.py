"""Scheduling lands on the exact frame; late commands play at once and are counted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gesturegan.server.core.scheduler import ScheduleError, Scheduler, frame_at


def test_offsets_inside_blocks():
    s = Scheduler()
    for frame, name in [(300, "c"), (130, "b"), (5, "a"), (130, "b2")]:
        s.submit(frame, name)
    assert s.due(0, 128) == [(5, "a")]
    assert s.due(128, 128) == [(2, "b"), (2, "b2")]
    assert s.due(256, 128) == [(44, "c")]
    assert s.pending() == 0 and s.stats.late == 0


def test_late_commands_play_at_offset_zero_and_are_counted():
    s = Scheduler()
    s.submit(10, "x")
    assert s.due(256, 128) == [(0, "x")]
    assert s.stats.late == 1 and s.stats.late_frames_max == 246


@given(st.lists(st.integers(0, 10_000), max_size=50), st.sampled_from([64, 128, 256]))
def test_every_command_lands_on_its_frame_once(frames, block):
    s = Scheduler()
    for i, f in enumerate(frames):
        s.submit(f, i)
    seen = {}
    for start in range(0, 10_001 + block, block):
        for offset, i in s.due(start, block):
            seen[i] = start + offset
    assert seen == {i: f for i, f in enumerate(frames)}


def test_timetags_to_frames():
    assert frame_at(10.5, 10.0, 1000, 48000) == 25000
    assert frame_at(9.0, 10.0, 100_000, 48000) == 52000  # in the past: the scheduler makes it late
    with pytest.raises(ScheduleError, match="ahead"):
        frame_at(1e9, 0.0, 0, 48000)
