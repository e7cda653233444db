"""Path traversal through OSC file names is refused."""

from __future__ import annotations

import os

import pytest

from gesturegan.server.control.paths import UnsafePath, inside


def test_names_inside_resolve(tmp_path):
    (tmp_path / "sub").mkdir()
    assert inside(tmp_path, "a.onnx") == (tmp_path / "a.onnx").resolve()
    assert inside(tmp_path, "sub/b", ".onnx") == (tmp_path / "sub" / "b.onnx").resolve()


@pytest.mark.parametrize(
    "name", ["../x.onnx", "/etc/passwd", "sub/../../x", "", "a\x00b", "..", "C:/x", "..\\x"]
)
def test_escapes_are_refused(tmp_path, name):
    with pytest.raises(UnsafePath):
        inside(tmp_path, name)


def test_symlinks_out_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "models"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(UnsafePath, match="outside"):
        inside(root, "link/evil.onnx")
