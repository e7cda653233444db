"""Loading a gesturegan ONNX model and generating from it (numpy + onnxruntime, no torch).

``load_model`` validates the file against the contract, picks an execution provider
(CUDA, then CoreML on Apple, then CPU; overridable), tunes the session for latency and
warms every batch size it will use, so the first note costs what every other note costs.
``Model.generate`` writes into buffers preallocated per batch size through IO binding:
after warm-up, generating allocates nothing on the Python side.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gesturegan.server.core.contract import ContractError, ModelInfo, check_signature, from_metadata

PROVIDERS = {
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("cuda", "coreml", "cpu")


#: Larger files are refused before onnxruntime reads them (a wrong file, or a hostile one).
MAX_MODEL_BYTES = 1 << 30


class ModelError(Exception):
    """A model file that cannot be used; the message says what is wrong and what to do."""


class Cancelled(RuntimeError):
    """A ``generate`` call stopped by ``Model.cancel`` from another thread (its output is garbage)."""


def _cuda_usable() -> bool:
    """onnxruntime-gpu lists CUDA even on machines without a GPU; ask the driver instead."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1" if sys.platform != "win32" else "nvcuda.dll")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def provider_candidates(requested: str = "auto") -> list[str]:
    """Execution providers to try, best first; ``requested`` is auto, cuda, coreml or cpu."""
    requested = requested.lower()
    if requested not in ("auto", *PROVIDERS):
        raise ModelError(f"provider must be auto, cuda, coreml or cpu, not {requested!r}")
    available = set(ort.get_available_providers())
    if requested != "auto":
        name = PROVIDERS[requested]
        if name not in available or (requested == "cuda" and not _cuda_usable()):
            raise ModelError(
                f"the {requested} provider is not usable here (onnxruntime has {sorted(available)})"
            )
        return [name, "CPUExecutionProvider"] if requested != "cpu" else [name]
    out = []
    for key in AUTO_ORDER:
        name = PROVIDERS[key]
        if (
            name in available
            and (key != "cuda" or _cuda_usable())
            and (key != "coreml" or sys.platform == "darwin")
        ):
            out.append(name)
    return out


def session_options(threads: int | None = None, spinning: bool = True) -> ort.SessionOptions:
    """Latency first: a fixed thread pool (default: the cores, at most 4), optional spinning."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    so.log_severity_level = 3  # our own messages say what matters
    return so


def _provider_options(name: str) -> dict:
    if name == "CUDAExecutionProvider":
        return {"cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": "1"}
    return {}


@dataclass
class _Slot:
    """Preallocated inputs and output of one batch size, bound once."""

    z: np.ndarray
    cond: np.ndarray
    audio: np.ndarray
    binding: ort.IOBinding
    # Its own run options: setting ``terminate`` stops this batch size's run between two
    # operators, and no other (a refill batch made stale by a morph, never a trigger's).
    options: ort.RunOptions
    running: bool = False


@dataclass
class Model:
    """A loaded generator: ``generate(z [B, Z], cond [B, K]) -> audio [B, C, T]``."""

    path: Path
    info: ModelInfo
    session: ort.InferenceSession
    provider: str
    slots: dict[int, _Slot] = field(default_factory=dict)
    warmup_ms: dict[int, float] = field(default_factory=dict)

    def _slot(self, batch: int) -> _Slot:
        slot = self.slots.get(batch)
        if slot is None:
            i = self.info
            z = np.zeros((batch, i.latent_dim), np.float32)
            cond = np.zeros((batch, i.n_categories), np.float32)
            audio = np.zeros((batch, i.channels, i.n_samples), np.float32)
            binding = self.session.io_binding()
            for name, arr in (("z", z), ("cond", cond)):
                binding.bind_input(name, "cpu", 0, np.float32, list(arr.shape), arr.ctypes.data)
            binding.bind_output("audio", "cpu", 0, np.float32, list(audio.shape), audio.ctypes.data)
            slot = self.slots[batch] = _Slot(z, cond, audio, binding, ort.RunOptions())
        return slot

    def warm(self, batch_sizes: tuple[int, ...] = (1,)) -> None:
        """Run every batch size once (twice on a GPU) so no note pays for first-run setup."""
        for b in batch_sizes:
            slot = self._slot(b)
            slot.cond[:] = 1.0 / self.info.n_categories
            start = time.perf_counter()
            for _ in range(2 if self.provider != "CPUExecutionProvider" else 1):
                self.session.run_with_iobinding(slot.binding, slot.options)
            self.warmup_ms[b] = (time.perf_counter() - start) * 1e3

    def generate(self, z: np.ndarray, cond: np.ndarray) -> np.ndarray:
        """Audio ``[B, C, T]`` for ``z [B, Z]`` and ``cond [B, K]``.

        Returns the batch size's own output buffer: it is overwritten by the next call of
        that size, so copy what must live longer. Rows of ``cond`` are normalised to sum to 1.
        Raises ``Cancelled`` when ``cancel`` stopped it.
        """
        z = np.asarray(z, dtype=np.float32)
        cond = np.asarray(cond, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.info.latent_dim:
            raise ValueError(f"z must be [B, {self.info.latent_dim}], not {list(z.shape)}")
        if cond.shape != (z.shape[0], self.info.n_categories):
            raise ValueError(f"cond must be [{z.shape[0]}, {self.info.n_categories}], not {list(cond.shape)}")
        slot = self._slot(z.shape[0])
        np.copyto(slot.z, z)
        np.maximum(cond, 0.0, out=slot.cond)
        total = slot.cond.sum(axis=1, keepdims=True)
        if (total <= 0).any():
            raise ValueError("every row of cond needs a positive weight")
        slot.cond /= total
        slot.options.terminate = False
        slot.running = True
        try:
            self.session.run_with_iobinding(slot.binding, slot.options)
        except Exception as e:
            if slot.options.terminate:
                raise Cancelled(f"batch {z.shape[0]} generation cancelled") from e
            raise
        finally:
            slot.running = False
        return slot.audio

    def cancel(self, batch: int) -> bool:
        """Stop the ``batch``-size generation running in another thread, if any (it raises
        ``Cancelled`` there within one operator); True if one was running."""
        slot = self.slots.get(batch)
        if slot is None or not slot.running:
            return False
        slot.options.terminate = True
        return True


def _signature(session: ort.InferenceSession):
    ins = [(i.name, i.type, i.shape) for i in session.get_inputs()]
    outs = [(o.name, o.type, o.shape) for o in session.get_outputs()]
    return ins, outs


def open_session(
    path: str | Path,
    provider: str = "auto",
    threads: int | None = None,
    role: str | None = "generator",
    spinning: bool = True,
) -> tuple[ort.InferenceSession, ModelInfo, str]:
    """Open ``path`` in onnxruntime and validate it; returns the session, its info and its provider.

    ``role`` None accepts generators and encoders alike.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelError(
            f"{path} is a folder; give a model file (MODEL.onnx), or serve --models {path} to load from it"
        )
    if not path.is_file():
        raise ModelError(f"{path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise ModelError(f"{path} is empty")
    if size > MAX_MODEL_BYTES:
        raise ModelError(
            f"{path} is {size / 2**30:.1f} GiB; a gesture model is tens of MB (limit "
            f"{MAX_MODEL_BYTES / 2**30:.0f} GiB): refusing to map it into a live server"
        )
    candidates = provider_candidates(provider)
    try:
        session = ort.InferenceSession(
            str(path),
            sess_options=session_options(threads, spinning),
            providers=[(p, _provider_options(p)) for p in candidates],
        )
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path} is not a loadable ONNX model (damaged or truncated?): {first}") from e
    try:
        info = from_metadata(session.get_modelmeta().custom_metadata_map, str(path))
        if role is not None and info.role != role:
            raise ContractError(f"{path} is a {info.role} graph, not a {role}")
        check_signature(info, *_signature(session), source=str(path))
    except ContractError as e:
        raise ModelError(str(e)) from e
    return session, info, session.get_providers()[0]


def default_model_path() -> Path:
    """The model that ships inside the package (``gesturegan/server/models/default.onnx``)."""
    from importlib.resources import files

    path = Path(str(files("gesturegan.server") / "models" / "default.onnx"))
    if not path.is_file():
        raise ModelError(
            f"the bundled default model is missing ({path}); reinstall gesturegan or give a MODEL.onnx"
        )
    return path


def load_model(
    path: str | Path,
    provider: str = "auto",
    threads: int | None = None,
    batch_sizes: tuple[int, ...] = (1,),
    warm: bool = True,
    spinning: bool = True,
) -> Model:
    """Load and validate a generator, then warm each of ``batch_sizes``.

    ``spinning``: onnxruntime's threads busy-wait between calls, the lowest latency for a
    benchmark; a live engine turns it off so the audio thread keeps its core.
    """
    session, info, chosen = open_session(path, provider, threads, spinning=spinning)
    model = Model(Path(path), info, session, chosen)
    if warm:
        model.warm(batch_sizes)
    return model


@dataclass
class Encoder:
    """A VAE encoder: ``encode(audio [B, C, T], cond [B, K]) -> (mu, logvar)`` each ``[B, Z]``."""

    path: Path
    info: ModelInfo
    session: ort.InferenceSession
    provider: str

    def encode(self, audio: np.ndarray, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, logvar = self.session.run(
            None, {"audio": np.asarray(audio, np.float32), "cond": np.asarray(cond, np.float32)}
        )
        return mu, logvar


def encoder_beside(model_path: str | Path) -> Path:
    """Where a model's encoder lives: ``MODEL.encoder.onnx`` beside ``MODEL.onnx`` (as export writes it)."""
    p = Path(model_path)
    return p.with_name(p.stem + ".encoder.onnx")


def load_encoder(path: str | Path, provider: str = "auto", threads: int | None = None) -> Encoder:
    session, info, chosen = open_session(path, provider, threads, role="encoder")
    return Encoder(Path(path), info, session, chosen)
