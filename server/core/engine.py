"""The engine core: control on one side, ``process(block)`` on the other, no I/O (pure).

Adapters (OSC, MIDI, audio backends, the offline renderer) drive it:

- control threads call ``message(address, args, at_frame)`` (or ``handle`` with a parsed
  ``Command``); triggers take a pre-generated gesture from the pools (or generate at once on a
  miss, counted) and schedule it at a frame;
- a worker calls ``refill()`` to keep the pools full, ``tick()`` to let stream mode schedule
  its own triggers ahead;
- the audio callback calls ``process(out)``: due actions, the voice bank's mix, master gain.
  It only reads preallocated arrays and the scheduler; it never generates.

Replies (``/voice/start``, ``/voice/end``, ``/error``, ``/status`` ...) collect in ``replies``
for the adapter to send. Everything random comes from seeded generators, so an offline run of
the same events is sample-identical.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gesturegan.server.core.actions import KIND, Action, Gain, Panic, Play, Rate, Stop
from gesturegan.server.core.audio_side import AudioSide, LocalAudio
from gesturegan.server.core.commands import BadMessage, Command, parse
from gesturegan.server.core.counts import Counts
from gesturegan.server.core.mix import Key, Mix, is_category
from gesturegan.server.core.morph import LatentState, latent_from_seed, normalise_weights, xy_weights
from gesturegan.server.core.pools import RESERVE_GRID, GesturePools, reserve_keys
from gesturegan.server.core.ratelimit import TokenBucket
from gesturegan.server.core.scheduler import ASAP
from gesturegan.server.core.voices import mono, speaker_gains
from gesturegan.server.inference.model import Cancelled, Model, ModelError


def to_rate(audio: np.ndarray, src: int, dst: int, length: int) -> np.ndarray:
    """Gestures ``[N, C, T]`` from the model's rate to the output's (soxr HQ), ``length`` long."""
    if src == dst:
        return audio
    import soxr

    flat = audio.reshape(-1, audio.shape[-1]).T
    res = soxr.resample(flat, src, dst, quality="HQ")
    return res.T.reshape(audio.shape[0], audio.shape[1], -1)[..., :length]


VOICE_SECONDS = 4.0  # the longest gesture a voice plays (a later model may be longer than the first)
MIX_SETTLE_S = 0.05  # a morph position held this long gets its pool pre-generated


@dataclass(frozen=True)
class EngineConfig:
    sample_rate: int = 48000  # the output's rate; gestures are resampled to it
    channels: int = 2
    block: int = 128
    max_voices: int = 32
    pool_capacity: int = 4
    fade_ms: float = 10.0
    seed: int = 0
    position: float = 0.5
    # Gestures generated at once on a pool miss, at most this many per second: a flood of
    # triggers (a stuck key, a runaway patch) must not keep a control thread generating.
    miss_rate: float = 20.0
    # Actions waiting in the scheduler at most (far-future timetags must not pile up unbounded).
    max_pending: int = 4096
    # The reserve: one gesture per point of this many cells per side over the XY pad, so the
    # first trigger after a morph plays at once (0: none; that trigger generates, ~10-20 ms).
    reserve_grid: int = RESERVE_GRID


@dataclass
class Stream:
    on: bool = False
    density: float = 2.0  # events per second
    jitter: float = 0.5  # timing jitter, as a fraction of the mean interval
    next_frame: int = 0


# State a bundle's timetag moves to its frame (plays and actions are scheduled by the player).
TIMED_STATE = frozenset(
    {
        "/morph",
        "/morph/weights",
        "/position",
        "/latent/seed",
        "/latent/jitter",
        "/latent/walk",
        "/stream/density",
    }
)

# The serve option that gives each folder-owning address its folder (named in its refusal).
FOLDER_FLAGS = {
    "/render": "--render-dir DIR",
    "/model/load": "--models DIR",
    "/model/list": "--models DIR",
    "/like": "--sounds DIR",
    "/like/list": "--sounds DIR",
}


class Engine:
    def __init__(
        self,
        model: Model,
        cfg: EngineConfig = EngineConfig(),
        mixer=None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``mixer``: a ``MixerProcess`` (server/audio/mixer/link.py) when the audio side runs in its own
        process; None runs it here (``process`` is then the audio callback). ``clock``: seconds,
        monotonic, for the miss budget and the morph's settle time (tests step their own)."""
        self.clock = clock
        self.model, self.info, self.cfg = model, model.info, cfg
        k = self.info.n_categories
        self.out_samples = math.ceil(self.info.n_samples * cfg.sample_rate / self.info.sample_rate)
        fade = max(1, round(cfg.fade_ms * cfg.sample_rate / 1000))
        # Voices hold gestures up to VOICE_SECONDS (or the model's length if longer), so a model
        # swapped in later may be longer than this one.
        max_len = max(self.out_samples, round(VOICE_SECONDS * cfg.sample_rate))
        self.replies: deque[tuple] = deque()
        # xruns: counted by the audio backend (a late or underflowed block)
        # cancelled: refill batches stopped because a morph left their mix behind
        self.counts = Counts(triggers=0, misses=0, errors=0, generated=0, xruns=0, dropped=0, cancelled=0)
        # The audio side (core/audio_side.py): the player here, or the mixer process behind
        # ``mixer`` (audio/mixer/). The engine talks to either through the same protocol.
        self.side: AudioSide = (
            LocalAudio(cfg, fade, max_len, self.replies, self.counts)
            if mixer is None
            else mixer.open(self, fade, max_len)
        )
        self.voices, self.scheduler = self.side.voices, self.side.scheduler
        self._log: deque | None = None
        self.pools = self._new_pools(k)
        self.latent = LatentState(self.info.latent_dim, seed=cfg.seed, rng=np.random.default_rng(cfg.seed))
        self.rng = np.random.default_rng([cfg.seed, 1])  # stream timing and positions
        self.set_weights(xy_weights(0.5, 0.5, k), moved=False)
        self.position = cfg.position
        self._walked_to = 0  # the latent walk has been advanced up to this frame
        self.stream = Stream()
        self.misses_budget = TokenBucket(cfg.miss_rate, clock=clock)  # trigger-time generation per second
        self.realtime = True  # False (offline rendering): no wall clock, so no flood limit
        self._moved_at = 0.0  # when the morph position last changed
        self._refilling: Key | None = None  # the key of the refill batch being generated
        self._reserve_rest_until = 0.0  # the next reserve batch waits till then (monotonic s)
        self.refill_batch = 4
        self._ids = itertools.count(1)  # action ids
        self._batches = itertools.count(1)  # generated-batch ids
        # Three locks, so a trigger that must generate never waits for a refill batch: the refill
        # (batch-4 buffers), trigger-time generation (batch-1 buffers), the latent generator.
        # A model swap takes all three.
        self._lock = threading.Lock()
        self._miss_lock = threading.Lock()
        self._latent_lock = threading.Lock()
        self._stream_lock = threading.Lock()  # stream mode's off switch against its own plays
        self._timed: list[tuple[int, int, Command]] = []  # timetagged state changes, by frame
        self._timed_order = itertools.count()  # keeps a bundle's order among equal frames
        self._timed_lock = threading.Lock()
        # Addresses whose work needs files (``/render``, ``/model/load``): set by the adapter.
        self.handlers: dict[str, object] = {}

    # -- control side ------------------------------------------------------------------------
    def message(self, address: object, args, at_frame: int | None = None) -> bool:
        """Parse and handle one message; a bad one becomes an ``/error`` reply. True if accepted."""
        try:
            cmd = parse(address, args, self.info.categories)
        except BadMessage as e:
            self.counts.add("errors", 1)
            self.replies.append(("/error", e.address, e.reason))
            return False
        self.handle(cmd, at_frame)
        return True

    def handle(self, cmd: Command, at_frame: int | None = None) -> None:
        """Carry out ``cmd``; with ``at_frame`` (a bundle's timetag) at that engine frame.

        Plays are scheduled at their frame. State changes (morph, position, latent, density)
        wait in ``_timed`` until the worker's horizon reaches their frame, and so does a
        timetagged trigger behind one of them, so it hears the morph of its own moment."""
        if at_frame is not None and (
            cmd.address in TIMED_STATE or (cmd.address == "/trigger" and self._timed_before(int(at_frame)))
        ):
            with self._timed_lock:
                heapq.heappush(self._timed, (int(at_frame), next(self._timed_order), cmd))
            return
        self._carry_out(cmd, at_frame)

    def _timed_before(self, frame: int) -> bool:
        with self._timed_lock:
            return bool(self._timed) and self._timed[0][0] <= frame

    def _release_timed(self, horizon: int) -> None:
        """Carry out, in frame order, the timetagged messages due before ``horizon``."""
        while True:
            with self._timed_lock:
                if not self._timed or self._timed[0][0] >= horizon:
                    return
                frame, _, cmd = heapq.heappop(self._timed)
            self._carry_out(cmd, frame)

    def _carry_out(self, cmd: Command, at_frame: int | None) -> None:
        frame = ASAP if at_frame is None else int(at_frame)
        a = cmd.args
        match cmd.address:
            case "/trigger":
                self.trigger(a["category"], a["velocity"], a["position"], a["seed"], frame)
            case "/morph":
                self.set_weights(xy_weights(a["x"], a["y"], self.info.n_categories))
            case "/morph/weights":
                self.set_weights(normalise_weights(a["weights"]))
            case "/position":
                self.position = a["position"]
            case "/latent/seed":
                with self._latent_lock:
                    self.latent.set_seed(a["seed"])
                    self.pools.clear()
            case "/like/off":
                self.like_off()
            case "/latent/jitter":
                self.latent.jitter = a["amount"]
            case "/latent/walk":
                self.latent.walk_speed = a["speed"]
            case "/stream/start":
                self.stream.on, self.stream.next_frame = True, max(frame, self.frame)  # ASAP < any frame
                self.replies.append(("/stream", 1, float(self.stream.density)))
            case "/stream/stop":
                with self._stream_lock:
                    self.stream.on = False
                self.replies.append(("/stream", 0, float(self.stream.density)))
            case "/stream/density":
                self.stream.density = a["rate"]
            case "/stop":
                self.submit(frame, Stop, a["voice"])
            case "/panic":  # the audio thread also drops everything still scheduled
                with self._stream_lock:  # panic means silence, not silence until the next streamed play
                    self.stream.on = False
                    self.submit(frame, Panic)
                self.replies.append(("/stream", 0, float(self.stream.density)))
            case "/gain":
                self.submit(frame, Gain, 10 ** (a["db"] / 20))
            case "/rate":
                self.submit(frame, Rate, a["rate"])
            case "/status":
                self.replies.append(("/status", *self.status()))
            case "/model/info":
                i = self.info
                self.replies.append(
                    ("/model/info", i.family, i.sample_rate, i.n_samples, i.latent_dim, *i.categories)
                )
            case _:  # /render, /model/load and /model/list belong to the adapters that own folders
                handler = self.handlers.get(cmd.address)
                if handler is None:
                    self.counts.add("errors", 1)
                    flag = FOLDER_FLAGS.get(cmd.address, "a folder option")
                    self.replies.append(("/error", cmd.address, f"no folder for it: start serve with {flag}"))
                else:
                    handler(cmd)

    def like(self, mu: np.ndarray, sigma: np.ndarray, category: int, amount: float | None = None) -> None:
        """From the next trigger on, play takes of a placed real sound (``like.place``) in ``category``."""
        with self._latent_lock:
            self.latent.set_like(mu, sigma)
            if amount is not None:
                self.latent.jitter = amount
            self.pools.clear()
        self.set_weights(np.eye(self.info.n_categories)[category])

    def like_off(self) -> None:
        with self._latent_lock:
            self.latent.set_seed(self.latent.seed)
            self.pools.clear()
        self.replies.append(("/like", "", "", float(self.latent.jitter)))

    def swap_model(self, model: Model) -> None:
        """Play a new model from the next trigger on; sounding gestures finish untouched.

        Called from a control thread after the new model loaded and warmed (a bad file never
        gets here). Pools are rebuilt; voices hold their gestures by reference, so whatever
        sounds keeps sounding whatever the new model's length.
        """
        info = model.info
        out_samples = math.ceil(info.n_samples * self.cfg.sample_rate / info.sample_rate)
        if out_samples > self.voices.max_len:
            raise ModelError(
                f"{model.path.name} makes {out_samples / self.cfg.sample_rate:.1f} s gestures; the "
                f"running engine's voices hold {self.voices.max_len / self.cfg.sample_rate:.1f} s. "
                "Start gesturegan serve with this model instead"
            )
        old_categories = self.info.categories
        with self._lock, self._miss_lock, self._latent_lock:
            if info.latent_dim != self.info.latent_dim:
                self.latent = LatentState(info.latent_dim, seed=self.latent.seed, rng=self.latent.rng)
            self.model, self.info, self.out_samples = model, info, out_samples
            if info.n_categories != len(self.mix.cond) or info.categories != old_categories:
                self.set_weights(xy_weights(0.5, 0.5, info.n_categories), moved=False)
            self.pools = self._new_pools(info.n_categories)

    def _new_pools(self, n_categories: int) -> GesturePools:
        return GesturePools(
            n_categories,
            self.cfg.pool_capacity,
            reserve=reserve_keys(n_categories, self.cfg.reserve_grid),
            reserve_cells=self.cfg.reserve_grid,
        )

    def set_weights(self, weights: np.ndarray, moved: bool = True) -> None:
        """A new morph position (no engine lock: a morph must not wait for a refill batch).

        Gestures pooled at other positions stay (they are still right for those positions, so
        coming back is instant) but are no longer refilled. A refill batch still generating for
        the mix just left is cancelled: on two cores it would halve the speed of the
        generation the first trigger at the new position waits for (18 ms instead of 9)."""
        mix = Mix.of_weights(weights, self.info.categories)
        self.weights, self.mix = np.asarray(weights, np.float64), mix
        if not moved:
            return
        self._moved_at = self.clock()
        busy = self._refilling
        if busy is not None and not is_category(busy) and busy != mix.key:
            self.model.cancel(self.refill_batch)

    def status(self) -> tuple:
        return (
            self.voices.sounding,
            self.counts["triggers"],
            self.counts["misses"],
            self.counts["errors"],
            self.scheduler.stats.late,
            self.counts["xruns"],
        )

    def submit(self, frame: int, action: type[Action], *fields, source: object = None) -> int:
        """Schedule ``action(id, *fields)`` (a type of core/actions.py) for the audio side, and log
        it when recording; returns its id, or 0 when the scheduler is full (refused with an
        ``/error``)."""
        if self.scheduler.pending() >= self.cfg.max_pending:
            self.counts.add("dropped", 1)
            self.replies.append(
                ("/error", f"/{KIND[action]}", f"{self.cfg.max_pending} actions already scheduled")
            )
            return 0
        made = action(next(self._ids), *fields)
        self.scheduler.submit(frame, made)
        if self.log is not None:
            self.log.append(("act", made, source))
        return made.id

    def _generate(self, mix: Mix | list[Mix], latents: np.ndarray) -> tuple[np.ndarray, int]:
        """Gestures ``[N, C, T_out]`` for ``mix`` (or one mix per row) at the output rate, and
        the batch's id (caller holds the lock of that batch size's buffers)."""
        mixes = mix if isinstance(mix, list) else [mix] * len(latents)
        cond = np.stack([m.cond for m in mixes])
        z = latents.astype(np.float32)
        audio = self.model.generate(z, cond).copy()
        self.counts.add("generated", len(latents))
        batch = next(self._batches)
        if self.log is not None:
            self.log.append(("gen", batch, self.model, z, cond))
        return to_rate(audio, self.info.sample_rate, self.cfg.sample_rate, self.out_samples), batch

    def trigger(
        self,
        category: int | None,
        velocity: float = 1.0,
        position: float | None = None,
        seed: int | None = None,
        frame: int | None = None,
        streamed: bool = False,
    ) -> None:
        """Schedule one gesture at ``frame`` (default: the next block). ``streamed``: stream
        mode's own play, dropped if a /panic or /stream/stop came while it was prepared."""
        mix = self.mix if category is None else Mix.of_key(category, self.info.categories)
        frame = ASAP if frame is None else frame
        got = None if seed is not None else self.pools.take_tagged(mix.key)
        if got is None and seed is None and not mix.pure:
            got = self.pools.take_nearest(self.weights)  # the pad just moved: the nearest grid point
        if got is None:
            if self.realtime and not self.misses_budget.take():
                self.counts.add("dropped", 1)
                self.replies.append(
                    ("/error", "/trigger", "too many triggers: the pool is empty, note dropped")
                )
                return
            if seed is not None:
                z = latent_from_seed(seed, self.info.latent_dim)[None]
            else:
                self.counts.add("misses", 1)
                with self._latent_lock:
                    z = self.latent.sample()[None]
            with self._miss_lock:
                audio, batch = self._generate(mix, z)
            got = (audio[0], (batch, 0))
        gesture, source = got
        self.counts.add("triggers", 1)
        pos = self.position if position is None else position
        # Everything the audio thread needs, prepared here: the mono samples it plays in place,
        # the speaker gains, and the name for the /voice/start reply.
        name = mix.label
        samples = mono(gesture)
        row = self.voices.stage(samples)  # copied into the voices' arena here, not on the audio thread
        if row is None and self.side.staged_only:  # the mixer process can only play staged rows
            self.counts.add("dropped", 1)
            self.replies.append(("/error", "/trigger", "too many gestures waiting to start"))
            return
        pan = speaker_gains(pos, self.cfg.channels)
        with self._stream_lock if streamed else contextlib.nullcontext():
            if (streamed and not self.stream.on) or not self.submit(
                frame, Play, samples, velocity, pan, name, row, source=source
            ):
                self.voices.release_row(row)

    def refill(self) -> int:
        """Top up the most wanted pool (the current mix first); returns the gestures added.

        While the morph moves (a fader sweep sends a position every few ms) its mix is not
        pre-generated: each would be dropped by the next position. A trigger there generates at
        once; the pool fills once the position rests for ``MIX_SETTLE_S``."""
        focus = self.mix.key
        wanted = self.pools.wanted(focus=focus)
        if self.realtime and self.clock() - self._moved_at < MIX_SETTLE_S:
            wanted = [w for w in wanted if is_category(w[0])]
        n = self.refill_batch  # always the refill's own batch size: the batch-1 buffers are the triggers'
        if not wanted:
            # The reserve is background work: at most a quarter of the time (a /latent/seed
            # empties it, and a flood of seeds must not keep a core generating).
            now = self.clock()
            if self.realtime and now < self._reserve_rest_until:
                return 0
            made = self._refill_reserve(n)
            self._reserve_rest_until = now + 4 * (self.clock() - now)
            return made
        key, _ = wanted[0]
        with self._lock:
            generation = self.pools.generation
            with self._latent_lock:
                z = np.stack([self.latent.sample() for _ in range(n)])
            self._refilling = key
            try:
                audio, batch = self._generate(Mix.of_key(key, self.info.categories), z)
            except Cancelled:
                self.counts.add("cancelled", 1)
                return 0
            finally:
                self._refilling = None
        return self.pools.put(key, audio, generation, [(batch, row) for row in range(n)])

    def prefill(self) -> int:
        """Fill every pool and the whole reserve now, without the reserve's rate limit (before
        the audio starts: the first morph of the night must find its gesture ready). Returns
        the gestures made."""
        made, realtime = 0, self.realtime
        self.realtime = False  # no settling time, no rest between reserve batches
        try:
            while n := self.refill():
                made += n
        finally:
            self.realtime = realtime
        return made

    def _refill_reserve(self, n: int) -> int:
        """Fill up to ``n`` reserve holes in one batch (the last key repeats to fill the batch)."""
        holes = self.pools.reserve_holes()[:n]
        if not holes:
            return 0
        keys = holes + [holes[-1]] * (n - len(holes))
        with self._lock:
            generation = self.pools.generation
            with self._latent_lock:
                z = np.stack([self.latent.sample() for _ in range(n)])
            audio, batch = self._generate([Mix.of_key(k, self.info.categories) for k in keys], z)
        return self.pools.put_reserve(holes, audio, generation, [(batch, row) for row in range(len(holes))])

    def tick(self, horizon_frames: int | None = None) -> int:
        """Move the latent walk to the present; in stream mode schedule triggers up to
        ``horizon`` ahead (default 4 blocks). Returns how many were scheduled."""
        elapsed = self.frame - self._walked_to
        if elapsed > 0:
            with self._latent_lock:
                self.latent.advance(elapsed / self.cfg.sample_rate)
            self._walked_to = self.frame
        horizon = self.frame + (horizon_frames or 4 * self.cfg.block)
        self._release_timed(horizon)
        if not self.stream.on or self.stream.density <= 0:
            return 0
        made = 0
        while self.stream.next_frame < horizon:
            self.trigger(None, 0.8, float(self.rng.random()), None, self.stream.next_frame, streamed=True)
            mean = self.cfg.sample_rate / self.stream.density
            spread = self.stream.jitter * mean
            self.stream.next_frame += max(1, int(mean + self.rng.uniform(-spread, spread)))
            made += 1
        return made

    # -- audio side --------------------------------------------------------------------------
    def process(self, out: np.ndarray) -> None:
        """Fill ``out [block, channels]`` (the audio callback, where it runs in this process)."""
        self.side.process(out)

    @property
    def frame(self) -> int:
        """Engine frame of the next block's first sample (the audio side's, wherever it runs)."""
        return self.side.frame

    @property
    def master(self) -> float:
        return self.side.master

    @property
    def log(self) -> deque | None:
        return self._log

    @log.setter
    def log(self, value: deque | None) -> None:
        # Recording: every generated batch, every scheduled action and the frame each action
        # really ran at are appended to it (see server/audio/record.py).
        self._log = value
        self.side.action_log = value


def render_offline(engine: Engine, events: list[tuple[int, str, list]], frames: int) -> np.ndarray:
    """Run ``engine`` for ``frames`` with ``events`` = (frame, address, args), pools refilled
    between blocks: the offline backend, identical on every run. Returns ``[frames, channels]``."""
    block = engine.cfg.block
    engine.realtime = False
    out = np.zeros((frames + block, engine.cfg.channels), np.float32)
    pending = sorted(events, key=lambda e: e[0])
    i, base = 0, engine.frame  # event frames are engine frames; a run may continue a previous one
    for start in range(0, frames, block):
        while i < len(pending) and pending[i][0] < base + start + block:
            frame, address, args = pending[i]
            engine.message(address, args, at_frame=frame)
            i += 1
        engine.tick()
        while engine.refill():
            pass
        engine.process(out[start : start + block])
    return out[:frames]
