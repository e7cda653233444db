"""Reading the user's sound files: any format libsndfile reads, any rate, depth and channel count.

Everything that can go wrong with a file is raised as :class:`AudioFileError` with a
reason a person can act on; callers (``prepare``, ``classify``) record it and move on.
"""

from __future__ import annotations

import math
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


#: Files longer than this are read in pieces (``LongFile``), never whole: a 30-minute stereo
#: file read, remixed and resampled at once peaks over 3 GB.
LONG_FILE_SECONDS = 120.0
_BLOCK_SECONDS = 10.0


def file_seconds(path: str | Path) -> float:
    """Duration from the header (0.0 when the header cannot say)."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError):
        return 0.0
    return info.frames / info.samplerate if 0 < info.frames < 2**62 else 0.0


class LongFile:
    """A long file read in pieces: ``blocks()`` streams it remixed and resampled, ``segment()``
    reads one stretch (output-rate frames) from disk. Same checks as :func:`read_audio`."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int):
        self.path, self.sample_rate, self.channels = Path(path), sample_rate, channels
        try:
            with sf.SoundFile(str(self.path)) as fh:
                self.rate, self.declared, log = fh.samplerate, fh.frames, fh.extra_info
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioFileError(f"unreadable: {exc}") from exc
        except OSError as exc:
            raise AudioFileError(f"cannot open: {exc.strerror or exc}") from exc
        short = _SHORT_CHUNK.search(log)
        if short and int(short.group(3)) < int(short.group(2)) < _UNKNOWN_SIZE:
            raise AudioFileError(
                f"truncated: the header promises {int(short.group(2))} bytes of audio, the file holds {int(short.group(3))}"
            )

    @property
    def seconds(self) -> float:
        return self.declared / self.rate

    def blocks(self):
        """``[channels, n]`` float32 pieces at ``sample_rate``, in order, about 10 s each."""
        stream = (
            soxr.ResampleStream(self.rate, self.sample_rate, self.channels, dtype="float32", quality="HQ")
            if self.rate != self.sample_rate
            else None
        )
        read = 0
        try:
            with sf.SoundFile(str(self.path)) as fh:
                for block in fh.blocks(
                    blocksize=int(_BLOCK_SECONDS * self.rate), dtype="float32", always_2d=True
                ):
                    read += block.shape[0]
                    if not np.isfinite(block).all():
                        raise AudioFileError("contains NaN or infinite samples")
                    mixed = to_channels(np.ascontiguousarray(block.T), self.channels)
                    out = mixed if stream is None else stream.resample_chunk(np.ascontiguousarray(mixed.T)).T
                    if out.shape[1]:
                        yield np.ascontiguousarray(out, dtype=np.float32)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioFileError(f"unreadable: {exc}") from exc
        if stream is not None:
            tail = stream.resample_chunk(np.zeros((0, self.channels), np.float32), last=True).T
            if tail.shape[1]:
                yield np.ascontiguousarray(tail, dtype=np.float32)
        if self.declared - read > max(1152, self.declared // 100):
            raise AudioFileError(
                f"truncated: the header promises {self.declared} frames, only {read} could be read"
            )

    def segment(self, start: int, stop: int) -> np.ndarray:
        """Output-rate frames ``[start, stop)`` as ``[channels, stop - start]`` (zero past the end)."""
        # Start the read on a frame where both rates meet (a multiple of rate / gcd), so the
        # piece is resampled in the same phase as the whole file would be.
        g = math.gcd(self.rate, self.sample_rate)
        step_in, step_out = self.rate // g, self.sample_rate // g
        pad = int(0.05 * self.sample_rate)  # resampler context on both sides, cut away after
        k = max(start - pad, 0) // step_out
        first, offset = k * step_in, start - k * step_out
        last = math.ceil((stop + pad) * self.rate / self.sample_rate) + 1
        with sf.SoundFile(str(self.path)) as fh:
            fh.seek(first)
            raw = fh.read(last - first, dtype="float32", always_2d=True)
        audio = resample(to_channels(np.ascontiguousarray(raw.T), self.channels), self.rate, self.sample_rate)
        out = np.zeros((self.channels, stop - start), np.float32)
        piece = audio[:, offset : offset + stop - start]
        out[:, : piece.shape[1]] = piece
        return out
