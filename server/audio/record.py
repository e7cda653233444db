"""Record a performance and replay it offline, sample for sample.

``--record DIR`` writes three files:

- ``performance.wav``: what the audio callback played (float32, the engine's rate and channels);
- ``events.jsonl``: every generated batch (its model, latents and ``cond``), every action the
  engine scheduled (play, stop, panic, gain, rate, with where each played gesture came from),
  and the frame each action really ran at;
- ``session.json``: the engine configuration and the models used.

Replay (``gesturegan replay DIR``) regenerates each batch with the same latents through the same
model (same batch, so the same numbers), schedules every action at the frame it ran at, and runs
the engine block by block. Actions that never ran (a panic cancelled them) are not replayed.

The audio callback's only part is ``push``: a copy of the block into a preallocated ring. The
worker thread calls ``drain`` to move the ring to the WAV file and the log to the JSONL file.
Files are written under ``.part`` names and renamed when the recording closes.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import asdict
from pathlib import Path

import numpy as np

from gesturegan.files import write_json_atomic
from gesturegan.server.core.actions import KIND, Gain, Play, Rate, Stop, kind_of
from gesturegan.server.core.blockring import push_block
from gesturegan.server.core.engine import Engine, EngineConfig, to_rate
from gesturegan.server.core.voices import mono

RING_SECONDS = 8.0


BY_KIND = {word: cls for cls, word in KIND.items()}


class RecordError(ValueError):
    pass


class Recording:
    """Attach to ``engine``; ``push`` from the audio thread, ``drain`` from a worker, then ``close``."""

    def __init__(
        self,
        folder: str | Path,
        engine: Engine,
        audio_name: str = "performance.wav",
        ring: np.ndarray | None = None,
    ):
        """``ring``: ``[frames, channels]`` float32 that another process fills (the mixer
        process); it then sets ``written`` and reads ``read`` through ``on_read``."""
        import soundfile as sf

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.audio_name = audio_name
        cfg = engine.cfg
        self.ring = (
            np.zeros((int(RING_SECONDS * cfg.sample_rate), cfg.channels), np.float32)
            if ring is None
            else ring
        )
        self.on_read = None  # called with ``read`` after each drain (the mixer's overflow check)
        self.written = 0  # frames pushed by the audio thread (monotonic)
        self.read = 0  # frames drained to the file
        self.overflows = 0
        self._wav = sf.SoundFile(
            self.folder / f"{audio_name}.part",
            "w",
            samplerate=cfg.sample_rate,
            channels=cfg.channels,
            subtype="FLOAT",
            format="WAV",
        )
        self._events = open(self.folder / "events.jsonl.part", "w", encoding="utf-8")  # noqa: SIM115
        self.models: dict[str, int] = {}
        engine.log = deque()
        self._session()

    # -- audio thread ----------------------------------------------------------------------
    def push(self, block: np.ndarray) -> None:
        """Copy ``block [frames, channels]`` into the ring (no allocation, no lock)."""
        if push_block(self.ring, self.written, self.read, block):
            self.written += block.shape[0]
        else:
            self.overflows += 1  # the writer fell behind by RING_SECONDS: drop, never wait

    # -- worker ----------------------------------------------------------------------------
    def drain(self) -> None:
        log = self.engine.log
        while log:
            self._events.write(json.dumps(self._entry(log.popleft())) + "\n")
        self._events.flush()
        end, cap = self.written, self.ring.shape[0]
        while self.read < end:
            start = self.read % cap
            n = min(end - self.read, cap - start)
            self._wav.write(self.ring[start : start + n])
            self.read += n
        if self.on_read is not None:
            self.on_read(self.read)

    def _entry(self, item: tuple) -> dict:
        kind = item[0]
        if kind == "ran":
            return {"ran": item[1], "frame": int(item[2])}
        if kind == "gen":
            _, batch, model, z, cond = item
            path = str(Path(model.path).resolve())
            if path not in self.models:
                self.models[path] = len(self.models)
                self._session()
            return {"gen": batch, "model": self.models[path], "z": z.tolist(), "cond": cond.tolist()}
        _, action, source = item
        entry: dict = {"act": action.id, "kind": kind_of(action)}
        if type(action) is Play:
            entry |= {
                "velocity": float(action.velocity),
                "pan": [float(g) for g in action.pan],
                "name": action.name,
            }
            entry["source"] = list(source) if source is not None else None
        elif type(action) is Stop:
            entry["value"] = action.voice
        elif type(action) is Gain:
            entry["value"] = action.gain
        elif type(action) is Rate:
            entry["value"] = action.rate
        return entry

    def _session(self) -> None:
        write_json_atomic(
            self.folder / "session.json",
            {
                "engine": asdict(self.engine.cfg),
                "models": sorted(self.models, key=self.models.get),
                "files": {"audio": self.audio_name, "events": "events.jsonl"},
            },
        )

    def close(self) -> None:
        self.drain()
        self._wav.close()
        self._events.close()
        self._session()
        os.replace(self.folder / f"{self.audio_name}.part", self.folder / self.audio_name)
        os.replace(self.folder / "events.jsonl.part", self.folder / "events.jsonl")
        self.engine.log = None


def replay(folder: str | Path, provider: str = "cpu", frames: int | None = None) -> tuple[np.ndarray, int]:
    """Render the recorded performance in ``folder`` offline: ``[frames, channels]`` and its rate.

    ``frames`` defaults to the recorded WAV's length (or the last action's frame plus the
    longest gesture when the WAV is missing).
    """
    from gesturegan.server.inference.model import ModelError, load_model

    folder = Path(folder)
    try:
        session = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
        cfg = EngineConfig(**session["engine"])
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise RecordError(f"{folder} is not a finished recording ({e})") from e
    try:
        models = [load_model(p, provider, batch_sizes=()) for p in session["models"]]
    except ModelError as e:
        raise RecordError(f"a model of this recording cannot be loaded: {e}") from e
    if not models:
        raise RecordError(f"{folder}: nothing was generated in this recording")
    gens, acts, ran = {}, {}, []
    for n, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
        except ValueError as err:
            raise RecordError(f"events.jsonl line {n} is not JSON ({err})") from err
        if "gen" in e:
            gens[e["gen"]] = e
        elif "act" in e:
            acts[e["act"]] = e
        elif "ran" in e:
            ran.append((e["frame"], e["ran"]))
    engine = Engine(models[0], cfg)
    audio_cache: dict[int, np.ndarray] = {}

    def gesture(source: list[int]) -> np.ndarray:
        batch, row = source
        if batch not in audio_cache:
            g = gens[batch]
            engine.model = models[g["model"]]
            engine.info = engine.model.info
            engine.out_samples = int(
                np.ceil(engine.info.n_samples * cfg.sample_rate / engine.info.sample_rate)
            )
            z = np.asarray(g["z"], np.float32)
            cond = np.asarray(g["cond"], np.float32)
            audio = engine.model.generate(z, cond).copy()
            audio_cache[batch] = to_rate(audio, engine.info.sample_rate, cfg.sample_rate, engine.out_samples)
        return audio_cache[batch][row]

    # Each action is handed to the scheduler just before its block, as live: a panic cancels
    # only what was pending when it ran.
    actions = []
    for frame, action_id in sorted(ran, key=lambda r: r[0]):  # stable: execution order within a frame
        a = acts[action_id]
        if a["kind"] == "play":
            g = mono(gesture(a["source"]))
            actions.append((frame, Play(action_id, g, a["velocity"], np.float32(a["pan"]), a["name"])))
        else:
            value = () if "value" not in a else (a["value"],)
            actions.append((frame, BY_KIND[a["kind"]](action_id, *value)))
    if frames is None:
        try:
            import soundfile as sf

            frames = sf.info(str(folder / session["files"]["audio"])).frames
        except (OSError, RuntimeError):
            frames = max((f for f, _ in actions), default=0) + 4 * engine.out_samples  # rate 0.25 at most
    out = np.zeros((frames + cfg.block, cfg.channels), np.float32)
    i = 0
    for start in range(0, frames, cfg.block):
        while i < len(actions) and actions[i][0] < start + cfg.block:
            engine.scheduler.submit(*actions[i])
            i += 1
        engine.process(out[start : start + cfg.block])
    return out[:frames], cfg.sample_rate


def compare_with_live(folder: str | Path, audio: np.ndarray) -> float | None:
    """The largest sample difference between a replay ``[frames, channels]`` and the performance
    recorded in ``folder`` (0.0: identical), or None when the recording has no audio file."""
    import soundfile as sf

    folder = Path(folder)
    session = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    live = folder / session["files"]["audio"]
    if not live.exists():
        return None
    heard, _ = sf.read(str(live), dtype="float32", always_2d=True)
    n = min(len(heard), len(audio))
    return float(np.abs(heard[:n] - audio[:n]).max()) if n else 0.0
