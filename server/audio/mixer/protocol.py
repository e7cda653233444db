"""What crosses between the engine and the mixer process: the command and reply records, the
shared file's layout and its figures' slots (see the package's doc)."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from gesturegan.server.core.actions import Action, Gain, Panic, Play, Rate, Stop
from gesturegan.server.core.voices import VoiceBank

TIMING_RING = 1 << 16
RECORD_SECONDS = 8.0  # the recording's ring (as server/audio/record.py)
SPARE_ROWS = 16
REPLY_RING = 8192  # replies waiting for the engine to read them (~20 s of blocks when it stalls)
SEND_RECORDS = 128  # records per write: 4 kB, PIPE_BUF
SEND_WRITES = 4  # writes per block at most: a backlog drains over several blocks
LINKS_BYTES = 16384  # the JACK connections, as JSON, for a mixer that replaces a dead one

# Command kinds and reply tags (the first field of each record).
PLAY, STOP, PANIC, GAIN, RATE = 1, 2, 3, 4, 5
KINDS = {Play: PLAY, Stop: STOP, Panic: PANIC, Gain: GAIN, Rate: RATE}
CLOCK, START, END, RAN, ROW, REFUSED, STATE, READY, RECORDED = 1, 2, 3, 4, 5, 6, 7, 8, 9

REPLY = np.dtype([("tag", "<i8"), ("a", "<i8"), ("b", "<i8"), ("x", "<f8")])

# Slots of the shared figures (float64). The mixer writes all but REC_READ.
(
    CALLBACKS,
    XRUNS,
    XRUNS_OURS,
    FAULTS,
    LOSSES,
    LOST,
    SOUNDING,
    LATE,
    LATE_MAX,
    RECEIVED,
    PENDING,
    MASTER,
    REC_OVERFLOWS,
    REC_READ,
    STOLEN,
    LINKS_LEN,
    FEED_MAX,
    SEND_MAX,
    FEED_SLOW,
    SEND_SLOW,
) = range(20)
N_STATS = 24
SLOW_S = 1e-3  # a pipe call slower than this is counted (it should take microseconds)


def command_dtype(channels: int) -> np.dtype:
    """One action: kind, frame, action id, arena row, a value (velocity, gain, rate, voice) and
    the speaker gains ``[channels]`` (a staged row's length is in the shared file)."""
    return np.dtype(
        [
            ("kind", "<i8"),
            ("frame", "<i8"),
            ("id", "<i8"),
            ("row", "<i8"),
            ("value", "<f8"),
            ("pan", "<f4", (channels,)),
        ]
    )


def encode_action(frame: int, action: Action, channels: int) -> bytes:
    """An engine action (core/actions.py) as one command record (control side)."""
    rec = np.zeros(1, command_dtype(channels))[0]
    rec["kind"], rec["frame"], rec["id"] = KINDS[type(action)], frame, action.id
    if type(action) is Play:  # the samples are in the arena already, at ``row``
        rec["row"], rec["value"], rec["pan"] = action.row, action.velocity, action.pan
    elif type(action) is Stop:
        rec["value"] = -1 if action.voice is None else action.voice
    elif type(action) is Gain:
        rec["value"] = action.gain
    elif type(action) is Rate:
        rec["value"] = action.rate
    return rec.tobytes()


def decode_action(rec) -> tuple[int, Action]:
    """A command record as ``(frame, action)`` for the mixer's scheduler; a play's name is its
    action id (the engine names the voice when the start comes back)."""
    kind, frame, action_id = int(rec["kind"]), int(rec["frame"]), int(rec["id"])
    if kind == PLAY:
        return frame, Play(
            action_id, None, float(rec["value"]), rec["pan"].copy(), action_id, int(rec["row"])
        )
    if kind == STOP:
        voice = int(rec["value"])
        return frame, Stop(action_id, None if voice < 0 else voice)
    if kind == PANIC:
        return frame, Panic(action_id)
    if kind == GAIN:
        return frame, Gain(action_id, float(rec["value"]))
    if kind == RATE:
        return frame, Rate(action_id, float(rec["value"]))
    raise ValueError(f"unknown command kind {kind}")


def _layout(spec: dict) -> tuple[dict, int]:
    """Byte offsets of each array in the shared file, and its size (each array 64-byte aligned)."""
    rows, row_len = VoiceBank.arena_shape(spec["max_voices"], spec["block"], spec["max_len"], SPARE_ROWS)
    ring = int(RECORD_SECONDS * spec["sample_rate"])
    parts = [
        ("stats", np.float64, (N_STATS,)),
        ("row_len", np.int64, (rows,)),
        ("entry", np.float32, (TIMING_RING,)),
        ("took", np.float32, (TIMING_RING,)),
        ("cpu", np.float32, (TIMING_RING,)),
        ("slept", np.int16, (TIMING_RING,)),
        ("pushed", np.int16, (TIMING_RING,)),
        ("links", np.uint8, (LINKS_BYTES,)),
        ("record", np.float32, (ring, spec["channels"])),
        ("arena", np.float32, (rows, row_len)),
    ]
    out, at = {}, 0
    for name, dtype, shape in parts:
        out[name] = (at, dtype, shape)
        at += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64
    return out, at


def _views(source: str | int, spec: dict) -> dict[str, np.ndarray]:
    """Every array of the shared file ``source`` (a path, or an open descriptor), mapped."""
    layout, size = _layout(spec)
    if isinstance(source, int):  # the mapping outlives the file object (and the descriptor)
        with os.fdopen(os.dup(source), "r+b") as f:
            mm = np.memmap(f, np.uint8, mode="r+", shape=(size,))
    else:
        mm = np.memmap(source, np.uint8, mode="r+", shape=(size,))
    return {
        name: mm[at : at + int(np.prod(shape)) * np.dtype(dtype).itemsize].view(dtype).reshape(shape)
        for name, (at, dtype, shape) in layout.items()
    }


def _shared_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def _save_links(views: dict[str, np.ndarray], links: dict[int, list[str]]) -> None:
    """The output's connections into the shared file (the supervisor thread, every change)."""
    data = np.frombuffer(json.dumps(links).encode(), np.uint8)
    if data.size <= LINKS_BYTES:
        views["links"][: data.size] = data
        views["stats"][LINKS_LEN] = data.size


def _load_links(views: dict[str, np.ndarray]) -> dict | None:
    n = int(views["stats"][LINKS_LEN])
    if not 0 < n <= LINKS_BYTES:
        return None
    try:
        return json.loads(views["links"][:n].tobytes())
    except ValueError:
        return None
