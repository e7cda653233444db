"""The live engine assembled: model, engine, audio output, OSC, and the worker that keeps the
pools full, drives stream mode and sends the audio thread's replies."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
from dataclasses import dataclass

from gesturegan.server.audio.backends import (
    CONTROL_SWITCH_S,
    ENGINE_SWITCH_S,
)
from gesturegan.server.audio.clock import AudioClock
from gesturegan.server.audio.gc import GcOffAudio
from gesturegan.server.audio.placement import open_audio
from gesturegan.server.control.osc import OscControl, open_osc_socket
from gesturegan.server.core.engine import Engine, EngineConfig
from gesturegan.server.inference.model import Model

#: Files /like offers (what libsndfile reads).
SOUND_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3")


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    osc_port: int = 9000
    reply_host: str = "127.0.0.1"
    reply_port: int = 9001
    allow: list[str] | None = None
    device: str | None = None
    hostapi: str | None = None
    models_dir: str | None = None  # where /model/load looks (names only, no paths out)
    render_dir: str | None = None  # where /render writes
    sounds_dir: str | None = None  # where /like finds real sounds (names only, no paths out)
    provider: str = "auto"
    threads: int | None = None
    record_dir: str | None = None  # --record: performance.wav, events.jsonl, session.json
    record_audio_name: str = "performance.wav"
    # "jack" (our own JACK client, survives a server restart), "pyo", or "clock": no device,
    # paced by the wall clock (demo, tests)
    backend: str = "sounddevice"
    # "process" runs the audio side alone in a process of its own (server/audio/mixer/; jack and
    # sounddevice backends, POSIX), "thread" in this process's audio callback; "auto": process
    # where it can
    mixer: str = "auto"


class Live:
    """``start()`` everything, ``close()`` in reverse; ``worker_step()`` is the worker's loop body."""

    def __init__(self, model: Model, engine_cfg: EngineConfig, serve: ServeConfig):
        # The GIL's default 5 ms switch interval is longer than a 128-frame block: keep the
        # audio callback from waiting behind the worker or the OSC thread.
        sys.setswitchinterval(CONTROL_SWITCH_S)
        # The port first: a taken port is refused before any audio process or client starts.
        osc_sock = open_osc_socket(serve.host, serve.osc_port)
        try:
            self._open(model, engine_cfg, serve, osc_sock)
        except BaseException:
            osc_sock.close()
            raise

    def _open(self, model: Model, engine_cfg: EngineConfig, serve: ServeConfig, osc_sock) -> None:
        plan = open_audio(serve, engine_cfg)  # audio/placement.py: one table of backend x placement
        engine_cfg, mixer = plan.engine_cfg, plan.mixer
        self.engine = Engine(model, engine_cfg, mixer=mixer)
        if mixer is not None:
            sys.setswitchinterval(ENGINE_SWITCH_S)
        self.clock = AudioClock(engine_cfg.sample_rate)
        self.osc = OscControl(
            self.engine,
            self.clock,
            serve.host,
            serve.osc_port,
            serve.reply_host,
            serve.reply_port,
            serve.allow,
            sock=osc_sock,
        )
        self.recording = None
        if serve.record_dir:
            from gesturegan.server.audio.record import Recording

            ring = mixer.record_ring if mixer is not None else None
            self.recording = Recording(serve.record_dir, self.engine, serve.record_audio_name, ring=ring)
        self.audio = plan.bind(self.engine, self.clock, self.recording)
        self.serve = serve
        if serve.models_dir:
            self.engine.handlers["/model/load"] = self._model_load
            self.engine.handlers["/model/list"] = self._model_list
        if serve.render_dir:
            self.engine.handlers["/render"] = self._render
        self._encoders: dict = {}
        self._checked_models: dict[tuple[str, int, int], bool] = {}  # model_names' verdicts
        if serve.sounds_dir:
            self.engine.handlers["/like"] = self._like
            self.engine.handlers["/like/list"] = self._like_list
        self.gc = GcOffAudio()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="gesturegan-worker", daemon=True)

    def start(self) -> Live:
        self.engine.prefill()  # full pools and reserve before the first note
        # Check the models folder now: /model/list (or a MIDI program change) during the set then
        # reads the verdicts instead of opening sessions on the control thread. A file added
        # later is checked at the first list that sees it.
        self.model_names()
        # A full garbage collection holds the interpreter lock for as long as it walks every
        # object; freezing what exists now (models, pools, modules) keeps later collections short.
        gc.collect()
        gc.freeze()
        self.gc.start()  # and from now on collect in the worker, never in the audio callback
        self.audio.start()
        self.osc.start()
        self._worker.start()
        return self

    def worker_step(self) -> int:
        self.gc.step()
        self.engine.tick()
        made = self.engine.refill()
        self.osc.flush_replies()
        if self.recording is not None:
            self.recording.drain()
        return made

    def _run(self) -> None:
        # Below the audio thread's priority: generation may wait, the callback may not.
        # (Per-thread nice on Linux; elsewhere a no-op.)
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        self.gc.attach_worker()
        while not self._stop.is_set():
            if self.worker_step() == 0:
                time.sleep(0.002)

    def _model_load(self, cmd) -> None:
        """Load, validate and warm in this (control) thread; the old model plays until it is ready."""
        from gesturegan.server.control.paths import UnsafePath, inside
        from gesturegan.server.inference.model import ModelError, load_model

        try:
            path = inside(
                self.serve.models_dir, cmd["name"], ".onnx" if not cmd["name"].endswith(".onnx") else None
            )
            model = load_model(
                path, self.serve.provider, self.serve.threads, batch_sizes=(1, 4), spinning=False
            )
            self.engine.swap_model(model)
        except (UnsafePath, ModelError) as e:
            self.engine.replies.append(("/error", "/model/load", str(e)))
            return
        i = model.info
        self.engine.replies.append(
            ("/model/info", i.family, i.sample_rate, i.n_samples, i.latent_dim, *i.categories)
        )

    def model_names(self) -> list[str]:
        """The model files /model/load and MIDI program change pick from, sorted."""
        from gesturegan.server.control.paths import listing

        if not self.serve.models_dir:
            return []
        # An encoder beside its model (MODEL.encoder.onnx) is not a model /model/load would play.
        names = [n for n in listing(self.serve.models_dir, ".onnx") if not n.endswith(".encoder.onnx")]
        return [n for n in names if self._loadable(n)]

    def _loadable(self, name: str) -> bool:
        """Whether /model/load would take ``name``: the loader's own checks, once per file version
        (name, size, mtime), so a list never offers a file its load would refuse."""
        from pathlib import Path

        from gesturegan.server.inference.model import ModelError, open_session

        path = Path(self.serve.models_dir) / name
        try:
            st = path.stat()
        except OSError:
            return False
        key = (name, st.st_size, st.st_mtime_ns)
        if key not in self._checked_models:
            try:
                open_session(path, "cpu", threads=1, spinning=False)
                self._checked_models[key] = True
            except ModelError:
                self._checked_models[key] = False
        return self._checked_models[key]

    def _model_list(self, cmd) -> None:
        self.engine.replies.append(("/model/list", *self.model_names()))

    def _render(self, cmd) -> None:
        from pathlib import Path

        from gesturegan.server.inference.render import RenderError, render

        try:
            name = self.engine.info.categories[cmd["category"]]
            seed = int(self.engine.rng.integers(0, 2**31 - 1))
            paths = render(self.engine.model, Path(self.serve.render_dir), cmd["count"], seed, name)
        except (RenderError, OSError) as e:
            self.engine.replies.append(("/error", "/render", str(e)))
            return
        for p in paths:
            self.engine.replies.append(("/rendered", str(p)))

    def sound_names(self) -> list[str]:
        """The sound files /like and MIDI CC 20 pick from, sorted."""
        from gesturegan.server.control.paths import listing

        if not self.serve.sounds_dir:
            return []
        return sorted({n for suffix in SOUND_SUFFIXES for n in listing(self.serve.sounds_dir, suffix)})

    def _like_list(self, cmd) -> None:
        self.engine.replies.append(("/like/list", *self.sound_names()))

    def _like(self, cmd) -> None:
        """Read, place and play a real sound's takes; the encoder of the model playing now."""
        from gesturegan.server.control.paths import UnsafePath, inside
        from gesturegan.server.inference.like import LikeError, load_like, place
        from gesturegan.server.inference.model import ModelError, encoder_beside, load_encoder

        model = self.engine.model
        try:
            path = inside(self.serve.sounds_dir, cmd["name"])
            if not path.is_file():
                raise LikeError(f"{cmd['name']}: no such file in the sounds folder (/like/list names them)")
            encoder = self._encoders.get(model.path)
            if encoder is None:
                found = encoder_beside(model.path)
                if not found.exists():
                    raise LikeError(f"{model.path.name} has no encoder ({found.name}); /like needs one")
                encoder = self._encoders[model.path] = load_encoder(
                    found, self.serve.provider, self.serve.threads
                )
            placed = place(encoder, load_like(path, model.info), model.info.n_categories)
        except (UnsafePath, LikeError, ModelError) as e:
            self.engine.replies.append(("/error", "/like", str(e)))
            return
        self.engine.like(placed.mu, placed.sigma, placed.category, cmd["amount"])
        name = model.info.categories[placed.category]
        self.engine.replies.append(("/like", cmd["name"], name, float(self.engine.latent.jitter)))

    def close(self) -> None:
        self._stop.set()
        self._worker.join(timeout=2)
        self.osc.close()
        self.audio.close()
        self.gc.stop()
        if self.recording is not None:
            self.recording.close()


def open_midi(live: Live, map_path: str | None, name: str | None, jack: bool):
    """The MIDI input for ``serve``: ``(MidiInput or None, the line to print)``. A bad map raises
    ``MidiMapError``; no MIDI system here (no ALSA sequencer in a container) plays on without."""
    from gesturegan.server.control.midi import MidiInput, MidiMap, MidiMapError

    mapping = MidiMap.from_toml(map_path) if map_path else MidiMap()
    try:
        midi = MidiInput(
            live.engine,
            mapping,
            name,
            api="UNIX_JACK" if jack else None,
            models=live.model_names,
            sounds=live.sound_names,
        )
    except MidiMapError:
        raise
    except Exception as e:  # no MIDI system: OSC only
        return None, f"MIDI unavailable ({e}); OSC only. Use --audio jack for JACK MIDI, or --no-midi."
    where = midi.port_name if name else f"virtual port {midi.port_name} (connect a controller to it)"
    return midi, f"MIDI in: {where}"


def run_until_stopped(live: Live, midi=None) -> None:
    """Serve until Ctrl-C or SIGTERM (a clean stop from a terminal or a service manager), then
    close MIDI and everything ``live`` started."""
    import signal

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if midi is not None:
            midi.close()
        live.close()


def session_stats(live: Live, midi=None) -> dict:
    """``serve --stats``: the session's counters as JSON-able data."""
    import json
    from dataclasses import asdict

    engine = live.engine
    osc = {k: v for k, v in asdict(live.osc.stats).items() if k != "senders_logged"}
    stats = {
        "engine": dict(engine.counts),
        "osc": osc,
        "midi": None if midi is None else {"received": midi.received, "dropped": midi.dropped},
        "callbacks": live.audio.callbacks,
    }
    if hasattr(live.audio, "timing"):  # the JACK backend times its callbacks
        stats["audio"] = live.audio.timing()
    stats["pools"] = asdict(engine.pools.stats)
    stats["gc"] = live.gc.report()
    return json.loads(json.dumps(stats, default=int))
