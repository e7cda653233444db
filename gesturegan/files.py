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
