"""Reading the user's sound files: any format libsndfile reads, any rate, depth and channel count.

Everything that can go wrong with a file is raised as :class:`AudioFileError` with a
reason a person can act on; callers (``prepare``, ``classify``) record it and move on.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

#: Extensions ``prepare`` and ``classify`` pick up when walking folders (lower case).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".mp3"}
)


# libsndfile's parse log for a chunk whose declared size exceeds what the file holds.
_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_UNKNOWN_SIZE = 0xFFFFFF00  # streaming writers put 0xFFFFFFFF when the length is unknown


class AudioFileError(Exception):
    """A file that cannot be used as audio; ``str()`` is the reason, for reports."""


def is_audio_path(path: Path) -> bool:
    """True when ``path`` has one of :data:`AUDIO_EXTENSIONS` (hidden files excluded)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def find_audio_files(srcs: list[Path]) -> list[tuple[Path, Path, str]]:
    """``(path, root, relative path)`` for every audio file under ``srcs``.

    A folder is walked recursively (sorted, so runs are reproducible); a file stands for
    itself with its parent as root. A file reached twice (symlinks, overlapping SRCs) is
    listed once. Raises :class:`FileNotFoundError` for a SRC that does not exist.
    """
    out: list[tuple[Path, Path, str]] = []
    seen: set[Path] = set()
    for src in map(Path, srcs):
        if not src.exists():
            raise FileNotFoundError(f"{src}: no such file or folder")
        root = src if src.is_dir() else src.parent
        files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for p in files:
            if is_audio_path(p) and p.resolve() not in seen:
                seen.add(p.resolve())
                out.append((p, root, p.relative_to(root).as_posix()))
    return out


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a whole file as float32 ``[C, T]`` and its sample rate.

    Raises :class:`AudioFileError` for unreadable, truncated, empty or non-finite files.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise AudioFileError("empty file (0 bytes)")
        with sf.SoundFile(str(path)) as fh:
            declared, rate, log = fh.frames, fh.samplerate, fh.extra_info
            data = fh.read(dtype="float32", always_2d=True)
    except AudioFileError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioFileError(f"unreadable: {exc}") from exc
    except OSError as exc:
        raise AudioFileError(f"cannot open: {exc.strerror or exc}") from exc
    if data.shape[0] == 0:
        raise AudioFileError("zero-length audio (no frames)")
    short = _SHORT_CHUNK.search(log)
    if short and int(short.group(3)) < int(short.group(2)) < _UNKNOWN_SIZE:
        raise AudioFileError(
            f"truncated: the header promises {int(short.group(2))} bytes of audio, the file holds {int(short.group(3))}"
        )
    if 0 < declared < 2**62 and declared - data.shape[0] > max(1152, declared // 100):
        raise AudioFileError(
            f"truncated: the header promises {declared} frames, only {data.shape[0]} could be read"
        )
    if not np.isfinite(data).all():
        raise AudioFileError("contains NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(rate)


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mix ``[C, T]`` down to mono (mean) or up/down to ``channels``; returns ``[channels, T]``."""
    if audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if audio.shape[0] == 1:
        return np.repeat(audio, channels, axis=0)
    if audio.shape[0] > channels:
        # Keep the first channels (front pair for surround files): mixing a 5.1 file into
        # stereo needs a matrix the file does not tell us.
        return audio[:channels]
    raise AudioFileError(f"cannot map {audio.shape[0]} channels to {channels}")


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample ``[C, T]`` with soxr (high quality); a no-op at equal rates."""
    if rate_in == rate_out:
        return audio
    out = soxr.resample(audio.T, rate_in, rate_out, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T.reshape(audio.shape[0], -1))


def load_audio(path: str | Path, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Read, remix and resample a file: float32 ``[channels, T]`` at ``sample_rate``."""
    audio, rate = read_audio(path)
    return resample(to_channels(audio, channels), rate, sample_rate)
