"""The pure core: the engine's control logic and the values it works with.

May live here: parsing and the OSC address space (commands), the model contract, morph and
latents, pools, the scheduler, voices and the player (the audio callback's arithmetic), typed
actions, counters. Deterministic given its inputs: no sockets, devices, processes or files; the
only outside thing it calls is the model it is given (``inference``). Imports nothing from
``audio``, ``control`` or ``tools`` (a test checks).
"""
