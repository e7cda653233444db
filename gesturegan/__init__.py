"""gesturegan: play generated sound gestures.

Sub-packages: :mod:`gesturegan.server` (the live engine, no torch),
:mod:`gesturegan.training` (datasets, classifier, models) and
:mod:`gesturegan.export` (torch to ONNX).
"""

__version__ = "0.1.0"
