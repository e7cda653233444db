"""Training configuration: TOML files validated into dataclasses.

A config has two tables, ``[model]`` and ``[train]``. Every key has a default that suits
the model family (``defaults_for``); a TOML file only overrides what it names. Unknown keys
and wrong types are refused with a message naming the file, table and key, so a typo never
silently trains the wrong thing. The resolved config is written beside every run and into
every checkpoint (``to_toml``), so export and evaluation need nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import tomllib

FAMILIES = ("gan", "vae", "specgan", "wavegan", "twostage")
PRECISIONS = ("fp32", "bf16")
CONFIG_DIR = Path(__file__).parent / "configs"
PRIORS = ("gmm", "posterior")
HARMONIC_SYNTHESES = ("time", "spectral")


class ConfigError(Exception):
    """A config that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture knobs. Which ones a family reads is listed in docs/commands/train.md."""

    latent_dim: int = 128
    width: int = 256  # generator channels at the lowest resolution
    blocks: int = 4  # full-resolution residual blocks (gan, vae)
    style_dim: int = 256  # width of the z+category style vector (gan, vae)
    n_fft: int = 1024  # STFT of the generator's output representation
    hop: int = 256
    d_width: int = 32  # discriminator / encoder base channels
    d_resolutions: tuple[int, ...] = (512, 2048)  # STFT sizes the gan discriminator looks at
    griffin_lim_iters: int = 32  # specgan only: iterations unrolled inside the graph
    phase_shuffle: int = 2  # wavegan only
    phase_advance: bool = (
        False  # gan, vae, twostage: phase head predicts the deviation from each bin's rotation
    )
    # gan, vae, twostage: the head also gives a phase change per frame, summed over frames
    # (instantaneous frequency): a partial between two bins is a constant, not a ramp
    phase_integrate: bool = False
    code_dim: int = 64  # twostage: size of the autoencoder's code (the model's z has one more)
    prior_components: int = 8  # twostage: Gaussian components per category in the prior, at most
    # twostage: "gmm" fits a diagonal mixture to each category's codes (EM); "posterior" keeps one
    # component per training clip (its posterior, widened by prior_bandwidth x the category's spread)
    prior: str = "gmm"
    prior_bandwidth: float = 0.0  # twostage, prior = "posterior": extra spread, in category deviations
    # twostage: each prior component's weight times (the packaged gesture classifier's mean
    # probability of its category over draws of that component) ** prior_typicality, refitted
    # with the prior: clips of a category that sound like another one are drawn less often,
    # so a requested category sounds like it; 0: every component as fitted
    prior_typicality: float = 0.0
    # the categories prior_typicality weights (empty: every category the classifier knows); in
    # a category whose clips are already heard as it, weighting only narrows its variety
    prior_typicality_categories: tuple[str, ...] = ()
    # twostage: a per-category postfilter scales each frame's log-magnitude detail around its
    # envelope (a moving average over this many bins), by a gain fitted with each prior so that
    # reconstructions are as tonal as their clips (global-variance compensation: regression-trained
    # decoders draw partials too flat); 0: off
    postfilter_bins: int = 9
    # twostage with a posterior prior and the postfilter: each prior component gets its own detail
    # gain, fitted so that its decoded mean is as tonal as its own clip, instead of one gain per
    # category. One gain per category leaves the most tonal clips decoded a decade too flat while
    # the noisy ones are right: the category's median gesture comes out noisier than its clips.
    postfilter_per_component: bool = False
    # the postfilter keeps the power of each window of this many bins (odd, wider than
    # postfilter_bins) instead of the whole frame's: 0 keeps the frame's. Kept per frame,
    # sharpening moves power from bands of noise to bands with peaks, which darkens the highs.
    postfilter_power_bins: int = 0
    # the postfilter also scales each bin's log-magnitude detail over time around its moving
    # average over this many frames (odd), by a gain per category fitted with each prior so that
    # reconstructions move as much as their clips; 0: off. The decoder's magnitudes, not its
    # phase, blur attacks and the hits of loops (docs/evaluation/bakeoff.md, stop 36).
    postfilter_time_frames: int = 0
    # the categories the pass over time is fitted in (empty: every category); the others keep
    # gain 1. In the drones it roughens their noise (flatness ratio 6.6 to 8.5 on the default)
    postfilter_time_categories: tuple[str, ...] = ()
    # twostage: every drawn gesture is brought to the dataset's loudness as prepare brings each
    # clip (RMS over its sound at the target, unless its peak would pass the ceiling). The
    # decoder's level drifts from its clips' (the default played 3.5 to 5 dB quiet), and level
    # is most of how far its gestures sit from the corpus in evaluate's second space
    data_loudness: bool = False
    # twostage: in these categories the prior's components are reweighted, after each prior fit,
    # so that half the draws are noisier than the category's median clip, as half the clips are.
    # Drones are tonal pads or noise beds (their flatness is bimodal); the default drew 59 % of
    # them on the noisy side, and its median drone came out 6 times flatter than the clips'
    prior_noise_share: tuple[str, ...] = ()
    # gan, twostage discriminators: group size of the minibatch standard deviation feature
    # (Karras et al. 2018): D sees how alike the clips of a group are, so a collapsed generator
    # is easy to tell apart (0: off)
    minibatch_std: int = 0
    # gan, vae, twostage: a harmonic branch beside the STFT head plays this many partials of one
    # f0 per frame as sines (DDSP), so drones keep sharp partials; in twostage its f0 is taught
    # from pYIN tracks of the clips (computed once per dataset), in gan and vae by the audio
    # losses alone; 0: off
    harmonics: int = 0
    # how the harmonic branch plays its partials: "time", as sines summed per sample (what every
    # run so far trained with), or "spectral", as each partial's windowed spectrum added to the
    # STFT head's before the one inverse transform (FFT^-1 additive synthesis, Rodet and Depalle
    # 1992): the whole model 8 to 16 % faster in onnxruntime than with "time"
    # (docs/benchmarks/harmonic-synthesis.md), steady partials within -60 dB of the sines, glides
    # within about -35 dB; `gesturegan export --harmonic-synthesis` can switch a checkpoint
    harmonic_synthesis: str = "time"
    # twostage with model.harmonics: the partials sound only where the played contour is voiced
    # (pYIN's voicing in training, the drawn clip's contour at generation), at the nearest voiced
    # frame's pitch between voiced frames, instead of at the branch's own f0 in unvoiced frames
    # (which wandered, and made trigger_continuous too tonal: docs/evaluation/bakeoff.md, stop 33)
    harmonic_gate: bool = False
    # with harmonic_gate: clips in which pYIN heard no pitch at all (68 % of the triggers, 43 % of
    # continuous_variation: drum bodies, chords, pads) play the branch's own f0, ungated, as an
    # ungated branch does; a morph glides between the two by the unpitched clips' share. Gated
    # everywhere, those clips' partials were silent and the noise had to play them (stop 33)
    harmonic_free_unpitched: bool = False


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, regularisation and bookkeeping."""

    batch_size: int = 16
    max_steps: int = 20000
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.99
    n_critic: int = 1  # discriminator updates per generator update
    r1_gamma: float = 1.0  # gan: R1 penalty on real data ...
    r1_every: int = 4  # ... applied lazily every N steps
    gp_weight: float = 10.0  # specgan, wavegan: WGAN gradient penalty
    aux_weight: float = 1.0  # specgan, wavegan: auxiliary classifier loss
    diffaug: bool = True  # gan: differentiable augmentation of D's input
    kl_weight: float = 0.01  # vae: weight of the KL term after warm-up
    kl_warmup: int = 2000  # vae: steps over which the KL weight ramps up
    ema_decay: float = 0.999
    adversarial_from: int = 0  # twostage: step the adversarial stage starts at (0: reconstruction only)
    adv_weight: float = 1.0  # twostage: weight of the hinge loss on the decoder in that stage
    fm_weight: float = 10.0  # twostage: weight of discriminator feature matching in that stage
    # twostage: the adversarial stage trains the decoder only (RAVE's recipe): the codes the prior
    # is fitted on stop moving, and the discriminator cannot push the encoder off the corpus
    freeze_encoder: bool = False
    # twostage: STFT sizes of the multi-resolution reconstruction loss (the finest sets how
    # close two partials may sit before the loss stops telling them apart)
    recon_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
    grad_clip: float = 0.0  # twostage: largest gradient norm of decoder + encoder per step (0: no clipping)
    # twostage, adversarial stage: hinge weight on decoded mixes of two clips' codes (their
    # categories mixed alike), so what a morph plays between two sounds is trained to sound real
    mix_weight: float = 0.0
    # twostage with model.harmonics: weight of the harmonic branch's octave error against the
    # clips' pYIN tracks (reconstructions only)
    pitch_weight: float = 1.0
    # gan: mode-seeking term (Mao et al. 2019): two latents of one category should sound apart in
    # proportion to how far apart they are (0: off)
    diversity_weight: float = 0.0
    # gan: the mode-seeking ratio counts only up to this (0: unbounded, as in Mao et al.); about
    # the corpus's own ratio, so the latent is not pushed to drown out the category
    diversity_cap: float = 0.0
    # gan: adaptive augmentation (Karras et al. 2020): each augmentation is applied with a
    # probability that rises while D is over-confident on real clips (mean sign of its real
    # scores above this target) and falls below it (0: off, every augmentation always; 0.6 in the paper)
    ada_target: float = 0.0
    ada_steps: int = 500  # gan: steps the augmentation probability needs, at least, to go from 0 to 1
    balanced: bool = True  # draw categories uniformly, not by their share of the data
    precision: str = "fp32"
    seed: int = 0
    log_every: int = 10
    preview_every: int = 500
    checkpoint_every: int = 500
    keep_last: int = 3
    preview_per_category: int = 4
    eval_per_category: int = 16  # generated gestures per category for the checkpoint's score


@dataclass(frozen=True)
class Config:
    family: str
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"]["d_resolutions"] = list(self.model.d_resolutions)
        d["train"]["recon_sizes"] = list(self.train.recon_sizes)
        d["model"]["prior_typicality_categories"] = list(self.model.prior_typicality_categories)
        d["model"]["postfilter_time_categories"] = list(self.model.postfilter_time_categories)
        d["model"]["prior_noise_share"] = list(self.model.prior_noise_share)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "checkpoint") -> Config:
        base = defaults_for(d.get("family", ""))
        return _overlay(base, d, source)


def defaults_for(family: str) -> Config:
    """The defaults of one family: the baselines keep their papers' optimiser settings."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    cfg = Config(family)
    if family in ("specgan", "wavegan"):
        # WGAN-GP as in Donahue et al. 2019: Adam(1e-4, 0.5, 0.9), five critic steps.
        train = replace(cfg.train, lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, n_critic=5)
        model = replace(cfg.model, latent_dim=100, width=512, n_fft=512, hop=256, d_width=32)
        cfg = replace(cfg, model=model, train=train)
    elif family == "vae":
        cfg = replace(cfg, train=replace(cfg.train, lr_g=5e-4, beta1=0.9, beta2=0.999))
    elif family == "twostage":
        # Reconstruction first (Adam as for the VAE), a slower discriminator for the adversarial stage.
        # Clipping: one bad batch (gradient norm ~2,700 against ~10) can throw the decoder into
        # another basin, and the EMA of weights from two basins decodes every code to one drone.
        train = replace(
            cfg.train, lr_g=5e-4, lr_d=1e-4, beta1=0.5, beta2=0.99, kl_weight=2e-4, grad_clip=20.0
        )
        cfg = replace(cfg, model=replace(cfg.model, phase_advance=True), train=train)
    return cfg


def _coerce(value: object, default: object, where: str) -> object:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, tuple) and isinstance(value, list | tuple):
        # a tuple key holds what its default holds: numbers, or (an empty default) names
        if default and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
        if not default and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ConfigError(f"{where} must be {type(default).__name__}, not {value!r}")


def _overlay_table(obj, table: dict, name: str, source: str):
    known = {f.name: getattr(obj, f.name) for f in fields(obj)}
    changes = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"unknown key {key!r} in [{name}] of {source}; known keys: {', '.join(sorted(known))}"
            )
        changes[key] = _coerce(value, known[key], f"{name}.{key} in {source}")
    return replace(obj, **changes)


def _overlay(cfg: Config, data: dict, source: str) -> Config:
    for key in data:
        if key not in ("family", "model", "train"):
            raise ConfigError(f"unknown table {key!r} in {source}; a config has [model] and [train]")
    cfg = replace(
        cfg,
        model=_overlay_table(cfg.model, data.get("model", {}), "model", source),
        train=_overlay_table(cfg.train, data.get("train", {}), "train", source),
    )
    validate(cfg)
    return cfg


def resolve_path(name: str | Path) -> Path:
    """A TOML path, or the name of a config shipped with the package (``tiny``)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = CONFIG_DIR / f"{name}.toml"
    if shipped.exists():
        return shipped
    names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
    raise ConfigError(f"config {str(name)!r} is neither a file nor a shipped config ({names})")


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from e


def config_family(path: str | Path) -> str | None:
    """The ``family`` a config file names (``None`` if it names none), so ``--model`` can be left out."""
    path = resolve_path(path)
    family = _read_toml(path).get("family")
    if family is not None and family not in FAMILIES:
        raise ConfigError(f"{path} names an unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    return family


def load_config(family: str, path: str | Path | None = None, base: Config | None = None) -> Config:
    """``base`` (the defaults of ``family`` if none) overlaid with the TOML file ``path`` (if any), validated."""
    cfg = base or defaults_for(family)
    if path is None:
        validate(cfg)
        return cfg
    path = resolve_path(path)
    data = _read_toml(path)
    if data.get("family", family) != family:
        raise ConfigError(f"{path} is for family {data['family']!r}, not {family!r}")
    data.pop("family", None)
    return _overlay(cfg, data, str(path))


def validate(cfg: Config) -> None:
    m, t = cfg.model, cfg.train
    positive = {
        "model.latent_dim": m.latent_dim,
        "model.width": m.width,
        "model.style_dim": m.style_dim,
        "model.d_width": m.d_width,
        "model.code_dim": m.code_dim,
        "model.prior_components": m.prior_components,
        "train.batch_size": t.batch_size,
        "train.max_steps": t.max_steps,
        "train.n_critic": t.n_critic,
        "train.r1_every": t.r1_every,
        "train.log_every": t.log_every,
        "train.preview_every": t.preview_every,
        "train.checkpoint_every": t.checkpoint_every,
        "train.keep_last": t.keep_last,
        "train.preview_per_category": t.preview_per_category,
        "train.eval_per_category": t.eval_per_category,
        "train.ada_steps": t.ada_steps,
    }
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, not {value}")
    if m.blocks < 0:
        raise ConfigError(f"model.blocks must be >= 0, not {m.blocks}")
    if not t.recon_sizes:
        raise ConfigError("train.recon_sizes must name at least one STFT size, e.g. [512, 1024, 2048]")
    sizes = [("model.n_fft", m.n_fft)] + [("model.d_resolutions", r) for r in m.d_resolutions]
    for name, n in sizes + [("train.recon_sizes", r) for r in t.recon_sizes]:
        if n < 16 or n & (n - 1):
            raise ConfigError(f"{name} must hold powers of two >= 16, not {n}")
    if not 0 < m.hop <= m.n_fft // 2:
        raise ConfigError(f"model.hop must be in 1..n_fft/2, not {m.hop}")
    if m.prior not in PRIORS:
        raise ConfigError(f"model.prior must be one of {', '.join(PRIORS)}, not {m.prior!r}")
    # keys that must not be negative, with what 0 means
    non_negative = {
        "model.prior_bandwidth": (m.prior_bandwidth, "no extra spread"),
        "model.prior_typicality": (m.prior_typicality, "every component as fitted"),
        "model.minibatch_std": (m.minibatch_std, "off"),
        "model.postfilter_bins": (m.postfilter_bins, "off"),
        "model.postfilter_time_frames": (m.postfilter_time_frames, "off"),
        "train.diversity_weight": (t.diversity_weight, "off"),
        "train.diversity_cap": (t.diversity_cap, "unbounded"),
        "train.mix_weight": (t.mix_weight, "off"),
        "model.harmonics": (m.harmonics, "off"),
        "train.pitch_weight": (t.pitch_weight, "f0 learnt from the audio losses alone"),
        "train.grad_clip": (t.grad_clip, "no clipping"),
        "train.adversarial_from": (t.adversarial_from, "never"),
    }
    for name, (value, zero) in non_negative.items():
        if value < 0:
            raise ConfigError(f"{name} must be >= 0 (0: {zero}), not {value}")
    if m.harmonics > 64:
        raise ConfigError(
            f"model.harmonics must be at most 64 (each costs a sine per sample), not {m.harmonics}"
        )
    if m.harmonic_synthesis not in HARMONIC_SYNTHESES:
        raise ConfigError(
            f"model.harmonic_synthesis must be one of {', '.join(HARMONIC_SYNTHESES)}, "
            f"not {m.harmonic_synthesis!r}"
        )
    if m.harmonic_gate and not m.harmonics:
        raise ConfigError(
            "model.harmonic_gate gates a harmonic branch: set model.harmonics too, or leave the gate off"
        )
    if m.harmonic_free_unpitched and not m.harmonic_gate:
        raise ConfigError(
            "model.harmonic_free_unpitched frees the unpitched clips of a gated branch: "
            "set model.harmonic_gate too, or leave it off"
        )
    if m.postfilter_per_component and not m.postfilter_bins:
        raise ConfigError(
            "model.postfilter_per_component fits the postfilter's gain per prior component: "
            "set model.postfilter_bins too (9), or leave it off"
        )
    if m.postfilter_power_bins and (
        not m.postfilter_bins
        or m.postfilter_power_bins % 2 == 0
        or m.postfilter_power_bins <= m.postfilter_bins
    ):
        raise ConfigError(
            "model.postfilter_power_bins must be 0 (the frame's power) or an odd number above "
            f"model.postfilter_bins ({m.postfilter_bins}), with the postfilter on; not {m.postfilter_power_bins}"
        )
    if m.postfilter_time_frames and (
        not m.postfilter_bins or m.postfilter_time_frames < 3 or m.postfilter_time_frames % 2 == 0
    ):
        raise ConfigError(
            "model.postfilter_time_frames must be 0 (off) or an odd number >= 3, with the postfilter "
            f"on (model.postfilter_bins); not {m.postfilter_time_frames}"
        )
    if m.postfilter_time_categories and not m.postfilter_time_frames:
        raise ConfigError(
            "model.postfilter_time_categories picks where the pass over time is fitted: "
            "set model.postfilter_time_frames too (33), or leave it empty"
        )
    if m.postfilter_per_component and m.prior != "posterior":
        raise ConfigError(
            "model.postfilter_per_component fits a gain per clip of a posterior prior: "
            f'set model.prior = "posterior" (not "{m.prior}"), or leave it off'
        )
    if m.postfilter_bins and (m.postfilter_bins < 3 or m.postfilter_bins % 2 == 0):
        raise ConfigError(
            f"model.postfilter_bins must be 0 (off) or an odd number >= 3, not {m.postfilter_bins}"
        )
    if not 0 <= t.ada_target < 1:
        raise ConfigError(f"train.ada_target must be in [0, 1) (0: off), not {t.ada_target}")
    if t.ada_target > 0 and not t.diffaug:
        raise ConfigError("train.ada_target adapts the augmentation, so it needs train.diffaug = true")
    if t.precision not in PRECISIONS:
        raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, not {t.precision!r}")
    if not 0.0 <= t.ema_decay < 1.0:
        raise ConfigError(f"train.ema_decay must be in [0, 1), not {t.ema_decay}")
    for name, lr in (("train.lr_g", t.lr_g), ("train.lr_d", t.lr_d)):
        if not 0.0 < lr < 1.0:
            raise ConfigError(f"{name} must be in (0, 1), not {lr}")


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(cfg: Config) -> str:
    """The resolved config as TOML that ``load_config`` reads back to the same value."""
    d = cfg.to_dict()
    lines = [f"family = {_toml_value(d['family'])}", ""]
    for table in ("model", "train"):
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in d[table].items()]
        lines.append("")
    return "\n".join(lines)
