"""The engine core, driven offline sample by sample with a real exported model."""

from __future__ import annotations

import numpy as np
import pytest

from gesturegan.server.core.engine import Engine, EngineConfig, render_offline
from gesturegan.server.core.mix import key_for
from gesturegan.server.core.morph import latent_from_seed, xy_weights
from gesturegan.server.core.voices import speaker_gains
from gesturegan.server.inference.model import load_model


@pytest.fixture
def engine(server_models):
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=(1, 4))
    # Output at the model's rate: the expected waveform is the model's, sample for sample.
    return Engine(model, EngineConfig(sample_rate=16000, channels=2, block=64, max_voices=8))


def test_a_timetagged_trigger_starts_at_its_exact_frame(engine):
    frame = 1000  # inside a block (1000 = 15 * 64 + 40)
    out = render_offline(engine, [(frame, "/trigger", ["trigger", 0.5, 0.0, 42])], 12000)
    z = latent_from_seed(42, engine.info.latent_dim).astype(np.float32)[None]
    want = engine.model.generate(z, np.eye(4, dtype=np.float32)[:1])[0, 0] * 0.5
    gains = speaker_gains(0.0, 2)
    assert np.all(out[:frame] == 0)
    np.testing.assert_allclose(out[frame : frame + 8192, 0], want * gains[0], atol=1e-6)
    np.testing.assert_allclose(out[frame : frame + 8192, 1], want * gains[1], atol=1e-6)
    assert ("/voice/start", 1, "trigger") in engine.replies and ("/voice/end", 1) in engine.replies


def test_bad_messages_reply_errors_and_the_audio_goes_on(engine):
    events = [
        (0, "/trigger", ["trigger", 1.0, 0.5, 1]),
        (100, "/trigger", ["nope"]),
        (200, "/morph", ["x"]),
        (300, "/what", []),
    ]
    out = render_offline(engine, events, 4096)
    errors = [r for r in engine.replies if r[0] == "/error"]
    assert [e[1] for e in errors] == ["/trigger", "/morph", "/what"]
    assert engine.counts["errors"] == 3 and np.abs(out).max() > 0


def test_triggers_come_from_the_pools_and_morph_refreshes_them(engine):
    render_offline(engine, [], 64)  # one block: the pools fill between blocks
    assert engine.pools.sizes()[0] == engine.cfg.pool_capacity
    render_offline(engine, [(engine.frame, "/trigger", [0])], 64)
    assert engine.counts["misses"] == 0 and engine.pools.stats.hits == 1
    engine.message("/morph", [1.0, 1.0])  # the corner of continuous_repetition
    engine.message("/trigger", [])
    assert engine.counts["misses"] == 0  # a pure corner is a category pool, already full
    engine.message("/morph", [0.2, 0.7])
    engine.message("/trigger", [])  # a fresh mix: its pool is empty, the reserve's nearest point plays
    assert engine.counts["misses"] == 0 and engine.pools.stats.nearest == 1
    engine.message("/morph", [0.5, 0.5])  # back to the centre, pooled before the first block
    engine.message("/trigger", [])
    assert engine.counts["misses"] == 0 and engine.pools.stats.nearest == 1
    render_offline(engine, [], 64)  # the worker: the new mix's own pool, and the reserve's hole
    assert engine.pools.sizes()[key_for(engine.weights)] == engine.cfg.pool_capacity
    assert engine.pools.reserve_holes() == []


def test_without_a_reserve_the_first_trigger_at_a_new_mix_generates(server_models):
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=(1, 4))
    engine = Engine(model, EngineConfig(sample_rate=16000, block=64, reserve_grid=0))
    render_offline(engine, [], 64)
    engine.message("/morph", [0.2, 0.7])
    engine.message("/trigger", [])
    assert engine.counts["misses"] == 1 and engine.pools.stats.nearest == 0
    assert engine.scheduler.pending() == 1  # generated at once and scheduled all the same


def test_stream_panic_and_gain(engine):
    engine.message("/stream/density", [20.0])
    out = render_offline(engine, [(0, "/stream/start", []), (8000, "/stream/stop", [])], 16000)
    starts = [r for r in engine.replies if r[0] == "/voice/start"]
    assert 5 <= len(starts) <= 16  # about 10 at 20/s over 0.5 s, with timing jitter
    assert np.abs(out[:8000]).max() > 0
    engine.message("/panic", [])
    render_offline(engine, [], 64)
    assert engine.voices.sounding == 0
    engine.message("/gain", [-6.0])
    render_offline(engine, [], 64)
    assert engine.master == pytest.approx(10 ** (-6 / 20))


def test_panic_turns_stream_mode_off_and_says_so(engine):
    engine.message("/stream/density", [40.0])
    render_offline(engine, [(0, "/stream/start", [])], 4000)
    assert ("/stream", 1, 40.0) in engine.replies
    assert engine.voices.sounding > 0
    engine.message("/panic", [])
    assert ("/stream", 0, 40.0) in engine.replies
    engine.replies.clear()
    render_offline(engine, [], 16000)  # a second: 40 plays a second would have started again
    assert engine.voices.sounding == 0
    assert not [r for r in engine.replies if r[0] == "/voice/start"]


def test_offline_runs_repeat_exactly(server_models):
    outs = []
    for _ in range(2):
        model = load_model(server_models["gan"], provider="cpu")
        e = Engine(model, EngineConfig(sample_rate=16000, block=64, seed=3))
        events = [
            (0, "/latent/jitter", [0.5]),
            (10, "/trigger", ["trigger_continuous"]),
            (500, "/trigger", []),
        ]
        outs.append(render_offline(e, events, 9000))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_resampling_to_the_device_rate(server_models):
    model = load_model(server_models["gan"], provider="cpu")
    e = Engine(model, EngineConfig(sample_rate=48000, block=128))
    assert e.out_samples == 8192 * 3
    out = render_offline(e, [(0, "/trigger", ["trigger", 1.0, 0.5, 1])], 30000)
    assert np.abs(out[: 8192 * 3]).max() > 0


def test_latent_walk_moves_with_time_not_with_calls(engine):
    engine.message("/latent/walk", [1.0])
    start = engine.latent.current().copy()
    engine.tick()
    engine.tick()  # no time passed: no movement
    assert np.array_equal(engine.latent.current(), start)
    render_offline(engine, [], 1600)  # 0.1 s
    moved = engine.latent.current()
    cos = float(moved @ start / np.linalg.norm(moved) / np.linalg.norm(start))
    assert 0.0 < np.arccos(np.clip(cos, -1, 1)) < 0.5  # about 0.1 rad, a random direction


def test_hot_swap_keeps_sounding_gestures_and_uses_the_new_model(server_models):
    old = load_model(server_models["gan"], provider="cpu")
    e = Engine(old, EngineConfig(sample_rate=16000, block=64, channels=1))
    first = render_offline(e, [(0, "/trigger", ["trigger", 1.0, 0.5, 5])], 2048)
    e.swap_model(load_model(server_models["wavegan"], provider="cpu"))
    rest = render_offline(e, [(e.frame + 100, "/trigger", ["trigger", 1.0, 0.5, 5])], 8192)
    out = np.concatenate([first, rest])[:, 0]
    z = latent_from_seed(5, 16).astype(np.float32)[None]
    cond = np.eye(4, dtype=np.float32)[:1]
    want_old = old.generate(z, cond)[0, 0].copy()
    want_new = load_model(server_models["wavegan"], provider="cpu").generate(z, cond)[0, 0]
    expected = np.zeros(2048 + 8192, np.float32)
    expected[:8192] += want_old  # the first gesture plays out whole across the swap
    expected[2148 : 2148 + 8192] += want_new[: 8192 - 100]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert e.info.family == "wavegan"


def test_panic_also_cancels_what_was_scheduled(engine):
    start = engine.frame
    engine.message("/trigger", [0, 1.0, 0.5, 1], at_frame=start + 10)
    engine.message("/trigger", [3, 1.0, 0.5, 4], at_frame=start + 3000)
    engine.message("/panic", [], at_frame=start + 100)
    out = render_offline(engine, [], 4096)
    assert np.abs(out[10:100]).max() > 0  # what was due before the panic's frame still played
    assert engine.voices.sounding == 0 and np.all(out[200:] == 0)  # and nothing after it
    assert engine.scheduler.pending() == 0


def test_a_trigger_sent_after_a_panic_plays_even_in_the_same_block(engine):
    engine.message("/trigger", [0, 1.0, 0.5, 1])
    engine.message("/panic", [])
    engine.message("/trigger", [1, 1.0, 0.5, 2])  # the performer's next hit, before the next block
    out = render_offline(engine, [], 512)
    assert engine.voices.sounding == 1 and np.abs(out).max() > 0


class StepClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_trigger_flood_on_empty_pools_is_bounded_not_generated(server_models):
    clock = StepClock()
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=(1, 4))
    engine = Engine(model, EngineConfig(sample_rate=16000, block=64), clock=clock)
    engine.pools.clear()
    for i in range(200):  # a stuck key: far faster than anything can generate
        engine.message("/trigger", [i % 4])
    budget = int(engine.cfg.miss_rate)
    assert engine.counts["generated"] == budget  # one second's burst, then the bucket is empty
    assert engine.counts["dropped"] == 200 - budget
    assert any(r[:2] == ("/error", "/trigger") for r in engine.replies)
    clock.now += 0.5  # half a second refills half the budget
    for i in range(200):
        engine.message("/trigger", [i % 4])
    assert engine.counts["generated"] == budget + budget // 2


def test_a_moving_morph_waits_to_settle_before_its_mix_is_pooled(server_models):
    from gesturegan.server.core.engine import MIX_SETTLE_S

    clock = StepClock()
    model = load_model(server_models["gan"], provider="cpu", batch_sizes=(1, 4))
    engine = Engine(model, EngineConfig(sample_rate=16000, block=64, reserve_grid=0), clock=clock)
    while engine.refill():  # the categories' pools fill
        pass
    engine.message("/morph", [0.3, 0.6])
    mix = key_for(engine.weights)
    assert engine.refill() == 0 and engine.pools.sizes().get(mix, 0) == 0  # still moving
    clock.now += MIX_SETTLE_S * 0.9
    assert engine.refill() == 0
    clock.now += MIX_SETTLE_S * 0.2  # at rest now
    assert engine.refill() > 0 and engine.pools.sizes()[mix] > 0


def _running(model, batch: int, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slot = model.slots.get(batch)
        if slot is not None and slot.running:
            return True
        time.sleep(0.0005)
    return False


def test_a_morph_cancels_the_refill_of_the_mix_it_left():
    """The refill batch generating for the old position stops; the first trigger at the new one
    then has the cores to itself. A category batch is never cancelled by a morph."""
    import threading

    from gesturegan.server.inference.model import default_model_path

    model = load_model(default_model_path(), provider="cpu", batch_sizes=(1,))
    engine = Engine(model, EngineConfig(sample_rate=44100, block=128))
    engine.refill_batch = 32  # long enough (hundreds of ms) to be caught in flight
    engine.realtime = False  # no settle time: refill the current mix at once
    engine.message("/morph", [0.3, 0.6])
    for k in range(4):  # categories full: the next refill is the mix's
        engine.pools.put(k, np.zeros((4, 1, 8), np.float32), engine.pools.generation)
    made = []
    worker = threading.Thread(target=lambda: made.append(engine.refill()))
    worker.start()
    assert _running(model, 32)
    engine.message("/morph", [0.8, 0.1])
    worker.join(timeout=30)
    assert made == [0] and engine.counts["cancelled"] == 1
    engine.refill_batch = 2  # the next refill, for the new mix, runs to the end
    assert engine.refill() == 2 and engine.pools.sizes()[key_for(engine.weights)] == 2


def test_a_cancelled_generation_leaves_the_model_usable():
    import threading

    from gesturegan.server.inference.model import Cancelled, default_model_path

    model = load_model(default_model_path(), provider="cpu", batch_sizes=(1,))
    i = model.info
    z, cond = np.zeros((32, i.latent_dim), np.float32), np.ones((32, i.n_categories), np.float32)
    raised = []

    def run() -> None:
        try:
            model.generate(z, cond)
        except Cancelled as e:
            raised.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    assert _running(model, 32)
    assert model.cancel(32) and not model.cancel(1)  # only the batch size asked for
    worker.join(timeout=30)
    assert len(raised) == 1
    one = model.generate(z[:1], cond[:1])
    assert np.isfinite(one).all() and np.abs(one).max() > 0


def test_a_panic_gives_back_the_rows_of_the_starts_it_cancels(engine):
    render_offline(engine, [], 64)
    rows = len(engine.voices.free_rows)
    for k in range(3):  # far ahead: staged now, started later
        engine.trigger(k % 4, frame=engine.frame + 10_000)
    assert len(engine.voices.free_rows) == rows - 3
    engine.message("/panic", [])
    render_offline(engine, [], 64)
    assert len(engine.voices.free_rows) == rows and engine.voices.sounding == 0


def test_prefill_readies_every_pool_and_the_whole_reserve_before_the_audio_starts(engine):
    """The reserve is refilled at most a quarter of the time while playing; at start it is filled
    at once, so the first morphs of the night find their gestures ready."""
    assert engine.realtime and len(engine.pools.reserve_holes()) > 0
    made = engine.prefill()
    assert engine.pools.reserve_holes() == [] and made >= len(engine.pools._reserve_keys)
    assert engine.realtime  # the rate limits hold again afterwards
    assert engine.refill() == 0  # nothing left to make
    engine.set_weights(xy_weights(0.3, 0.7, 4))
    engine.trigger(None)
    assert engine.counts["misses"] == 0 and engine.pools.stats.nearest == 1


@pytest.mark.parametrize(
    ("address", "args", "flag"),
    [
        ("/render", ["trigger"], "--render-dir DIR"),
        ("/model/load", ["x"], "--models DIR"),
        ("/like/list", [], "--sounds DIR"),
    ],
)
def test_a_folder_message_without_its_folder_names_the_option_and_counts(engine, address, args, flag):
    engine.message(address, args)
    assert engine.replies[-1] == ("/error", address, f"no folder for it: start serve with {flag}")
    engine.message("/status", [])
    assert engine.replies[-1][4] == 1  # errors: the refusal is counted


def test_a_timetagged_morph_takes_effect_at_its_frame_not_on_arrival(engine):
    """serve.md promises sample-accurate scheduling: state changes wait for their frame too."""
    render_offline(engine, [], 64)
    at = engine.frame + 8000
    engine.message("/morph", [1.0, 1.0], at_frame=at)  # a bundle's timetag, half a second ahead
    engine.message("/trigger", [])  # now: the mix of now
    engine.message("/trigger", [], at_frame=at + 10)  # after the morph: the morph's category
    engine.message("/trigger", [], at_frame=at - 10)  # before it: still the mix
    assert engine.weights == pytest.approx(xy_weights(0.5, 0.5, 4))
    render_offline(engine, [], 16000)
    starts = [r[2] for r in engine.replies if r[0] == "/voice/start"]
    assert starts == ["mix", "mix", "continuous_repetition"]
    assert engine.weights == pytest.approx(xy_weights(1.0, 1.0, 4))
