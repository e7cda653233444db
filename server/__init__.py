"""The live engine: numpy + onnxruntime only, never torch. Its rooms, by what may live there:

- ``core``: pure control logic and values (commands, contract, engine, pools, scheduler, voices).
- ``inference``: running models (onnxruntime sessions, like, offline render).
- ``audio``: clock, backends, the mixer process, GC handling, the recording tap.
- ``control``: OSC, MIDI, safe file names.
- ``tools``: bench, demo, doctor, the JACK dummy server, the test harness.
- ``runtime``: ``Live``, the one module that wires the rooms together for ``serve``.

``core`` imports nothing from ``audio``, ``control`` or ``tools`` (tests/server/test_layout.py).
"""
