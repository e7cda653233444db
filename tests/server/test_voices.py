"""The voice bank, driven sample by sample: offsets, lengths, panning, fades, stealing, no allocation."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from gesturegan.server.core.voices import VoiceBank, speaker_gains


def _run(bank: VoiceBank, blocks: int) -> np.ndarray:
    out = np.zeros((blocks * bank.block, bank.channels), np.float32)
    for i in range(blocks):
        bank.mix(out[i * bank.block : (i + 1) * bank.block])
    return out


def test_a_gesture_starts_at_its_offset_and_plays_whole():
    bank = VoiceBank(4, 1, 64)
    g = np.arange(1, 301, dtype=np.float32)
    vid = bank.start(g, gain=0.5, offset=10)
    out = _run(bank, 8)[:, 0]
    assert np.all(out[:10] == 0)
    np.testing.assert_array_equal(out[10:310], 0.5 * g)
    assert np.all(out[310:] == 0)
    assert bank.ended == [vid] and bank.sounding == 0


@pytest.mark.parametrize("channels", [2, 8])
def test_equal_power_panning(channels):
    for p in np.linspace(0, 1, 17):
        g = speaker_gains(p, channels)
        assert abs(float((g**2).sum()) - 1.0) < 1e-6
        assert (g > 1e-6).sum() <= 2
    np.testing.assert_allclose(speaker_gains(0.0, 2), [1, 0], atol=1e-7)
    np.testing.assert_allclose(speaker_gains(1.0, 2), [0, 1], atol=1e-7)
    assert speaker_gains(3 / 8, 8)[3] == pytest.approx(1.0)


def test_stop_fades_out_and_panic_silences():
    bank = VoiceBank(4, 2, 64, fade_samples=128)
    a = bank.start(np.ones(10000, np.float32), position=0.0)
    _run(bank, 1)
    bank.stop(a)
    out = _run(bank, 4)[:, 0]
    assert out[0] < 1.0 and np.all(np.diff(out[:128]) <= 0) and np.all(out[128:] == 0)
    assert bank.ended == [a]
    bank.start(np.ones(10000, np.float32))
    bank.panic()
    assert bank.sounding == 0 and np.all(_run(bank, 1) == 0)


def test_voice_limit_steals_the_oldest():
    bank = VoiceBank(2, 1, 32)
    first = bank.start(np.ones(1000, np.float32))
    bank.start(np.ones(1000, np.float32))
    bank.start(np.ones(1000, np.float32))
    assert bank.stolen == 1 and first in bank.ended and bank.sounding == 2


def _mix_peak(voices: int) -> int:
    bank = VoiceBank(32, 8, 128)
    rng = np.random.default_rng(0)
    for _ in range(voices):
        bank.start(
            rng.standard_normal(48000).astype(np.float32), position=rng.random(), offset=rng.integers(128)
        )
    out = np.zeros((128, 8), np.float32)
    bank.mix(out)  # warm
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(50):
        out.fill(0.0)
        bank.mix(out)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def test_mixing_allocates_no_audio_buffers():
    """No array is allocated per voice or per block: 32 voices peak where 1 voice does.

    numpy's ufunc machinery keeps a small constant working set (about 10 kB here), the same
    whatever the number of voices; one [block, channels] float32 buffer alone would be 4 kB
    per voice.
    """
    one, many = _mix_peak(1), _mix_peak(32)
    assert many - one < 1024, f"32 voices peaked {many} bytes, 1 voice {one}"
    assert many < 16384


def test_playback_rate_reads_by_linear_interpolation_and_changes_sounding_voices():
    ramp = np.arange(1000, dtype=np.float32) / 1000  # a ramp: interpolation is exact on it
    bank = VoiceBank(4, 1, 64, fade_samples=8)
    bank.set_rate(2.0)
    vid = bank.start(ramp)
    out, got = np.zeros((64, 1), np.float32), []
    while bank.sounding:
        out.fill(0)
        bank.mix(out)
        got.append(out[:, 0].copy())
    played = np.concatenate(got)
    n = 500  # 1000 samples at twice the speed
    np.testing.assert_allclose(played[:n], ramp[::2][:n], atol=1e-6)
    assert not played[n:].any() and bank.ended == [vid]

    bank.ended.clear()
    bank.set_rate(1.0)
    bank.start(ramp)
    out.fill(0)
    bank.mix(out)
    bank.set_rate(0.5)  # pitch bend on a sounding voice: it slows from where it is
    out.fill(0)
    bank.mix(out)
    np.testing.assert_allclose(out[:, 0], (64 + np.arange(64) * 0.5) / 1000, atol=1e-6)


def test_staged_gestures_play_from_their_row_and_rows_come_back():
    bank = VoiceBank(2, 1, 32, max_len=256, spare_rows=1)
    assert len(bank.free_rows) == 3
    g = np.arange(1, 101, dtype=np.float32)
    row = bank.stage(g)  # the control side copies; the start below copies nothing
    g[:] = -1  # the caller's array is free again at once
    a = bank.start(np.empty(0, np.float32), row=row)
    out = _run(bank, 4)[:, 0]
    np.testing.assert_array_equal(out[:100], np.arange(1, 101))
    assert bank.ended == [a] and len(bank.free_rows) == 3  # ended: its row is free
    # a longer gesture, then a shorter one in the same row: nothing of the first is heard
    bank.start(np.ones(200, np.float32))
    _run(bank, 8)
    b = bank.start(np.full(10, 2.0, np.float32))
    out = _run(bank, 8)[:, 0]
    assert np.all(out[:10] == 2.0) and not out[10:].any() and b in bank.ended
    # stealing and panic give rows back; a cancelled stage is released by its owner
    for _ in range(3):
        bank.start(np.ones(200, np.float32))
    assert bank.stolen == 1 and len(bank.free_rows) == 1
    staged = bank.stage(np.ones(5, np.float32))
    assert bank.stage(np.ones(5, np.float32)) is None  # every row taken
    assert bank.start(np.ones(5, np.float32)) != 0  # steals a voice, whose row it then uses
    bank.release_row(staged)
    bank.panic()
    assert sorted(bank.free_rows) == [0, 1, 2]
