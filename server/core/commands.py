"""The engine's control language: OSC addresses and arguments to typed commands (pure).

Adapters (OSC over python-osc, MIDI through a map, a replayed event log) all produce the same
``Command`` values; the core consumes only those. Every address is declared once in
``SPEC`` with its arguments, ranges and meaning, so the dispatcher, the ``/error`` replies
and ``gesturegan osc-spec`` cannot disagree. ``parse`` never raises anything but
``BadMessage``, whatever it is given (property-tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_STRING = 256
# The ports `gesturegan serve` listens on and replies to; the Max and Pd patches default to them.
DEFAULT_OSC_PORT = 9000
DEFAULT_REPLY_PORT = 9001


class BadMessage(ValueError):
    """A message the engine refuses; ``str`` is the reason sent back on ``/error``."""

    def __init__(self, address: str, reason: str):
        super().__init__(reason)
        self.address, self.reason = address, reason


@dataclass(frozen=True)
class Arg:
    """One argument: ``kind`` is int, float, str or category (a name or an index)."""

    name: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    default: object = None
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class Command:
    """A parsed message: the address and its arguments by name, defaults filled in."""

    address: str
    args: dict

    def __getitem__(self, key: str) -> object:
        return self.args[key]


@dataclass(frozen=True)
class Address:
    path: str
    args: tuple[Arg, ...]
    help: str
    variadic: Arg | None = None  # /morph/weights takes one float per category


SPEC: tuple[Address, ...] = (
    Address(
        "/trigger",
        (
            Arg(
                "category",
                "category",
                default=None,
                help="name, index, or mix (the current morph mix, also when omitted)",
            ),
            Arg("velocity", "float", 0.0, 1.0, 1.0, help="scales the gain"),
            Arg(
                "position",
                "float",
                0.0,
                1.0,
                None,
                help="across the speakers; omitted: the current position",
            ),
            Arg(
                "seed",
                "int",
                0,
                2**31 - 1,
                None,
                help="latent seed for a repeatable gesture; omitted: jittered latent",
            ),
        ),
        "play one gesture now (or at the bundle's timetag)",
    ),
    Address(
        "/morph",
        (
            Arg("x", "float", 0.0, 1.0, required=True),
            Arg("y", "float", 0.0, 1.0, required=True),
        ),
        "XY pad: trigger (0,0), trigger_continuous (1,0), continuous_variation (0,1), continuous_repetition (1,1)",
    ),
    Address(
        "/morph/weights",
        (),
        "explicit category weights, one float >= 0 per category",
        variadic=Arg("weight", "float", 0.0, 1e6),
    ),
    Address(
        "/position",
        (Arg("position", "float", 0.0, 1.0, required=True),),
        "default position of new gestures across the speakers (0..1)",
    ),
    Address("/latent/seed", (Arg("seed", "int", 0, 2**31 - 1, required=True),), "new base latent"),
    Address(
        "/latent/jitter",
        (Arg("amount", "float", 0.0, 4.0, required=True),),
        "per-trigger latent noise (0 = the same gesture each time)",
    ),
    Address(
        "/latent/walk",
        (Arg("speed", "float", 0.0, 10.0, required=True),),
        "random walk of the latent, radians per second (0 = still)",
    ),
    Address("/stream/start", (), "the engine triggers gestures by itself; replies /stream"),
    Address("/stream/stop", (), "stop stream mode (sounding gestures finish); replies /stream"),
    Address("/stream/density", (Arg("rate", "float", 0.0, 64.0, required=True),), "stream events per second"),
    Address(
        "/stop",
        (Arg("voice", "int", 1, 2**31 - 1, None, help="voice id; omitted: every voice"),),
        "fade a voice (or all) out",
    ),
    Address("/panic", (), "silence everything at once: voices, scheduled plays and stream mode"),
    Address(
        "/rate",
        (Arg("rate", "float", 0.25, 4.0, required=True),),
        "playback rate of sounding and new gestures (1 = as generated; MIDI pitch bend)",
    ),
    Address("/gain", (Arg("db", "float", -120.0, 24.0, required=True),), "master gain in dB"),
    Address(
        "/render",
        (
            Arg("category", "category", required=True),
            Arg("count", "int", 1, 64, 1),
        ),
        "write gestures as WAV files into the render folder; replies /rendered path",
    ),
    Address(
        "/model/load",
        (Arg("name", "str", required=True, help="a file name inside the models folder"),),
        "swap the model without stopping the sound",
    ),
    Address("/model/list", (), "reply /model/list with the model files in the models folder"),
    Address("/model/info", (), "reply /model/info with the contract"),
    Address("/status", (), "reply /status voices triggers misses errors late xruns"),
    Address(
        "/like",
        (
            Arg("name", "str", required=True, help="a sound file inside the --sounds folder"),
            Arg("amount", "float", 0.0, 4.0, None, help="0: the sound itself, 1: as varied as the model"),
        ),
        "later triggers play new takes of a real sound (the model's encoder places it); replies /like",
    ),
    Address("/like/off", (), "back to the seeded latent (triggers play the model's own gestures)"),
    Address("/like/list", (), "reply /like/list with the sound files /like can pick"),
)
BY_PATH = {a.path: a for a in SPEC}


@dataclass(frozen=True)
class Reply:
    """A message the server sends to the reply port: argument names and OSC type tags."""

    path: str
    args: tuple[tuple[str, str], ...]  # (name, tag); a name ending in "..." repeats
    help: str


REPLIES: tuple[Reply, ...] = (
    Reply("/voice/start", (("id", "i"), ("category", "s")), "a gesture began (category or 'mix')"),
    Reply("/voice/end", (("id", "i"),), "a gesture finished, was stopped or stolen"),
    Reply(
        "/status",
        (("voices", "i"), ("triggers", "i"), ("misses", "i"), ("errors", "i"), ("late", "i"), ("xruns", "i")),
        "answer to /status: sounding voices, triggers, pool misses, refused messages, late events, audio xruns",
    ),
    Reply(
        "/model/info",
        (("family", "s"), ("rate", "i"), ("samples", "i"), ("latent", "i"), ("categories...", "s")),
        "the playing model's contract (answer to /model/info and to a /model/load that worked)",
    ),
    Reply("/model/list", (("names...", "s"),), "model files /model/load can open"),
    Reply("/rendered", (("path", "s"),), "a WAV file /render wrote (absolute path)"),
    Reply(
        "/like",
        (("name", "s"), ("category", "s"), ("amount", "f")),
        "the sound later triggers vary, the category the model hears it as, and the amount ('' after /like/off)",
    ),
    Reply("/like/list", (("names...", "s"),), "sound files /like can pick"),
    Reply(
        "/stream",
        (("on", "i"), ("density", "f")),
        "stream mode's state after /stream/start, /stream/stop and /panic (which turns it off)",
    ),
    Reply("/error", (("address", "s"), ("reason", "s")), "a refused message and why (rate-limited)"),
    Reply(
        "/audio/state",
        (("state", "s"),),
        "the audio server went away ('lost': the engine goes on and reconnects) or came back ('running')",
    ),
)
REPLY_PATHS = {r.path: r for r in REPLIES}


def _plain(x: float | int | None) -> str:
    """A bound as a person writes it: ``2147483647``, ``0.25``, ``-120`` (never ``2.14748e+09``)."""
    if x is None:
        return "any"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


def _number(address: str, arg: Arg, value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadMessage(address, f"{arg.name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise BadMessage(address, f"{arg.name} must be finite, not {value}")
    if arg.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise BadMessage(address, f"{arg.name} must be a whole number, not {value}")
            value = int(value)
    else:
        value = float(value)
    if (arg.lo is not None and value < arg.lo) or (arg.hi is not None and value > arg.hi):
        raise BadMessage(
            address, f"{arg.name} must be in {_plain(arg.lo)}..{_plain(arg.hi)}, not {_plain(value)}"
        )
    return value


def _category(address: str, arg: Arg, value: object, categories: Sequence[str]) -> int | None:
    if value == "mix" and arg.default is None and not arg.required:
        return None  # /trigger mix v: the morph mix with a velocity (Max cannot skip an argument)
    if isinstance(value, str):
        if value in categories:
            return list(categories).index(value)
        raise BadMessage(address, f"unknown category {value[:40]!r}; this model has {', '.join(categories)}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadMessage(address, f"{arg.name} must be a name or an index")
    if float(value) != int(value) or not 0 <= int(value) < len(categories):
        raise BadMessage(address, f"category index must be 0..{len(categories) - 1}, not {value}")
    return int(value)


def _string(address: str, arg: Arg, value: object) -> str:
    if not isinstance(value, str):
        raise BadMessage(address, f"{arg.name} must be a string")
    if len(value) > MAX_STRING or "\x00" in value:
        raise BadMessage(address, f"{arg.name} is too long or holds NUL")
    return value


def parse(address: object, args: Sequence[object], categories: Sequence[str]) -> Command:
    """One message to a ``Command``; anything wrong raises ``BadMessage`` with the reason."""
    if not isinstance(address, str) or len(address) > MAX_STRING:
        raise BadMessage(str(address)[:64], "not an address")
    spec = BY_PATH.get(address)
    if spec is None:
        raise BadMessage(address, "unknown address (see `gesturegan osc-spec`)")
    args = list(args)
    if spec.variadic is not None:
        if len(args) != len(categories):
            raise BadMessage(address, f"needs {len(categories)} weights, one per category, got {len(args)}")
        weights = [_number(address, spec.variadic, v) for v in args]
        if sum(weights) <= 0:
            raise BadMessage(address, "at least one weight must be positive")
        return Command(address, {"weights": tuple(weights)})
    if len(args) > len(spec.args):
        raise BadMessage(address, f"takes at most {len(spec.args)} arguments, got {len(args)}")
    out = {}
    for i, arg in enumerate(spec.args):
        if i >= len(args):
            if arg.required:
                raise BadMessage(address, f"missing {arg.name}")
            out[arg.name] = arg.default
            continue
        value = args[i]
        if arg.kind == "category":
            out[arg.name] = _category(address, arg, value, categories)
        elif arg.kind == "str":
            out[arg.name] = _string(address, arg, value)
        else:
            out[arg.name] = _number(address, arg, value)
    return Command(address, out)


def describe_replies() -> list[dict]:
    """The replies as data: address, arguments (name and OSC type tag), meaning."""
    return [
        {"address": r.path, "args": [{"name": n, "type": t} for n, t in r.args], "help": r.help}
        for r in REPLIES
    ]


def describe() -> list[dict]:
    """The address space as data (for ``osc-spec --json`` and the Max help patch)."""
    rows = []
    for a in SPEC:
        args = [
            {
                "name": x.name,
                "type": x.kind,
                "min": x.lo,
                "max": x.hi,
                "default": x.default,
                "required": x.required,
                "help": x.help,
            }
            for x in a.args
        ]
        if a.variadic is not None:
            args = [
                {
                    "name": "weight...",
                    "type": "float",
                    "min": 0.0,
                    "max": None,
                    "default": None,
                    "required": True,
                    "help": "one per category, in the model's order",
                }
            ]
        rows.append({"address": a.path, "args": args, "help": a.help})
    return rows
