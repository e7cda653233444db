"""The voice bank: playing gestures into an N-channel block without allocating (pure numpy).

Gestures play from rows of one preallocated sample arena (zero-padded on both sides); a voice's
read position, rate, gain, speaker gains and fade live in arrays sized at construction. The
control side ``stage``s a gesture into a free row before its start is scheduled, so starting a
voice on the audio thread copies nothing (a start without a staged row, as in a replay, copies
it there). Rows come back to the free list when their voice ends. ``mix`` renders
*all* sounding voices at once: one gather of every voice's samples for the block (linear
interpolation, so any playback rate), one envelope (gain, start offset, end, fade), and one
matrix product onto the speakers, every step into preallocated scratch with ``out=``. The cost
of a block is a fixed dozen numpy calls whatever the number of voices, never a Python loop over
them: the audio callback stays short, so it rarely has to hand the interpreter lock to another
thread in the middle of a block. It never allocates an audio buffer, never locks and never
waits. A start may begin part-way into a block (``offset``) for sample-accurate timing.

Positions over ``channels`` speakers use equal-power panning between the two nearest
neighbours; with two channels that is the usual stereo pan law (position 0 = left, 1 = right),
and with N channels position p in [0, 1) walks round the ring of speakers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np


def speaker_gains(position: float, channels: int, ring: bool | None = None) -> np.ndarray:
    """Equal-power gains ``[channels]`` for a position in [0, 1].

    Two channels (or ``ring=False``): a line from the first speaker (0) to the last (1).
    More (``ring`` default): a circle, position 0 and 1 both at speaker 0.
    """
    out = np.zeros(channels, np.float32)
    if channels == 1:
        out[0] = 1.0
        return out
    ring = channels > 2 if ring is None else ring
    p = float(position) % 1.0 if ring else min(max(float(position), 0.0), 1.0)
    span = channels if ring else channels - 1
    where = p * span
    a = math.floor(where) % channels
    b = (a + 1) % channels if ring else min(a + 1, channels - 1)
    frac = where - math.floor(where)
    out[a] += math.cos(frac * math.pi / 2)
    out[b] += math.sin(frac * math.pi / 2)
    return out


def mono(gesture: np.ndarray) -> np.ndarray:
    """A gesture ``[C, T]`` or ``[T]`` as the contiguous mono float32 ``[T]`` a voice plays (control side)."""
    g = np.asarray(gesture, np.float32)
    return np.ascontiguousarray(g.mean(axis=0) if g.ndim == 2 else g)


class VoiceBank:
    """``max_voices`` voices of mono gestures up to ``max_len`` samples, mixed into ``[block, channels]``."""

    def __init__(
        self,
        max_voices: int,
        channels: int,
        block: int,
        fade_samples: int = 256,
        max_len: int = 1 << 18,
        spare_rows: int = 16,
        arena: np.ndarray | None = None,
        row_len: np.ndarray | None = None,
    ):
        """``arena`` and ``row_len``: buffers of ``arena_shape(...)`` and ``[rows]`` int64 to use
        instead of fresh ones (shared memory, so another process can stage gestures)."""
        if max_voices < 1 or channels < 1 or block < 1 or max_len < 1:
            raise ValueError("voices, channels, block and length must be positive")
        self.max_voices, self.channels, self.block = max_voices, channels, block
        self.fade_samples = max(1, fade_samples)
        self.max_len = max_len
        # The arena: a row per sounding voice plus ``spare_rows`` for gestures staged and
        # waiting for their start; each row is a gesture between two zero pads, so reads before
        # the start, past the end and the interpolation's right neighbour all find silence.
        self.rows, self._row = self.arena_shape(max_voices, block, max_len, spare_rows)
        self._pad = block + 2
        if arena is None:
            arena = np.zeros((self.rows, self._row), np.float32)
            # Touch every page now: a first write to a fresh page in the audio callback is a page
            # fault (and, for a large mapping, a transparent huge page to zero), milliseconds on a
            # bad day. Real-time code faults its memory in before it plays.
            arena.fill(0.0)
        elif arena.shape != (self.rows, self._row) or arena.dtype != np.float32:
            raise ValueError(
                f"arena must be float32 {(self.rows, self._row)}, not {arena.dtype} {arena.shape}"
            )
        self.arena = arena
        self._flat = self.arena.reshape(-1)
        # samples written in each row
        self._row_len = np.zeros(self.rows, np.int64) if row_len is None else row_len
        self.free_rows: deque[int] = deque(range(self.rows))  # append/popleft: thread-safe
        # Where a row goes when its voice ends or its start is cancelled: the free list here; the
        # mixer process sends it back to the process that stages.
        self.on_release: Callable[[int], None] = self.free_rows.append
        self.slot_row = np.full(max_voices, -1, np.int64)
        # each voice's row start in the flat arena, spread over a block (see mix)
        self._base = np.zeros((max_voices, block), np.int64)
        V = max_voices
        self.length = np.zeros(V, np.int64)
        self._last = np.full(V, -1.0)  # length - 1: the last readable position
        self.pos = np.zeros(V, np.float64)  # read position; fractional at rates other than 1
        self.rate = np.ones(V, np.float64)
        self.default_rate = 1.0
        self.offset = np.zeros(V, np.float64)  # where in the next block it starts (whole frames)
        self.gain = np.zeros(V, np.float32)
        self.pan = np.zeros((V, channels), np.float32)
        self.fade_left = np.full(V, np.inf)  # output samples left to fade over; inf: not fading
        self.active = np.zeros(V, bool)
        self.ids = np.zeros(V, np.int64)
        self.started = np.zeros(V, np.int64)  # start order, for stealing the oldest
        self.next_id = 1
        self.counter = 0
        self.stolen = 0
        # Scratch for mix: [voices, block] and [voices] arrays, [block, channels] for the result.
        self._ramp = np.arange(block, dtype=np.float64)[None, :]
        self._rel, self._p, self._fl = (np.zeros((V, block)) for _ in range(3))
        self._idx = np.zeros((V, block), np.int64)
        self._a, self._b, self._frac, self._env = (np.zeros((V, block), np.float32) for _ in range(4))
        self._ok, self._ok2 = np.zeros((V, block), bool), np.zeros((V, block), bool)
        self._c = np.zeros((V, block))  # a per-voice value spread over its row
        self._pan_gain = np.zeros((V, channels), np.float32)
        self._wide = np.zeros((block, channels), np.float32)
        self._out_n = np.zeros(V)
        self._done, self._done2 = np.zeros(V, bool), np.zeros(V, bool)
        self.ended: list[int] = []  # voice ids that finished in the last mix (read by the host)

    @staticmethod
    def arena_shape(max_voices: int, block: int, max_len: int, spare_rows: int = 16) -> tuple[int, int]:
        """``(rows, row length)`` of the arena: a row per voice plus the spares, each a gesture of
        up to ``max_len`` samples between two pads of ``block + 2`` zeros."""
        return max_voices + spare_rows, max_len + 2 * (block + 2)

    def _free_slot(self) -> int:
        free = np.flatnonzero(~self.active)
        if free.size:
            return int(free[0])
        # Steal the oldest voice: it stops now (its slot is reused); the host reports it ended.
        slot = int(np.argmin(np.where(self.active, self.started, np.iinfo(np.int64).max)))
        self.ended.append(int(self.ids[slot]))
        self.stolen += 1
        self.active[slot] = False
        self._release(slot)
        return slot

    def _write(self, r: int, g: np.ndarray) -> int:
        """Copy ``g`` into row ``r`` (whoever owns the row); returns the samples written."""
        n = min(g.shape[0], self.max_len)
        row, pad = self.arena[r], self._pad
        row[pad : pad + n] = g[:n]
        old = int(self._row_len[r])
        if old > n:  # what the row held beyond this gesture's end must read as silence
            row[pad + n : pad + old] = 0.0
        self._row_len[r] = n
        return n

    def stage(self, gesture: np.ndarray) -> int | None:
        """Control side: copy a mono float32 gesture ``[T]`` into a free row for a start to come;
        returns the row (hand it to ``start``, or to ``release_row`` if the start never comes),
        or None when every row is taken (the start will copy on the audio thread)."""
        try:
            r = self.free_rows.popleft()
        except IndexError:
            return None
        self._write(r, gesture)
        return r

    def release_row(self, r: int | None) -> None:
        """A staged row whose start was cancelled goes back to the free list."""
        if r is not None:
            self.on_release(int(r))

    def _release(self, slot: int) -> None:
        r = int(self.slot_row[slot])
        if r >= 0:
            self.slot_row[slot] = -1
            self.on_release(r)

    def start(
        self,
        gesture: np.ndarray,
        gain: float = 1.0,
        position: float = 0.5,
        offset: int = 0,
        pan: np.ndarray | None = None,
        row: int | None = None,
    ) -> int:
        """Start a gesture at ``offset`` in the next block; returns its id (0: no row was free,
        nothing started).

        ``row``: where ``stage`` put the gesture (nothing is copied now); without it the gesture
        (``[T]`` float32 from ``mono``, or anything ``mono`` takes) is copied into a free row here.
        ``pan`` (``[channels]`` gains, from ``speaker_gains`` on the control side) overrides
        ``position``.
        """
        slot = self._free_slot()
        if row is None:
            g = gesture if gesture.ndim == 1 and gesture.dtype == np.float32 else mono(gesture)
            try:
                row = self.free_rows.popleft()
            except IndexError:
                return 0
            self._write(row, g)
        self.slot_row[slot] = row
        self._base[slot] = row * self._row + self._pad
        n = int(self._row_len[row])
        self.length[slot], self._last[slot], self.pos[slot] = n, n - 1, 0.0
        self.offset[slot] = min(max(int(offset), 0), self.block - 1)
        self.gain[slot] = gain
        if pan is None:
            pan = speaker_gains(position, self.channels)
        np.copyto(self.pan[slot], pan)
        self.rate[slot] = self.default_rate
        self.fade_left[slot] = np.inf
        self.active[slot] = True
        self.ids[slot] = voice_id = self.next_id
        self.next_id += 1
        self.counter += 1
        self.started[slot] = self.counter
        return voice_id

    def stop(self, voice_id: int | None = None) -> None:
        """Fade out one voice (or every voice) over ``fade_samples``."""
        hit = self.active & ((self.ids == voice_id) if voice_id is not None else True)
        self.fade_left[hit & np.isinf(self.fade_left)] = self.fade_samples

    def set_rate(self, rate: float) -> None:
        """Playback rate for sounding and new voices (1 = as generated; linear interpolation)."""
        self.default_rate = float(rate)
        self.rate[self.active] = self.default_rate

    def panic(self) -> None:
        """Silence everything at once."""
        self.ended.extend(int(i) for i in self.ids[self.active])
        for slot in np.flatnonzero(self.active):
            self._release(int(slot))
        self.active[:] = False

    @property
    def sounding(self) -> int:
        return int(self.active.sum())

    def mix(self, out: np.ndarray) -> None:
        """Add every sounding voice into ``out [block, channels]`` (float32); allocation-free.

        All voice rows at once, sounding or not (silent rows cost what a loop would cost to
        skip them). For voice v and output sample i, with ``rel = i - offset_v``: the read
        position is ``pos_v + rel * rate_v``, the sample is the linear interpolation there, heard
        where ``rel >= 0`` and the position is within the gesture, times the fade-out
        ``(fade_left_v - 1 - rel) / fade_samples`` clipped to [0, 1]. Then
        ``out += samples.T @ (speaker gains * gain)``.
        """
        if not self.active.any():
            return
        frames = out.shape[0]
        col = np.s_[:, None]
        rel, p, fl = self._rel[:, :frames], self._p[:, :frames], self._fl[:, :frames]
        idx, a, b = self._idx[:, :frames], self._a[:, :frames], self._b[:, :frames]
        frac, env = self._frac[:, :frames], self._env[:, :frames]
        ok, ok2, c = self._ok[:, :frames], self._ok2[:, :frames], self._c[:, :frames]
        # A per-voice value is first spread over its row (copyto broadcasts without allocating;
        # numpy 2 materialises a broadcast operand of an arithmetic ufunc in a temporary).
        np.copyto(rel, self._ramp[:, :frames])
        np.copyto(c, self.offset[col])
        np.subtract(rel, c, out=rel)
        np.copyto(c, self.rate[col])
        np.multiply(rel, c, out=p)
        np.copyto(c, self.pos[col])
        np.add(p, c, out=p)
        # heard: a sounding voice, after its start, not past its last sample
        np.greater_equal(rel, 0.0, out=ok)
        np.copyto(c, self._last[col])
        np.less_equal(p, c, out=ok2)
        np.logical_and(ok, ok2, out=ok)
        np.copyto(ok2, self.active[col])
        np.logical_and(ok, ok2, out=ok)
        np.copyto(env, ok)
        # the fade-out (1 where a voice is not fading: fade_left is inf)
        np.copyto(c, self.fade_left[col])
        np.subtract(c, rel, out=fl)
        np.subtract(fl, 1.0, out=fl)
        np.multiply(fl, 1.0 / self.fade_samples, out=fl)
        np.clip(fl, 0.0, 1.0, out=fl)
        np.copyto(b, fl, casting="same_kind")  # b is scratch until the gather (a mixed-type
        np.multiply(env, b, out=env)  # ufunc would be buffered)
        # gather both neighbours from the arena and interpolate (clipped into the row's pads)
        np.clip(p, -1.0, float(self.max_len), out=fl)
        np.floor(fl, out=fl)
        np.subtract(p, fl, out=p)
        np.copyto(frac, p, casting="same_kind")
        np.copyto(idx, fl, casting="unsafe")
        np.add(idx, self._base[:, :frames], out=idx)
        np.take(self._flat, idx, out=a, mode="clip")
        np.add(idx, 1, out=idx)
        np.take(self._flat, idx, out=b, mode="clip")
        np.subtract(b, a, out=b)
        np.multiply(b, frac, out=b)
        np.add(a, b, out=a)
        np.multiply(a, env, out=a)
        # onto the speakers: [frames, voices] @ [voices, channels]
        np.copyto(self._pan_gain, self.gain[col])
        np.multiply(self._pan_gain, self.pan, out=self._pan_gain)
        wide = self._wide[:frames]
        np.matmul(a.T, self._pan_gain, out=wide)
        np.add(out, wide, out=out)
        # advance every voice by the samples it played, and end what finished
        n = self._out_n
        np.subtract(float(frames), self.offset, out=n)
        np.subtract(self.fade_left, n, out=self.fade_left)
        np.multiply(n, self.rate, out=n)
        np.add(self.pos, n, out=self.pos)
        self.offset.fill(0.0)
        done, done2 = self._done, self._done2
        np.greater(self.pos, self._last, out=done)
        np.less_equal(self.fade_left, 0.0, out=done2)
        np.logical_or(done, done2, out=done)
        np.logical_and(done, self.active, out=done)
        if done.any():
            for v in np.flatnonzero(done):
                self.active[v] = False
                self.ended.append(int(self.ids[v]))
                self._release(int(v))
