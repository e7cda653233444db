"""Atomic file writes shared by every room: a reader never sees half a file.

Write to a temporary name in the target's folder (same file system), flush, then rename
over the target. A crash at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``.

    For writers that take a file name (soundfile, numpy, onnx, torch.save). On an
    exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)  # mkstemp makes 0600; these are shared files
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


# libsndfile's SFC_SET_ADD_PEAK_CHUNK (sndfile.h); soundfile does not name it. The PEAK chunk
# of float WAVs holds the write time in seconds, so two writes of the same audio differ.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def write_wav_atomic(path: str | Path, audio, sample_rate: int, subtype: str = "PCM_24") -> None:
    """Write ``audio`` ``[frames, channels]`` (or ``[frames]``) as WAV to ``path`` atomically.

    Byte-reproducible: the same samples give the same file at any time on any machine,
    because the timestamped PEAK chunk libsndfile adds to float WAVs is left out.
    """
    import soundfile as sf

    channels = 1 if audio.ndim == 1 else audio.shape[1]
    # the SoundFile closes (and flushes) before atomic_path renames
    with (
        atomic_path(path) as tmp,
        sf.SoundFile(tmp, "w", sample_rate, channels, subtype=subtype, format="WAV") as out,
    ):
        snd = getattr(sf, "_snd", None)
        if snd is not None:  # private in soundfile; without it the file is still valid
            snd.sf_command(out._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        out.write(audio)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, data: object, indent: int | None = 2) -> None:
    """Write ``data`` as JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=indent) + "\n")


class OutputPathError(ValueError):
    """An output path the command cannot write (a file where a folder is needed, or inside one)."""


def check_output_path(path: str | Path, kind: str, flag: str) -> None:
    """Refuse at once, in one line, an output that cannot be written: ``kind`` is "folder" or
    "file"; ``flag`` names the option (``--out``) so the message says what to change."""
    path = Path(path)
    if path.exists():
        if kind == "folder" and not path.is_dir():
            raise OutputPathError(f"{flag} {path} is a file, not a folder; give a folder (new or existing)")
        if kind == "file" and path.is_dir():
            raise OutputPathError(f"{flag} {path} is a folder; give a file name")
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(
                    f"{flag} {path}: {parent} is a file, not a folder; choose another {flag}"
                )
            return
