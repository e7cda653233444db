"""The training loop: plain functions around one ``State`` (see ``state``).

``train`` opens the dataset, builds or restores the state, and repeats the family's step
function. Every ``log_every`` steps it logs losses and gradient norms (TensorBoard and
``log.jsonl``), every ``preview_every`` steps it renders previews, every
``checkpoint_every`` steps it scores the EMA generator (Fréchet distance in the gesture
classifier's space, lower is better) and writes a checkpoint, keeping the last K and the
best. SIGINT/SIGTERM finish the current step, write a checkpoint and return.

Distributed: launched by ``torchrun`` (``WORLD_SIZE > 1``), every process trains on its own
batches through DDP; only rank 0 writes anything.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tomllib
import torch
from torch import nn

from gesturegan.files import atomic_path, write_json_atomic, write_text_atomic
from gesturegan.training.config import CONFIG_DIR, Config, ConfigError, load_config, to_toml
from gesturegan.training.data import BatchSampler, Dataset, check_trainable, load_dataset
from gesturegan.training.pitch import hold_pitch
from gesturegan.training.state import (
    CheckpointError,
    State,
    grow_checkpoint,
    latest_checkpoint,
    new_state,
    prune_checkpoints,
    read_checkpoint,
    restore_state,
    save_checkpoint,
    step_checkpoints,
    update_ema,
)
from gesturegan.training.steps import STEPS


class TrainingError(Exception):
    """Training cannot start or cannot go on; checkpoints already written stay valid."""


@dataclass
class TrainResult:
    run: Path
    step: int
    stopped_early: bool
    best_score: float
    steps_per_s: float


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend)
    return Dist(torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(name: str, dist: Dist) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("--device cuda was asked for, but torch sees no CUDA GPU")
        torch.cuda.set_device(dist.local_rank)
        return torch.device("cuda", dist.local_rank)
    if name != "cpu":
        raise TrainingError(f"--device must be auto, cpu or cuda, not {name!r}")
    return torch.device("cpu")


def _data_record(data: Dataset) -> dict:
    return {
        "path": str(data.path),
        "stats": data.stats,
        "summary": data.summary(),
        "sample_rate": data.shape.sample_rate,
    }


def _start_state(
    data: Dataset,
    family: str,
    out: Path,
    config: str | Path | None,
    max_steps: int | None,
    resume: bool,
    device: torch.device,
    init_from: str | Path | None = None,
    log=print,
) -> State:
    existing = step_checkpoints(out)
    if init_from is not None:
        if resume:
            raise TrainingError("--init-from starts a new run and --resume continues one: pass one of them")
        if existing:
            raise TrainingError(f"{out} already holds checkpoints; --init-from needs a new --out")
        return _branch_state(data, family, config, max_steps, device, Path(init_from), log)
    if resume:
        path = latest_checkpoint(out)
        if path is None:
            raise TrainingError(f"--resume: {out} holds no checkpoints to continue from")
        if config is not None:
            raise TrainingError(
                "--config cannot change a run being resumed; it continues with its own config.toml"
            )
        ckpt = read_checkpoint(path)
        if ckpt["family"] != family:
            raise TrainingError(f"{out} is a {ckpt['family']!r} run, not {family!r}")
        want, have = ckpt["data"]["summary"].get("fingerprint"), data.stats.get("fingerprint")
        if want != have:
            raise TrainingError(f"{out} was trained on dataset {want}, but {data.path} is {have}")
        cfg = Config.from_dict(ckpt["config"])
        if max_steps is not None:
            cfg = replace(cfg, train=replace(cfg.train, max_steps=max_steps))
        return restore_state(ckpt, device, cfg)
    if existing:
        raise TrainingError(
            f"{out} already holds checkpoints; pass --resume to continue it, or choose another --out"
        )
    cfg = load_config(family, config)
    if max_steps is not None:
        if max_steps < 1:
            raise ConfigError(f"--max-steps must be at least 1, not {max_steps}")
        cfg = replace(cfg, train=replace(cfg.train, max_steps=max_steps))
    state = new_state(cfg, data.shape, data.categories, _data_record(data), device)
    if family == "specgan":  # per-bin statistics of the real data travel inside the generator
        idx = data.train_index[:: max(1, len(data.train_index) // 256)]
        audio = torch.from_numpy(np.stack([data.audio[i] for i in idx])).to(device)
        with torch.no_grad():
            re, im = state.generator.stft(audio)
            state.generator.set_normalisation(torch.log(torch.sqrt(re**2 + im**2).clamp_min(1e-7)))
        state.ema.load_state_dict(state.generator.state_dict())
    return state


def _branch_state(
    data: Dataset,
    family: str,
    config: str | Path | None,
    max_steps: int | None,
    device: torch.device,
    source: Path,
    log=print,
) -> State:
    """A new run that goes on from ``source`` (a checkpoint, or a run folder's latest) with changed keys.

    Weights, EMA, optimisers, step and random state carry over, so schedules such as
    ``adversarial_from`` continue; the TOML ``config`` changes keys of the checkpoint's own config
    (train keys freely, model keys only where every weight keeps its shape or new weights are
    added, such as a harmonic branch: those start fresh). The dataset may be
    another one of the same shape and categories (fine-tuning on your own sounds); the new run's
    score history starts empty, since scores on other data do not compare.
    """
    path = latest_checkpoint(source) if source.is_dir() else source
    if path is None:
        raise TrainingError(f"--init-from: {source} holds no checkpoints")
    if not path.exists():
        raise TrainingError(f"--init-from: {path} does not exist")
    ckpt = read_checkpoint(path)
    if ckpt["family"] != family:
        raise TrainingError(f"--init-from: {path} is a {ckpt['family']!r} checkpoint, not {family!r}")
    have, want = vars(data.shape), dict(ckpt["shape"])
    if have != want or list(ckpt["categories"]) != list(data.categories):
        raise TrainingError(
            f"--init-from: {path} was trained on clips of {want} with categories {ckpt['categories']}, "
            f"but {data.path} has {have} with {data.categories}; prepare the data the same way"
        )
    cfg = Config.from_dict(ckpt["config"])
    if config is not None:
        cfg = load_config(family, config, base=cfg)
    if max_steps is not None:
        cfg = replace(cfg, train=replace(cfg.train, max_steps=max_steps))
    if cfg.train.max_steps <= ckpt["step"]:
        raise ConfigError(
            f"--init-from: {path} is at step {ckpt['step']}; give --max-steps past it, not {cfg.train.max_steps}"
        )
    try:
        ckpt, added = grow_checkpoint(ckpt, cfg)
        state = restore_state(ckpt, device, cfg)
    except (RuntimeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0]
        raise TrainingError(
            f"--init-from: the config changes the shape of {path}'s weights ({first}); "
            "only keys that keep every weight's shape, or add new ones, can change when going on "
            "from a checkpoint"
        ) from e
    if added:
        log(f"--init-from: {len(added)} new weights start fresh ({_summarise(added)})")
    state.data = _data_record(data)
    state.history, state.best_score = [], math.inf
    return state


def _pitch_tracks(data: Dataset, state: State, dist: Dist, progress: bool, log):
    """The harmonic branch's f0 targets: pYIN tracks of every clip, tracked once per dataset
    (by the first process; the others wait and read its file)."""
    from gesturegan.training.pitch import PITCH_FILE, load_or_track

    def tracks(show: bool):
        return load_or_track(
            data.path,
            data.audio,
            data.shape.sample_rate,
            state.config.model.hop,
            data.stats.get("fingerprint"),
            progress=show,
        )

    if not (data.path / PITCH_FILE).exists() and dist.main:
        log(
            f"pitch tracks: pYIN over {len(data.audio)} clips, once for {data.path} (about 2 s a clip per core)"
        )
    if dist.world > 1:
        if dist.main:
            found = tracks(progress)
        torch.distributed.barrier()
        return found if dist.main else tracks(False)
    return tracks(progress)


def _summarise(names: list[str]) -> str:
    """Tensor names grouped by the module that holds them: ``generator.decoder.harmonic (2)``."""
    groups: dict[str, int] = {}
    for name in names:
        module = name.rsplit(".", 1)[0]
        groups[module] = groups.get(module, 0) + 1
    return ", ".join(f"{m} ({n})" if n > 1 else m for m, n in groups.items())


def _wrap(state: State, dist: Dist) -> None:
    g: nn.Module = state.generator
    if state.config.family == "specgan":
        from gesturegan.training.models.specgan import SpectraView

        g = SpectraView(state.generator)
    d: nn.Module = state.critic
    if state.config.family == "twostage":
        from gesturegan.training.models.twostage import AutoencoderView

        g, d = AutoencoderView(state.generator, state.critic.encoder), state.critic.discriminator
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [state.device.index] if state.device.type == "cuda" else None
        # A frozen encoder leaves parameters without gradients in the adversarial stage.
        unused = state.config.family == "twostage" and state.config.train.freeze_encoder
        g = DDP(g, device_ids=ids, broadcast_buffers=False, find_unused_parameters=unused)
        d = DDP(d, device_ids=ids, broadcast_buffers=False)
    state.g_train, state.d_train = g, d


def _real_embeddings(data: Dataset, classifier) -> dict[str, np.ndarray]:
    from gesturegan.training.scoring import features

    out = {}
    for k, name in enumerate(data.categories):
        idx = np.flatnonzero(data.labels == k)
        if idx.size >= 2:
            out[name] = classifier.embed(
                features(np.stack([data.audio[i] for i in idx]), data.shape.sample_rate)
            )
    return out


def _score(state: State, real: dict[str, np.ndarray], classifier) -> float:
    from gesturegan.training.previews import fixed_latents, render
    from gesturegan.training.scoring import checkpoint_score

    n = state.config.train.eval_per_category
    z, cond = fixed_latents(state.ema, len(state.categories), n, seed=99)
    audio = render(state.ema, z, cond)
    generated = {c: audio[k * n : (k + 1) * n] for k, c in enumerate(state.categories)}
    return checkpoint_score(generated, real, state.shape.sample_rate, classifier)


def _refit(state: State, data: Dataset, writer) -> None:
    """``_fit_prior``, with the postfilter's gains shown in tensorboard (``postfilter/CATEGORY``;
    log.jsonl keeps one row per step)."""
    for key, value in _fit_prior(state, data).items():
        writer.add_scalar(key, value, state.step)


def _fit_prior(state: State, data: Dataset) -> dict[str, float]:
    """Two-stage model: refit each category's prior to the current encoder's codes of its clips,
    then the postfilter, then (``model.prior_typicality``) the prior's weights by typicality;
    returns what to log: ``{"postfilter/CATEGORY": gain, "prior/heard/CATEGORY": share, ...}``."""
    if state.config.family != "twostage":
        return {}
    from gesturegan.training.models.twostage import (
        fit_component_gains,
        fit_data_loudness,
        fit_postfilter,
        fit_prior,
        fit_time_gain,
        weight_by_noise_share,
        weight_by_typicality,
    )

    train = data.train_index
    by_category = [
        np.stack([data.audio[i] for i in train[data.labels[train] == k]])
        if np.any(data.labels[train] == k)
        else np.zeros((0, *data.audio.shape[1:]), np.float32)
        for k in range(len(data.categories))
    ]
    pitch = data.pitch
    pitch_by_category = (
        None
        if pitch is None
        else [
            (pitch.f0_hz[train[data.labels[train] == k]], pitch.voiced[train[data.labels[train] == k]])
            for k in range(len(data.categories))
        ]
    )
    fit = fit_prior(
        [state.generator, state.ema],
        state.critic.encoder,
        by_category,
        data.categories,
        state.config.train.seed,
        kind=state.config.model.prior,
        bandwidth=state.config.model.prior_bandwidth,
        pitch_by_category=pitch_by_category,
    )
    # after the prior: the postfilter is fitted through the EMA decoder, which is what ships
    gains = fit_postfilter(
        [state.generator, state.ema], state.ema, state.critic.encoder, by_category, state.config.train.seed
    )
    logged = {f"postfilter/{data.categories[k]}": v for k, v in (gains or {}).items()}
    if state.ema.per_component_gain and gains is not None:
        # after the category gains, which components not fitted (a GMM prior's) keep
        per_component = fit_component_gains([state.generator, state.ema], state.ema, by_category, fit.kept)
        for k, component_gains in per_component.items():
            logged[f"postfilter/median_component/{data.categories[k]}"] = float(np.median(component_gains))
    time_gains = fit_time_gain(
        [state.generator, state.ema],
        state.ema,
        state.critic.encoder,
        by_category,
        state.config.train.seed,
        only=[data.categories.index(c) for c in state.config.model.postfilter_time_categories],
    )
    logged.update({f"postfilter/time/{data.categories[k]}": v for k, v in (time_gains or {}).items()})
    fit_data_loudness([state.generator, state.ema], data.stats.get("loudness", {}))
    if state.config.model.prior_noise_share:
        # after every gain: a draw's flatness is what ships
        share = weight_by_noise_share(
            [state.generator, state.ema],
            state.ema,
            by_category,
            data.categories,
            state.config.model.prior_noise_share,
            state.config.train.seed,
        )
        for name, value in share.after.items():
            logged[f"prior/noisy_before/{name}"] = share.before[name]
            logged[f"prior/noisy/{name}"] = value
    exponent = state.config.model.prior_typicality
    if exponent > 0:
        # last: the classifier hears what ships, postfilter and contours included
        typical = weight_by_typicality(
            [state.generator, state.ema],
            state.ema,
            data.categories,
            exponent,
            state.config.train.seed,
            only=state.config.model.prior_typicality_categories,
        )
        for name in typical.heard:
            logged[f"prior/heard_before/{name}"] = typical.share_before[name]
            logged[f"prior/heard/{name}"] = typical.share_after[name]
            logged[f"prior/effective_components/{name}"] = typical.effective[name]
    return logged


def run_family(out: str | Path) -> str:
    """The family of the run in ``out`` (from its config.toml), for ``--resume`` without ``--model``."""
    path = Path(out) / "config.toml"
    try:
        family = tomllib.loads(path.read_text(encoding="utf-8")).get("family")
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise TrainingError(f"--resume: {out} is not a run folder (no readable config.toml: {e})") from e
    if not isinstance(family, str):
        raise TrainingError(f"--resume: {path} names no family; pass --model")
    return family


ESTIMATE_AFTER_STEPS = 20  # the first steps are timed for the estimate of the whole run


def _duration(seconds: float) -> str:
    """``about 5 min``, ``about 3 h 20 min``, ``about 4 days 6 h``: a run's length as a person reads it."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"about {hours} h {minutes} min"
    return f"about {hours // 24} days {hours % 24} h"


def _forget_past_the_checkpoint(out: Path, step: int) -> None:
    """A run starts where its checkpoint is: log lines and previews after ``step`` (written by a
    run killed before it could checkpoint them) go, and a fresh start (0) drops TensorBoard's old
    files (a resume purges its own, past ``step``)."""
    log_path = out / "log.jsonl"
    if log_path.exists():
        kept = []
        for line in log_path.read_text().splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:  # a line cut off by the kill
                continue
        write_text_atomic(log_path, "".join(f"{line}\n" for line in kept))
    for old in (out / "previews").glob("step-*") if (out / "previews").exists() else []:
        try:
            past = int(old.name.split("-")[1].split(".")[0]) > step
        except ValueError:
            continue
        if past:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    if step == 0 and (out / "tensorboard").exists():
        shutil.rmtree(out / "tensorboard")


def _preview(state: State, out: Path, writer) -> None:
    """The preview sheet, WAVs and GIF frame of the EMA generator at this step."""
    from gesturegan.training.previews import write_preview

    write_preview(
        out,
        state.step,
        state.ema,
        state.categories,
        state.shape.sample_rate,
        state.config.train.preview_per_category,
        writer,
    )


def _checkpoint(state: State, out: Path, real, classifier, log) -> None:
    score = _score(state, real, classifier)
    # JSON has no NaN: a score that cannot be measured is recorded as null
    state.history.append(
        {"step": state.step, "score": score if math.isfinite(score) else None, "time": time.time()}
    )
    is_best = math.isfinite(score) and score < state.best_score
    if is_best:
        state.best_score = score
    path = save_checkpoint(state, out / "checkpoints" / f"step-{state.step:07d}.pt")
    if is_best:
        with atomic_path(out / "checkpoints" / "best.pt") as tmp:
            shutil.copyfile(path, tmp)
    prune_checkpoints(out, state.config.train.keep_last)
    write_json_atomic(out / "history.json", state.history)
    log(
        f"step {state.step}: score (Fréchet distance, lower is better) {score:.3f}{'  best' if is_best else ''}"
    )


def train(
    data_path: str | Path,
    family: str,
    out: str | Path,
    config: str | Path | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
    log=print,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train ``family`` on the dataset at ``data_path`` into the run folder ``out``.

    ``init_from``: a checkpoint (or run folder) to go on from in a new run, with ``config``
    changing its keys (see ``_branch_state``).
    """
    from gesturegan.training.classifier import default_classifier

    out = Path(out)
    dist = _init_distributed()
    try:
        dev = pick_device(device, dist)
        data = load_dataset(data_path)
        check_trainable(data)
        picked = ""
        if config is None and not resume and init_from is None and dev.type == "cpu":
            # The family's defaults are sized for a GPU (seconds a step here): take the CPU config.
            config = f"{family}-cpu" if (CONFIG_DIR / f"{family}-cpu.toml").exists() else "cpu"
            picked = " (picked for a CPU; --config to choose another)"
        state = _start_state(data, family, out, config, max_steps, resume, dev, init_from, log)
        for key in ("prior_typicality_categories", "postfilter_time_categories", "prior_noise_share"):
            unknown = set(getattr(state.config.model, key)) - set(data.categories)
            if unknown:
                raise ConfigError(
                    f"model.{key} names {', '.join(sorted(unknown))}, not a category of "
                    f"{data.path} (its categories: {', '.join(data.categories)})"
                )
        if dist.rank > 0:  # each process draws its own batches
            state.rng.manual_seed(state.config.train.seed + 7919 * dist.rank + state.step)
        _wrap(state, dist)
        t = state.config.train
        writer, classifier, real = None, None, {}
        if dist.main:
            out.mkdir(parents=True, exist_ok=True)
            _forget_past_the_checkpoint(out, state.step if resume else 0)
            write_text_atomic(out / "config.toml", to_toml(state.config))
            write_json_atomic(out / "stats.json", data.stats)
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tensorboard"), purge_step=state.step if resume else None)
            classifier = default_classifier()
            real = _real_embeddings(data, classifier)
        if family == "twostage" and state.config.model.harmonics and t.pitch_weight > 0:
            data.pitch = _pitch_tracks(data, state, dist, progress, log)
            if state.config.model.harmonic_gate:
                data.pitch = hold_pitch(data.pitch)
        sampler = BatchSampler(data, t.batch_size, t.balanced, state.rng)
        step_fn = STEPS[family]
        stop = {"signal": None}
        handlers = {}
        if dist.main or dist.world == 1:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):  # not the main thread
                    handlers[sig] = signal.signal(sig, lambda s, f: stop.update(signal=s))
        from tqdm import tqdm

        bar = tqdm(
            total=t.max_steps,
            initial=state.step,
            unit="step",
            disable=not (progress and dist.main),
            dynamic_ncols=True,
            desc=f"train {family}",
        )
        say = bar.write if (progress and dist.main) else log
        if dist.main:
            n = torch.get_num_threads()
            threads = f", {n} thread{'s' if n > 1 else ''}" if dev.type == "cpu" else ""
            gpus = f" x {dist.world}" if dist.world > 1 else ""
            source = "its own config.toml" if resume else f"config {config or 'defaults'}{picked}"
            say(
                f"train {family} on {dev.type}{gpus}{threads}: {source}; batch {t.batch_size}; "
                f"steps {state.step} -> {t.max_steps}; {len(data.train_index)} training examples"
            )
        start_step, started = state.step, time.perf_counter()
        timed_at = start_step + ESTIMATE_AFTER_STEPS
        log_file = (out / "log.jsonl").open("a") if dist.main else None
        try:
            while state.step < t.max_steps and stop["signal"] is None:
                state.generator.train()
                logs = step_fn(state, sampler)
                state.step += 1
                update_ema(state)
                bad = [k for k, v in logs.items() if not math.isfinite(v)]
                if bad:
                    raise TrainingError(
                        f"{', '.join(bad)} became non-finite at step {state.step}; the checkpoints already "
                        f"written in {out} are intact (try a lower learning rate, then --resume a copy)"
                    )
                bar.update(1)
                if not dist.main:
                    continue
                if state.step == timed_at and state.step < t.max_steps:
                    rate = (state.step - start_step) / max(time.perf_counter() - started, 1e-9)
                    say(
                        f"{rate:.2f} steps/s: {t.max_steps - state.step} steps to go, "
                        f"{_duration((t.max_steps - state.step) / rate)} (Ctrl-C keeps a checkpoint; --resume goes on)"
                    )
                if state.step % t.log_every == 0:
                    rate = (state.step - start_step) / max(time.perf_counter() - started, 1e-9)
                    logs["steps_per_s"] = rate
                    for k, v in logs.items():
                        writer.add_scalar(k, v, state.step)
                    log_file.write(json.dumps({"step": state.step, **logs}) + "\n")
                    log_file.flush()
                    bar.set_postfix(
                        {k.split("/")[-1]: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss/")}
                    )
                last = state.step == t.max_steps
                preview_due = state.step % t.preview_every == 0 or last
                checkpoint_due = state.step % t.checkpoint_every == 0 or last
                if preview_due or checkpoint_due:
                    _refit(state, data, writer)
                if preview_due:
                    _preview(state, out, writer)
                if checkpoint_due:
                    _checkpoint(state, out, real, classifier, say)
            if stop["signal"] is not None and dist.main and state.step > start_step:
                say(f"stopped by signal {stop['signal']} at step {state.step}; writing a checkpoint")
                if not (out / "checkpoints" / f"step-{state.step:07d}.pt").exists():
                    _refit(state, data, writer)
                    _preview(state, out, writer)  # so a stopped run has its progress pictures too
                    _checkpoint(state, out, real, classifier, say)
        finally:
            bar.close()
            if log_file is not None:
                log_file.close()
            if writer is not None:
                writer.close()
            for sig, h in handlers.items():
                signal.signal(sig, h)
        elapsed = time.perf_counter() - started
        rate = (state.step - start_step) / elapsed if elapsed > 0 else 0.0
        return TrainResult(out, state.step, stop["signal"] is not None, state.best_score, rate)
    except CheckpointError as e:
        raise TrainingError(str(e)) from e
    finally:
        if dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
