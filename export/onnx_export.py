"""``gesturegan export``: a run becomes one self-describing ONNX file, verified against PyTorch.

The graph goes from latent to waveform with the inverse transform inside (the STFT/iSTFT
convolution forms; SpecGAN's Griffin-Lim unrolled), batch dynamic, opset 17. The metadata
follows ``gesturegan.server.core.contract``. Before anything is written, onnxruntime runs the
file on random ``z`` with pure and mixed ``cond`` and its output is compared with PyTorch;
above the tolerance nothing is written. The file appears under its name only complete
(temporary name, then rename).
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gesturegan import __version__
from gesturegan.files import atomic_path
from gesturegan.server.core.contract import ModelInfo, expected_shapes, to_metadata

OPSET = 17
TOLERANCE = 1e-3  # max |onnxruntime - torch| on audio in [-1, 1]: 60 dB below full scale


class ExportError(Exception):
    """Export refused; nothing was written."""


class GeneratorGraph(nn.Module):
    """``(z [B, Z], cond [B, K]) -> audio [B, C, T]`` clipped to [-1, 1], as the contract promises."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.generator(z, cond).clamp(-1.0, 1.0)


class HalfGeneratorGraph(nn.Module):
    """fp16 variant: the network runs in half precision, ``finish`` (exp, phase, inverse
    transform) in float32; inputs and output stay float32 so the contract is unchanged."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.half_generator = copy.deepcopy(generator).half()
        self.generator = generator

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.half_generator.body(z.half(), cond.half())
        return self.generator.finish(x, cond, z).clamp(-1.0, 1.0)


class EncoderGraph(nn.Module):
    """``(audio [B, C, T], cond [B, K]) -> (mu [B, Z], logvar [B, Z])``."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, audio: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(audio, cond)


@dataclass
class ExportResult:
    path: Path
    info: ModelInfo
    max_error: float
    size_bytes: int
    encoder_path: Path | None = None
    encoder_error: float | None = None
    checkpoint: str = ""  # the file exported from
    step: int = 0
    note: str = ""  # how the checkpoint was chosen, when not as asked


def model_info(ckpt: dict, generator, role: str = "generator") -> ModelInfo:
    """The contract's metadata for a checkpoint's generator (or encoder)."""
    shape, data = ckpt["shape"], ckpt["data"]
    stats = data.get("stats", {})
    training = {
        "data": data.get("summary", {}),
        "run": {
            "step": ckpt["step"],
            "best_score": ckpt["best_score"],
            "checkpoint": Path(ckpt.get("path", "")).name,
            "config": ckpt["config"],
        },
    }
    return ModelInfo(
        sample_rate=int(shape["sample_rate"]),
        n_samples=int(shape["n_samples"]),
        channels=int(shape["channels"]),
        latent_dim=int(generator.latent_dim),
        categories=tuple(ckpt["categories"]),
        family=ckpt["family"],
        representation=generator.representation,
        loudness=stats.get("loudness", {}),
        training=training,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        role=role,
        details=generator.describe(),
        gesturegan_version=__version__,
    )


def _to_onnx(module: nn.Module, args: tuple, inputs: list[str], outputs: list[str], opset: int) -> bytes:
    buf = io.BytesIO()
    axes = {name: {0: "batch"} for name in inputs + outputs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript exporter deprecation and tracer notices
        torch.onnx.export(
            module,
            args,
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    return buf.getvalue()


def _with_metadata(raw: bytes, info: ModelInfo) -> bytes:
    import onnx

    model = onnx.load_from_string(raw)
    # The tracer leaves symbolic names on fixed axes; the contract promises them, so write them.
    shapes = expected_shapes(info)
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        for axis, size in enumerate(shapes[value.name]):
            if size is None:
                dims[axis].dim_param = "batch"
            else:
                dims[axis].dim_value = size
    onnx.helper.set_model_props(model, to_metadata(info))
    model.doc_string = f"gesturegan {info.family} {info.role}: {', '.join(info.categories)}"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def store_weights_half(raw: bytes, names: set[str]) -> bytes:
    """The graph with the float32 initializers in ``names`` stored as float16, each behind a Cast.

    The arithmetic stays float32: onnxruntime folds each Cast of a constant into a float32
    initializer when the session loads, so the file is about half the float32 one and runs the
    float32 graph. A half-precision graph (``--fp16``) is a little slower on CPUs (1 to 5 % for the
    bundled model, docs/benchmarks/generate-half-weights.md): onnxruntime's CPU kernels are mostly
    float32, so it wraps nodes in casts at run time and the casts block its GELU fusion. Only the network's weights are stored in half: the
    transform's bases, the phase advance and the prior's components keep their float32 values.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(raw)
    graph = model.graph
    casts = []
    for tensor in graph.initializer:
        if tensor.name not in names or tensor.data_type != onnx.TensorProto.FLOAT:
            continue
        name, values = tensor.name, numpy_helper.to_array(tensor)
        if not np.isfinite(values.astype(np.float16)).all():
            raise ExportError(f"weight {name} does not fit half precision; export without --half-weights")
        stored = f"{name}.fp16"
        tensor.CopyFrom(numpy_helper.from_array(values.astype(np.float16), stored))
        casts.append(onnx.helper.make_node("Cast", [stored], [name], to=onnx.TensorProto.FLOAT))
    for position, node in enumerate(casts):
        graph.node.insert(position, node)
    return model.SerializeToString()


def probe_conds(k: int, rng: np.random.Generator) -> np.ndarray:
    """Every pure category, plus mixed rows (an even mix and random Dirichlet weights) ``[2K+1, K]``."""
    return np.concatenate([np.eye(k), np.full((1, k), 1.0 / k), rng.dirichlet(np.ones(k), size=k)]).astype(
        np.float32
    )


def _set_harmonic_synthesis(generator: nn.Module, synthesis: str, run: str | Path) -> None:
    """Switch every harmonic branch of ``generator`` to ``synthesis`` (``"time"`` or ``"spectral"``)."""
    from gesturegan.training.config import HARMONIC_SYNTHESES
    from gesturegan.training.models.harmonic import HarmonicBranch

    if synthesis not in HARMONIC_SYNTHESES:
        raise ExportError(
            f"--harmonic-synthesis must be one of {', '.join(HARMONIC_SYNTHESES)}, not {synthesis!r}"
        )
    branches = [m for m in generator.modules() if isinstance(m, HarmonicBranch)]
    if not branches:
        raise ExportError(
            f"--harmonic-synthesis: {run} has no harmonic branch (model.harmonics = 0); leave the option out"
        )
    for branch in branches:
        branch.spectral = synthesis == "spectral"


def _oscillates(module: nn.Module) -> bool:
    """Whether ``module`` holds a harmonic branch (sines whose phase is integrated over the clip)."""
    from gesturegan.training.models.harmonic import HarmonicBranch

    return any(isinstance(m, HarmonicBranch) for m in module.modules())


def _magnitudes(audio: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """``|STFT|`` of ``audio [B, C, T]`` in amplitude units (a sine of amplitude A peaks at A)."""
    window = torch.hann_window(n_fft)
    flat = torch.from_numpy(audio).reshape(-1, audio.shape[-1])
    spectrum = torch.stft(flat, n_fft, n_fft // 4, window=window, return_complex=True).abs()
    return (spectrum / (window.sum() / 2)).numpy()


def verify_generator(raw: bytes, module: nn.Module, info: ModelInfo, seed: int = 0) -> float:
    """Max |onnxruntime - torch| over random z with pure and mixed cond, at two batch sizes.

    With a harmonic branch the two are compared as STFT magnitudes (amplitude units): a partial's
    phase is integrated over 65,536 samples, so float32's last bit in its f0 (which differs between
    any two implementations) drifts the waveform by more than the tolerance with no audible change.
    """
    import onnxruntime as ort

    compare = _magnitudes if _oscillates(module) else (lambda audio: audio)

    session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    conds = probe_conds(info.n_categories, rng)
    worst = 0.0
    for start, stop in ((0, 1), (0, len(conds))):  # batch 1 and a full batch
        cond = conds[start:stop]
        z = rng.standard_normal((len(cond), info.latent_dim)).astype(np.float32)
        (got,) = session.run(None, {"z": z, "cond": cond})
        with torch.no_grad():
            want = module(torch.from_numpy(z), torch.from_numpy(cond)).numpy()
        if got.shape != want.shape:
            raise ExportError(f"onnxruntime gave {got.shape}, torch {want.shape}")
        worst = max(worst, float(np.abs(compare(got) - compare(want)).max()))
    return worst


def verify_encoder(raw: bytes, module: nn.Module, info: ModelInfo, seed: int = 0) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    cond = probe_conds(info.n_categories, rng)[:3]
    audio = (0.1 * rng.standard_normal((3, info.channels, info.n_samples))).astype(np.float32)
    got = session.run(None, {"audio": audio, "cond": cond})
    with torch.no_grad():
        want = [t.numpy() for t in module(torch.from_numpy(audio), torch.from_numpy(cond))]
    return max(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True))


def generator_to_onnx(
    generator: nn.Module, info: ModelInfo, tolerance: float = TOLERANCE, opset: int = OPSET
) -> tuple[bytes, float]:
    """The verified ONNX bytes of ``generator`` with ``info`` as metadata, and the max error.

    With ``info.precision == "fp16"`` (or ``info.details["weight_storage"] == "fp16"``) the graph is
    compared with the float32 PyTorch generator, so the error includes what half precision costs.
    """
    reference = GeneratorGraph(generator).eval()
    module = HalfGeneratorGraph(generator).eval() if info.precision == "fp16" else reference
    z = torch.zeros(1, info.latent_dim)
    cond = torch.full((1, info.n_categories), 1.0 / info.n_categories)
    raw = _to_onnx(module, (z, cond), ["z", "cond"], ["audio"], opset)
    if info.details.get("weight_storage") == "fp16":
        raw = store_weights_half(raw, {name for name, _ in module.named_parameters()})
    raw = _with_metadata(raw, info)
    error = verify_generator(raw, reference, info)
    if not np.isfinite(error) or error > tolerance:
        raise ExportError(
            f"onnxruntime differs from torch by {error:.3g} (tolerance {tolerance:g}); nothing written"
        )
    return raw, error


def _write(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(raw)


FP16_TOLERANCE = 2e-2  # half precision's 11-bit mantissa, through the network, on audio in [-1, 1]


def export_run(
    run: str | Path,
    out: str | Path,
    which: str = "best",
    tolerance: float | None = None,
    opset: int = OPSET,
    fp16: bool = False,
    overwrite: bool = False,
    half_weights: bool = False,
    harmonic_synthesis: str | None = None,
) -> ExportResult:
    """Export the EMA generator of ``run`` (and a VAE's encoder beside it) to ``out``.

    ``fp16``: the network in half precision for GPUs, exp/phase/inverse transform in float32.
    ``half_weights``: the network's weights stored in half precision, all arithmetic in float32
    (about half the float32 file; on CPUs slightly faster than ``fp16``).
    ``overwrite``: replace existing files at ``out`` (refused otherwise, as prepare and train do).
    ``harmonic_synthesis``: ``"time"`` or ``"spectral"`` for a harmonic branch's partials (None: as
    the run trained); the torch reference the graph is checked against plays them the same way.
    """
    if fp16 and half_weights:
        raise ExportError("--fp16 and --half-weights exclude each other: choose one")
    if tolerance is None:
        tolerance = FP16_TOLERANCE if fp16 or half_weights else TOLERANCE
    from gesturegan.training.config import Config
    from gesturegan.training.models import DataShape, build
    from gesturegan.training.state import CheckpointError, load_generator, read_checkpoint

    out = Path(out)
    if out.suffix != ".onnx":
        raise ExportError(f"--out should end in .onnx, not {out.name!r}")
    if opset < 17:
        raise ExportError(f"opset {opset} is too old; the contract needs 17 or newer")
    for target in (out, encoder_path(out)):
        if target.is_dir():
            raise ExportError(f"--out {target} is a folder; give a file name ending in .onnx")
        if target.exists() and not overwrite:
            raise ExportError(
                f"{target} already exists; pass --overwrite to replace it, or choose another --out"
            )
    try:
        generator, ckpt = load_generator(run, which)
    except CheckpointError as e:
        raise ExportError(str(e)) from e
    if harmonic_synthesis is not None:
        _set_harmonic_synthesis(generator, harmonic_synthesis, run)
    note = ""
    if Path(run).is_dir() and which == "best" and Path(ckpt["path"]).name != "best.pt":
        note = "no best.pt (no checkpoint had a finite score), so the latest"
    info = replace(model_info(ckpt, generator), precision="fp16" if fp16 else "fp32")
    if half_weights:
        info = replace(info, details={**info.details, "weight_storage": "fp16"})
    raw, error = generator_to_onnx(generator, info, tolerance, opset)
    cond = torch.full((1, info.n_categories), 1.0 / info.n_categories)
    result = ExportResult(
        out, info, error, len(raw), checkpoint=ckpt["path"], step=int(ckpt["step"]), note=note
    )
    encoder_raw = None
    if ckpt["family"] in ("vae", "twostage"):
        full = read_checkpoint(ckpt["path"])
        cfg = Config.from_dict(full["config"])
        _, encoder = build(cfg, DataShape(**full["shape"]))
        encoder.load_state_dict(full["critic"])
        if ckpt["family"] == "twostage":  # the code, placed in the generator's z-space through its prior
            from gesturegan.training.models.twostage import LikeEncoder

            encoder = LikeEncoder(encoder.encoder, generator)
        enc_module = EncoderGraph(encoder.eval())
        enc_info = model_info(ckpt, generator, role="encoder")
        audio = torch.zeros(1, info.channels, info.n_samples)
        encoder_raw = _with_metadata(
            _to_onnx(enc_module, (audio, cond), ["audio", "cond"], ["mu", "logvar"], opset), enc_info
        )
        enc_error = verify_encoder(encoder_raw, enc_module, enc_info)
        if not np.isfinite(enc_error) or enc_error > tolerance:
            raise ExportError(f"the encoder differs from torch by {enc_error:.3g}; nothing written")
        result.encoder_path, result.encoder_error = encoder_path(out), enc_error
    _write(out, raw)
    if encoder_raw is not None:
        _write(result.encoder_path, encoder_raw)
    return result


def encoder_path(model_path: Path) -> Path:
    """Where a model's encoder goes: ``MODEL.encoder.onnx`` beside ``MODEL.onnx`` (the server's rule)."""
    from gesturegan.server.inference.model import encoder_beside

    return encoder_beside(model_path)
