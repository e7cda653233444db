"""The server's rooms: the folder says what a module may import (read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "server"
ROOMS = ("core", "inference", "audio", "control", "tools")
# what each room may not import from the others
FORBIDDEN = {
    "core": ("audio", "control", "tools"),
    "inference": ("audio", "control", "tools"),
    "audio": ("control", "tools"),
    "control": ("tools",),
}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


MODULES = sorted(p for p in SERVER.rglob("*.py"))


def test_every_module_lives_in_a_room():
    loose = [p.name for p in SERVER.glob("*.py") if p.name not in ("__init__.py", "runtime.py")]
    assert not loose, f"put {loose} in one of {ROOMS} (server/__init__.py says which)"
    assert {p.name for p in SERVER.iterdir() if p.is_dir() and not p.name.startswith("__")} == {
        *ROOMS,
        "models",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SERVER)))
def test_imports_follow_the_rooms_and_never_torch(path):
    room = path.relative_to(SERVER).parts[0] if len(path.relative_to(SERVER).parts) > 1 else None
    for name in _imports(path):
        assert name.split(".")[0] != "torch", f"{path.name} imports torch"
        assert not name.startswith("gesturegan.training"), f"{path.name} imports {name}"
        for other in FORBIDDEN.get(room, ()):
            assert not name.startswith(f"gesturegan.server.{other}"), f"{room}/{path.name} imports {name}"
