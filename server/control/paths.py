"""File names that arrive over OSC resolve only inside the folder configured for them."""

from __future__ import annotations

from pathlib import Path


class UnsafePath(ValueError):
    pass


def inside(folder: str | Path, name: str, suffix: str | None = None) -> Path:
    """``folder / name`` if it stays inside ``folder`` after resolving ``..`` and symlinks.

    Refused: empty names, absolute paths, any ``..`` component, NUL, and links that lead out.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafePath("empty or invalid file name")
    p = Path(name)
    if p.is_absolute() or name.startswith(("/", "\\")) or ":" in p.parts[0]:
        raise UnsafePath(f"{name!r} is absolute; give a name inside the folder")
    if any(part == ".." for part in p.parts) or "\\.." in name or "..\\" in name:
        raise UnsafePath(f"{name!r} leaves the folder")
    if suffix and p.suffix != suffix:
        p = p.with_name(p.name + suffix)
    root = Path(folder).resolve()
    target = (root / p).resolve()
    if not target.is_relative_to(root):
        raise UnsafePath(f"{name!r} resolves outside {root} (a link?)")
    return target


def listing(folder: str | Path, suffix: str) -> list[str]:
    """Names of the ``suffix`` files directly in ``folder`` that ``inside`` accepts, sorted."""
    names = []
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.suffix != suffix:
            continue
        try:
            if inside(folder, entry.name).is_file():
                names.append(entry.name)
        except UnsafePath:
            continue  # a link out of the folder is not offered
    return names
