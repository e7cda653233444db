"""The voice bank: playing gestures into an N-channel block without allocating (pure numpy).

Each voice's read position, gain, speaker gains and fade live in arrays sized at construction;
a voice plays its gesture by reference (the control side hands over a mono float32 array it will
not touch again, see ``mono``), so starting one copies nothing on the audio thread. ``start``
takes a free slot (or steals the oldest voice), ``mix`` adds every sounding voice into the
output block with ``out=`` ufuncs only, so the audio callback never allocates an array, never
locks and never waits. A start may begin part-way into a block (``offset``) for sample-accurate
timing.

Positions over ``channels`` speakers use equal-power panning between the two nearest
neighbours; with two channels that is the usual stereo pan law (position 0 = left, 1 = right),
and with N channels position p in [0, 1) walks round the ring of speakers.
"""

from __future__ import annotations

import math

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
    """``max_voices`` voices of mono gestures, mixed into ``[block, channels]``."""

    def __init__(self, max_voices: int, channels: int, block: int, fade_samples: int = 256):
        if max_voices < 1 or channels < 1 or block < 1:
            raise ValueError("voices, channels and block must be positive")
        self.max_voices, self.channels, self.block = max_voices, channels, block
        self.fade_samples = max(1, fade_samples)
        self.sources: list[np.ndarray | None] = [None] * max_voices  # each voice's gesture, by reference
        self.length = np.zeros(max_voices, np.int64)
        self.pos = np.zeros(max_voices, np.float64)  # read position; fractional at rates other than 1
        self.rate = np.ones(max_voices, np.float64)
        self.default_rate = 1.0
        self.offset = np.zeros(max_voices, np.int64)  # where in the next block it starts
        self.gain = np.zeros(max_voices, np.float32)
        self.pan = np.zeros((max_voices, channels), np.float32)
        self.fade_left = np.full(max_voices, -1, np.int64)  # -1: not fading
        self.active = np.zeros(max_voices, bool)
        self.ids = np.zeros(max_voices, np.int64)
        self.started = np.zeros(max_voices, np.int64)  # start order, for stealing the oldest
        self.next_id = 1
        self.counter = 0
        self.stolen = 0
        self._seg = np.zeros(block, np.float32)
        self._seg2 = np.zeros(block, np.float32)  # interpolation scratch (rate != 1)
        self._ramp = np.arange(block, dtype=np.float64)
        self._t = np.zeros(block, np.float64)
        self._floor = np.zeros(block, np.float64)
        self._idx = np.zeros(block, np.int64)
        self._wide = np.zeros((block, channels), np.float32)
        self._fade_curve = np.linspace(1.0, 0.0, self.fade_samples + 1, dtype=np.float32)[1:]
        self.ended: list[int] = []  # voice ids that finished in the last mix (read by the host)

    def _free_slot(self) -> int:
        free = np.flatnonzero(~self.active)
        if free.size:
            return int(free[0])
        # Steal the oldest voice: it stops now (its slot is reused); the host reports it ended.
        slot = int(np.argmin(np.where(self.active, self.started, np.iinfo(np.int64).max)))
        self.ended.append(int(self.ids[slot]))
        self.stolen += 1
        return slot

    def start(
        self,
        gesture: np.ndarray,
        gain: float = 1.0,
        position: float = 0.5,
        offset: int = 0,
        pan: np.ndarray | None = None,
    ) -> int:
        """Start a gesture at ``offset`` in the next block; returns its id.

        ``gesture`` should come from ``mono`` (then it is played in place, not copied); ``pan``
        (``[channels]`` gains, from ``speaker_gains`` on the control side) overrides ``position``.
        """
        g = gesture if gesture.ndim == 1 and gesture.dtype == np.float32 else mono(gesture)
        slot = self._free_slot()
        self.sources[slot] = g
        self.length[slot], self.pos[slot] = g.shape[0], 0
        self.offset[slot] = min(max(int(offset), 0), self.block - 1)
        self.gain[slot] = gain
        if pan is None:
            pan = speaker_gains(position, self.channels)
        np.copyto(self.pan[slot], pan)
        self.rate[slot] = self.default_rate
        self.fade_left[slot] = -1
        self.active[slot] = True
        self.ids[slot] = voice_id = self.next_id
        self.next_id += 1
        self.counter += 1
        self.started[slot] = self.counter
        return voice_id

    def stop(self, voice_id: int | None = None) -> None:
        """Fade out one voice (or every voice) over ``fade_samples``."""
        hit = self.active & ((self.ids == voice_id) if voice_id is not None else True)
        self.fade_left[hit & (self.fade_left < 0)] = self.fade_samples

    def set_rate(self, rate: float) -> None:
        """Playback rate for sounding and new voices (1 = as generated; linear interpolation)."""
        self.default_rate = float(rate)
        self.rate[self.active] = self.default_rate

    def panic(self) -> None:
        """Silence everything at once."""
        self.ended.extend(int(i) for i in self.ids[self.active])
        self.active[:] = False
        self.sources = [None] * self.max_voices

    @property
    def sounding(self) -> int:
        return int(self.active.sum())

    def mix(self, out: np.ndarray) -> None:
        """Add every sounding voice into ``out [block, channels]`` (float32); allocation-free."""
        frames = out.shape[0]
        for v in np.flatnonzero(self.active):
            off = int(self.offset[v])
            length, rate = int(self.length[v]), float(self.rate[v])
            fading = self.fade_left[v] >= 0
            if rate == 1.0:
                pos = int(self.pos[v])
                n = min(frames - off, length - pos)
                if fading:
                    n = min(n, int(self.fade_left[v]))
                seg = self._seg[:n]
                np.multiply(self.sources[v][pos : pos + n], self.gain[v], out=seg)
                self.pos[v] = pos + n
            else:
                seg = self._resample(v, rate, frames - off, length, fading)
                n = seg.shape[0]
            if fading:
                start = self.fade_samples - int(self.fade_left[v])
                np.multiply(seg, self._fade_curve[start : start + n], out=seg)
                self.fade_left[v] -= n
            wide = self._wide[:n]
            np.multiply(seg[:, None], self.pan[v][None, :], out=wide)
            np.add(out[off : off + n], wide, out=out[off : off + n])
            self.offset[v] = 0
            if self.pos[v] > length - 1 or (fading and self.fade_left[v] <= 0):
                self.active[v] = False
                self.sources[v] = None  # drop the reference; the gesture's memory goes with it
                self.ended.append(int(self.ids[v]))

    def _resample(self, v: int, rate: float, room: int, length: int, fading: bool) -> np.ndarray:
        """Voice ``v`` read at ``rate`` by linear interpolation into scratch ``[n]``; advances it."""
        p0 = float(self.pos[v])
        n = min(room, max(0, math.floor((length - 1 - p0) / rate) + 1))
        if fading:
            n = min(n, int(self.fade_left[v]))
        t, fl, idx = self._t[:n], self._floor[:n], self._idx[:n]
        a, b = self._seg[:n], self._seg2[:n]
        np.multiply(self._ramp[:n], rate, out=t)
        np.add(t, p0, out=t)
        np.floor(t, out=fl)
        np.copyto(idx, fl, casting="unsafe")
        np.subtract(t, fl, out=t)  # the fraction between neighbours
        src = self.sources[v]
        np.take(src, idx, out=a, mode="clip")
        np.add(idx, 1, out=idx)
        np.take(src, idx, out=b, mode="clip")
        np.subtract(b, a, out=b)
        np.multiply(b, t, out=b, casting="same_kind")
        np.add(a, b, out=a)
        np.multiply(a, self.gain[v], out=a)
        self.pos[v] = p0 + n * rate if n else float(length)
        return a
