"""Everything a run is: one ``State``, saved to and restored from checkpoints.

A checkpoint holds the weights (generator, its EMA, the critic), both optimisers, every
random generator, the step, the score history, the resolved config and the dataset's
stats, so ``--resume`` continues the exact run and ``export``/``evaluate`` need nothing
else. Files are written to a temporary name and renamed: a kill at any moment leaves the
previous checkpoints intact.
"""

from __future__ import annotations

import copy
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gesturegan.files import atomic_path
from gesturegan.training.config import Config
from gesturegan.training.models import DataShape, Generator, build

CHECKPOINT_FORMAT = 1
_STEP_FILE = re.compile(r"^step-(\d{7,})\.pt$")


class CheckpointError(Exception):
    """A run folder or checkpoint that cannot be used; the message says why."""


@dataclass
class State:
    """The whole training state. ``g_train``/``d_train`` are the (possibly DDP-wrapped) modules."""

    config: Config
    shape: DataShape
    categories: list[str]
    data: dict  # dataset stats plus the summary that goes into the model's metadata
    generator: Generator
    ema: Generator
    critic: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    rng: torch.Generator  # batches, latents and augmentation
    step: int = 0
    best_score: float = math.inf
    history: list[dict] = field(default_factory=list)
    augment_p: float = 0.0  # gan with train.ada_target: the adaptive augmentation's probability
    g_train: nn.Module | None = None
    d_train: nn.Module | None = None

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device


def new_state(
    cfg: Config, shape: DataShape, categories: list[str], data: dict, device: torch.device
) -> State:
    """Fresh models and optimisers, seeded by ``cfg.train.seed``."""
    torch.manual_seed(cfg.train.seed)
    generator, critic = build(cfg, shape)
    generator, critic = generator.to(device), critic.to(device)
    t = cfg.train
    if cfg.family == "vae":  # encoder and decoder learn together under one optimiser
        opt_g = torch.optim.Adam([*generator.parameters(), *critic.parameters()], t.lr_g, (t.beta1, t.beta2))
        opt_d = None
    elif cfg.family == "twostage":  # decoder and encoder together; the discriminator on its own
        opt_g = torch.optim.Adam(
            [*generator.parameters(), *critic.encoder.parameters()], t.lr_g, (t.beta1, t.beta2)
        )
        opt_d = torch.optim.Adam(critic.discriminator.parameters(), t.lr_d, (t.beta1, t.beta2))
    else:
        opt_g = torch.optim.Adam(generator.parameters(), t.lr_g, (t.beta1, t.beta2))
        opt_d = torch.optim.Adam(critic.parameters(), t.lr_d, (t.beta1, t.beta2))
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    rng = torch.Generator().manual_seed(t.seed)
    return State(cfg, shape, categories, data, generator, ema, critic, opt_g, opt_d, rng)


@torch.no_grad()
def update_ema(state: State) -> None:
    """``ema = decay * ema + (1 - decay) * generator``; buffers are copied.

    The decay ramps up as ``(1 + step) / (10 + step)`` so early previews show the generator's
    progress rather than its random initialisation.
    """
    decay = min(state.config.train.ema_decay, (1 + state.step) / (10 + state.step))
    e_params, g_params = list(state.ema.parameters()), list(state.generator.parameters())
    if decay == 0.0:
        torch._foreach_copy_(e_params, g_params)
    else:
        torch._foreach_lerp_(e_params, g_params, 1.0 - decay)
    for e, g in zip(state.ema.buffers(), state.generator.buffers(), strict=True):
        e.copy_(g)


def _rng_state() -> dict:
    # numpy's state as plain lists, so checkpoints load with torch.load(weights_only=True).
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]
    out = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def to_checkpoint(state: State) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "family": state.config.family,
        "config": state.config.to_dict(),
        "shape": vars(state.shape),
        "categories": state.categories,
        "data": state.data,
        "step": state.step,
        "best_score": state.best_score,
        "history": state.history,
        "augment_p": state.augment_p,
        "generator": state.generator.state_dict(),
        "ema": state.ema.state_dict(),
        "critic": state.critic.state_dict(),
        "opt_g": state.opt_g.state_dict(),
        "opt_d": state.opt_d.state_dict() if state.opt_d is not None else None,
        "rng": {"batches": state.rng.get_state(), **_rng_state()},
    }


def save_checkpoint(state: State, path: Path) -> Path:
    """Write ``path`` atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(to_checkpoint(state), tmp)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict on the CPU, refusing files that are not ours.

    ``weights_only=True``: a checkpoint is tensors and plain Python values, never pickled
    code, so a file from elsewhere cannot run anything when it is opened.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for damaged files
        raise CheckpointError(f"{path} is not a readable checkpoint: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a gesturegan checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def restore_state(ckpt: dict, device: torch.device, cfg: Config | None = None) -> State:
    """Rebuild a ``State`` from a checkpoint dict (``cfg`` may change only the step budget)."""
    cfg = cfg or Config.from_dict(ckpt["config"])
    shape = DataShape(**ckpt["shape"])
    state = new_state(cfg, shape, list(ckpt["categories"]), ckpt["data"], device)
    state.generator.load_state_dict(ckpt["generator"])
    state.ema.load_state_dict(ckpt["ema"])
    state.critic.load_state_dict(ckpt["critic"])
    state.opt_g.load_state_dict(ckpt["opt_g"])
    if state.opt_d is not None and ckpt["opt_d"] is not None:
        state.opt_d.load_state_dict(ckpt["opt_d"])
    state.step, state.best_score, state.history = ckpt["step"], ckpt["best_score"], list(ckpt["history"])
    state.augment_p = float(ckpt.get("augment_p", 0.0))  # older checkpoints have none
    rng = ckpt["rng"]
    state.rng.set_state(rng["batches"])
    torch.set_rng_state(rng["torch"])
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate(rng["python"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state


def _optimizer_names(state: State) -> dict[str, list[str]]:
    """Each optimiser's parameters by name (``generator.*``, ``critic.*``), in its own order."""
    names = {id(p): f"generator.{n}" for n, p in state.generator.named_parameters()}
    names.update({id(p): f"critic.{n}" for n, p in state.critic.named_parameters()})
    out = {}
    for key, opt in (("opt_g", state.opt_g), ("opt_d", state.opt_d)):
        if opt is not None:
            out[key] = [names[id(p)] for group in opt.param_groups for p in group["params"]]
    return out


def grow_checkpoint(ckpt: dict, cfg: Config) -> tuple[dict, list[str]]:
    """``ckpt`` rewritten for ``cfg``, a config that only *adds* weights (a harmonic branch, a
    discriminator resolution): every weight of the checkpoint keeps its value and its Adam
    moments, the added ones start as a fresh model of ``cfg`` would. Returns the checkpoint and
    the names of the added weights (parameters; added buffers start fresh too, unnamed).

    Raises ``ValueError`` naming the first weight that ``cfg`` drops or reshapes: that is not
    growing, and going on from the checkpoint would lose what it learnt there.
    """
    old = new_state(Config.from_dict(ckpt["config"]), DataShape(**ckpt["shape"]), [], {}, torch.device("cpu"))
    new = new_state(cfg, DataShape(**ckpt["shape"]), [], {}, torch.device("cpu"))
    grown = dict(ckpt)
    added: list[str] = []
    for key, module in (("generator", new.generator), ("ema", new.ema), ("critic", new.critic)):
        fresh, saved = module.state_dict(), ckpt[key]
        for name, tensor in saved.items():
            if name not in fresh:
                raise ValueError(f"{key}.{name} is not in the new model")
            if fresh[name].shape != tensor.shape:
                raise ValueError(
                    f"{key}.{name} changes shape {tuple(tensor.shape)} -> {tuple(fresh[name].shape)}"
                )
        if key != "ema":
            # weights, not buffers: a buffer that is new (the prior's f0 contours) is refitted,
            # not learnt, and a parametrisation's power-iteration vectors follow their weight
            learnt = {n for n, _ in module.named_parameters()}
            added += [f"{key}.{n}" for n in fresh if n not in saved and n in learnt]
        grown[key] = {**fresh, **saved}
    old_names, new_names = _optimizer_names(old), _optimizer_names(new)
    for key, names in new_names.items():
        saved = ckpt.get(key)
        if saved is None:
            continue
        where = {name: i for i, name in enumerate(old_names.get(key, []))}
        fresh = getattr(new, key).state_dict()
        fresh["state"] = {
            i: saved["state"][where[name]]
            for i, name in enumerate(names)
            if name in where and where[name] in saved["state"]
        }
        grown[key] = fresh
    grown["config"] = cfg.to_dict()
    return grown, added


def step_checkpoints(run: Path) -> list[Path]:
    """``RUN/checkpoints/step-*.pt``, oldest first."""
    folder = run / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run: Path) -> Path | None:
    found = step_checkpoints(run)
    return found[-1] if found else None


def prune_checkpoints(run: Path, keep_last: int) -> None:
    for old in step_checkpoints(run)[:-keep_last]:
        old.unlink(missing_ok=True)


def load_generator(run_or_checkpoint: str | Path, which: str = "best") -> tuple[Generator, dict]:
    """The EMA generator of a run (``best``, else ``latest``) or of one checkpoint file, in eval mode.

    Returns the generator on the CPU and the checkpoint dict (without optimiser states).
    """
    path = Path(run_or_checkpoint)
    if path.is_dir():
        best = path / "checkpoints" / "best.pt"
        chosen = best if which == "best" and best.exists() else latest_checkpoint(path)
        if chosen is None:
            raise CheckpointError(
                f"{path} holds no checkpoints (is it a run folder made by `gesturegan train`?)"
            )
        path = chosen
    elif not path.exists():
        raise CheckpointError(f"{path} does not exist")
    ckpt = read_checkpoint(path)
    cfg = Config.from_dict(ckpt["config"])
    generator, _ = build(cfg, DataShape(**ckpt["shape"]))
    generator.load_state_dict(ckpt["ema"])
    for key in ("opt_g", "opt_d", "critic", "generator"):
        ckpt.pop(key, None)
    ckpt["path"] = str(path)
    return generator.eval().requires_grad_(False), ckpt
