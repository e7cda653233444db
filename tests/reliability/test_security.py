"""Security by construction: what the control path may never do, checked in the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gesturegan.server.control.osc import OscControl

ROOT = Path(__file__).resolve().parents[2]
# Modules a message from the network can reach, found by room: the control adapters (OSC, MIDI,
# safe paths), the core they feed, the inference room it calls (/render, /like, /model/load), and
# the runtime that wires them. A module added to one of these rooms is checked without a word.
CONTROL_ROOMS = ("server/control", "server/core", "server/inference")
CONTROL_PATH = sorted(
    [str(p.relative_to(ROOT)) for room in CONTROL_ROOMS for p in (ROOT / room).glob("*.py")]
    + ["server/runtime.py"]
)
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "system", "popen", "loads"}
FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "subprocess", "dill", "torch"}


def test_the_control_path_is_found_by_room():
    assert {"server/control/osc.py", "server/core/engine.py", "server/inference/model.py"} <= set(
        CONTROL_PATH
    )


@pytest.mark.parametrize("rel", CONTROL_PATH)
def test_no_shell_eval_or_unpickling_on_the_control_path(rel):
    tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{rel}:{node.lineno} imports {name}"
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            if name == "loads" and owner in ("json", "tomllib"):
                continue  # JSON and TOML are data, not code
            assert name not in FORBIDDEN_CALLS, f"{rel}:{node.lineno} calls {name}"
            for kw in node.keywords:
                assert not (kw.arg == "shell" and getattr(kw.value, "value", False)), (
                    f"{rel}:{node.lineno} shell=True"
                )


def test_osc_binds_loopback_by_default():
    import inspect

    assert inspect.signature(OscControl).parameters["host"].default == "127.0.0.1"
    from gesturegan.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"
