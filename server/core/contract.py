"""The model contract: what a gesturegan ONNX file must be, written by export, read by the server.

Pure and I/O-free (no onnx, no onnxruntime, no torch): export turns a ``ModelInfo`` into
``metadata_props`` strings with ``to_metadata``; the loader turns them back with
``from_metadata`` and checks the graph's inputs and outputs with ``check_signature``.

Generator graphs: inputs ``z`` float32 ``[B, latent_dim]`` and ``cond`` float32
``[B, n_categories]`` (non-negative weights summing to 1; one-hot = a pure category);
output ``audio`` float32 ``[B, channels, n_samples]`` with peaks within [-1, 1].
Encoder graphs (VAE): inputs ``audio`` and ``cond``; outputs ``mu`` and ``logvar`` ``[B, latent_dim]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

CONTRACT_VERSION = 1
ROLES = ("generator", "encoder")
SIGNATURES = {
    "generator": (("z", "cond"), ("audio",)),
    "encoder": (("audio", "cond"), ("mu", "logvar")),
}
REQUIRED = (
    "contract_version",
    "role",
    "sample_rate",
    "n_samples",
    "channels",
    "latent_dim",
    "categories",
    "family",
    "representation",
    "loudness",
    "training",
    "created_at",
)


class ContractError(ValueError):
    """A model that breaks the contract; the message says exactly what is wrong."""


@dataclass(frozen=True)
class ModelInfo:
    """Everything the server needs to know about a model, and nothing it has to guess."""

    sample_rate: int
    n_samples: int
    channels: int
    latent_dim: int
    categories: tuple[str, ...]
    family: str
    representation: str
    loudness: dict = field(default_factory=dict)  # dataset loudness constants (prepare's stats)
    training: dict = field(default_factory=dict)  # data summary and run facts
    created_at: str = ""
    role: str = "generator"
    precision: str = "fp32"
    details: dict = field(default_factory=dict)  # representation constants, Griffin-Lim, ...
    gesturegan_version: str = ""
    contract_version: int = CONTRACT_VERSION

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def gain_to_real_level(self, category: str) -> float:
        """Linear gain that brings a generated gesture of ``category`` back to a typical real level.

        ``prepare`` normalised every example by ``gain_db``; undoing the category's median gain
        restores the loudness the sounds had in the user's library. 1.0 when unknown.
        """
        per = self.loudness.get("per_category", {}).get(category, {})
        gain_db = per.get("median_gain_db")
        return 1.0 if gain_db is None else float(10 ** (-float(gain_db) / 20))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["categories"] = list(self.categories)
        return d


def to_metadata(info: ModelInfo) -> dict[str, str]:
    """``metadata_props`` for ONNX: strings, structured values as JSON."""
    validate(info)
    out = {}
    for key, value in info.to_dict().items():
        out[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return out


def _parse(key: str, raw: str, kind: type):
    if kind is str:
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ContractError(f"metadata {key!r} is not valid JSON: {raw[:60]!r}") from e
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ContractError(f"metadata {key!r} must be an integer, not {raw[:60]!r}")
    if kind is dict and not isinstance(value, dict):
        raise ContractError(f"metadata {key!r} must be a JSON object, not {raw[:60]!r}")
    if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ContractError(f"metadata {key!r} must be a JSON list of names, not {raw[:60]!r}")
    return value


_KINDS = {
    "contract_version": int,
    "sample_rate": int,
    "n_samples": int,
    "channels": int,
    "latent_dim": int,
    "categories": list,
    "loudness": dict,
    "training": dict,
    "details": dict,
}


def from_metadata(props: Mapping[str, str], source: str = "model") -> ModelInfo:
    """Read and validate ``metadata_props``; refuse other contract versions and missing keys."""
    if "contract_version" not in props:
        raise ContractError(
            f"{source} has no gesturegan metadata (contract_version missing): "
            "export models with `gesturegan export RUN --out MODEL.onnx`"
        )
    version = _parse("contract_version", props["contract_version"], int)
    if version != CONTRACT_VERSION:
        raise ContractError(
            f"{source} uses contract version {version}; this gesturegan reads version {CONTRACT_VERSION}"
        )
    missing = [k for k in REQUIRED if k not in props]
    if missing:
        raise ContractError(f"{source} is missing metadata: {', '.join(missing)}")
    names = {f for f in ModelInfo.__dataclass_fields__}
    values = {k: _parse(k, v, _KINDS.get(k, str)) for k, v in props.items() if k in names}
    values["categories"] = tuple(values["categories"])
    info = ModelInfo(**values)
    validate(info, source)
    return info


def validate(info: ModelInfo, source: str = "model") -> None:
    if info.role not in ROLES:
        raise ContractError(f"{source}: role must be one of {', '.join(ROLES)}, not {info.role!r}")
    for key in ("sample_rate", "n_samples", "channels", "latent_dim"):
        if getattr(info, key) < 1:
            raise ContractError(f"{source}: {key} must be positive, not {getattr(info, key)}")
    if not 8000 <= info.sample_rate <= 192000:
        raise ContractError(f"{source}: sample_rate {info.sample_rate} is outside 8000..192000")
    if not info.categories or len(set(info.categories)) != len(info.categories):
        raise ContractError(f"{source}: categories must be distinct names, got {list(info.categories)}")
    if info.precision not in ("fp32", "fp16"):
        raise ContractError(f"{source}: precision must be fp32 or fp16, not {info.precision!r}")


Shape = Sequence[int | str | None]


def expected_shapes(info: ModelInfo) -> dict[str, tuple[int | None, ...]]:
    """Every input and output of the role's graph, ``None`` for the dynamic batch."""
    z = (None, info.latent_dim)
    cond = (None, info.n_categories)
    audio = (None, info.channels, info.n_samples)
    if info.role == "generator":
        return {"z": z, "cond": cond, "audio": audio}
    return {"audio": audio, "cond": cond, "mu": z, "logvar": z}


def check_signature(
    info: ModelInfo,
    inputs: Sequence[tuple[str, str, Shape]],
    outputs: Sequence[tuple[str, str, Shape]],
    source: str = "model",
) -> None:
    """Check the graph's ``(name, element type, shape)`` lists against the contract.

    Element types are onnxruntime's strings (``tensor(float)``); a symbolic or missing batch
    dimension is fine, every other dimension must match exactly.
    """
    want_in, want_out = SIGNATURES[info.role]
    got_in, got_out = tuple(n for n, _, _ in inputs), tuple(n for n, _, _ in outputs)
    if got_in != want_in:
        raise ContractError(f"{source}: inputs are {list(got_in)}, the contract wants {list(want_in)}")
    if got_out != want_out:
        raise ContractError(f"{source}: outputs are {list(got_out)}, the contract wants {list(want_out)}")
    shapes = expected_shapes(info)
    for name, dtype, shape in (*inputs, *outputs):
        if dtype != "tensor(float)":
            raise ContractError(f"{source}: {name} is {dtype}, the contract wants float32 (tensor(float))")
        want = shapes[name]
        if len(shape) != len(want):
            raise ContractError(
                f"{source}: {name} has rank {len(shape)} {list(shape)}, the contract wants {len(want)}"
            )
        for axis, (g, w) in enumerate(zip(shape, want, strict=True)):
            if w is None:
                continue
            if g != w:
                raise ContractError(
                    f"{source}: {name} has shape {list(shape)}; axis {axis} must be {w} "
                    f"(from the metadata), not {g}"
                )
