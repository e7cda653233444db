"""Generate the Max package's patches and the Pure Data twin from the server's OSC spec.

    python maxpatches/build.py          # rewrite patchers/, help/, pd/ in place

Every OSC address a patch sends and every reply it routes comes from
``gesturegan.server.core.commands`` (the dispatcher's own table), and the ports default to the
server's, so the patches cannot drift from the engine. The Max patches are written with
py2max (connections validated against Max's object reference as they are made); the Pd patch
is plain text in Pd's file format. A test regenerates everything and compares it with the
committed files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from py2max import Patcher

from gesturegan.server.core.commands import (
    BY_PATH,
    DEFAULT_OSC_PORT,
    DEFAULT_REPLY_PORT,
    REPLY_PATHS,
)

HERE = Path(__file__).resolve().parent
CATEGORIES = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")
# XY pad corners, as the server maps them (see /morph in `gesturegan osc-spec`)
CORNERS = {
    (0, 0): "trigger",
    (1, 0): "trigger_continuous",
    (0, 1): "continuous_variation",
    (1, 1): "continuous_repetition",
}


def addr(path: str) -> str:
    """An address the server accepts (fails the build otherwise)."""
    if path not in BY_PATH:
        raise SystemExit(f"{path} is not in the server's OSC spec")
    return path


def reply(path: str) -> str:
    if path not in REPLY_PATHS:
        raise SystemExit(f"{path} is not a reply the server sends")
    return path


def max_ports(text: str) -> tuple[int, int]:
    """Inlets and outlets Max gives each object these patches use, from Max's reference
    (py2max's generic guesses differ for ``route``, ``sel``, ``ctlin N`` and ``groove~``)."""
    name, *args = text.split()
    n = len(args)
    if name == "route":
        return 2, n + 1
    if name in ("sel", "select"):
        return (2, 2) if n == 1 else (1, n + 1)
    if name == "pak":
        return n, 1
    if name in ("unpack", "t", "trigger"):
        return 1, n
    if name == "groove~":
        return 3, (int(args[1]) if n > 1 else 1) + 1  # one outlet per channel and the sync outlet
    if name == "ctlin":
        return (1, 2) if n else (1, 3)  # a fixed controller number drops its outlet
    if name == "expr":
        return max(1, len({a for a in text.replace(")", " ").split() if a.startswith("$f")})), 1
    fixed = {
        "prepend": (1, 1),
        "iter": (1, 1),
        "loadbang": (1, 1),
        "loadmess": (1, 1),
        "patcherargs": (1, 2),
        "f": (2, 1),
        "qmetro": (2, 1),
        "change": (1, 3),
        "scale": (6, 1),
        "notein": (1, 3),
        "stripnote": (2, 2),
        "bendin": (1, 2),
        "udpsend": (1, 0),
        "udpreceive": (1, 1),
        "buffer~": (1, 2),
        "sig~": (1, 1),
        "*~": (2, 1),
        "/": (2, 1),
        "-": (2, 1),
        "%": (2, 1),
        ">": (2, 1),
    }
    if name not in fixed:
        raise KeyError(f"max_ports does not know {name!r}; add it from Max's reference")
    return fixed[name]


class Layout:
    """A Patcher plus helpers that place boxes on a grid (x, y in pixels) and wire them."""

    def __init__(self, path: Path, title: str, width: float = 1000, height: float = 720):
        self.p = Patcher(str(path), title=title, layout="grid", on_invalid="raise")
        self.p.rect = [60.0, 80.0, width, height]

    def obj(self, text: str, x: float, y: float, w: float = 0, **kw):
        w = w or max(40.0, 7.0 * len(text) + 14)
        ins, outs = max_ports(text)
        box = self.p.add_textbox(text, patching_rect=[x, y, w, 22.0], **kw)
        box.numinlets, box.numoutlets = ins, outs
        return box

    def msg(self, text: str, x: float, y: float, w: float = 0, **kw):
        w = w or max(40.0, 7.0 * len(text) + 14)
        return self.p.add_message(text, patching_rect=[x, y, w, 22.0], **kw)

    def note(self, text: str, x: float, y: float, w: float = 200, h: float = 20, **kw):
        return self.p.add_comment(text, patching_rect=[x, y, w, h], **kw)

    def ui(self, maxclass: str, x: float, y: float, w: float = 50, h: float = 22, **kw):
        return self.p.add_textbox(maxclass, patching_rect=[x, y, w, h], **kw)

    def wire(self, a, b, outlet: int = 0, inlet: int = 0) -> None:
        self.p.add_line(a, b, inlet=inlet, outlet=outlet)

    def save(self) -> None:
        save(self.p)


def _tidy(patcher: dict) -> None:
    """One outlet type per outlet (``signal`` for MSP objects), as Max saves them."""
    for entry in patcher["boxes"]:
        box = entry["box"]
        if "patcher" in box:
            _tidy(box["patcher"])
        n = box.get("numoutlets", 0)
        kinds = list(box.get("outlettype") or [])[:n]
        signal = (box.get("text") or "").split(" ")[0].endswith("~")
        kinds += ["signal" if signal else ""] * (n - len(kinds))
        box["outlettype"] = kinds


def save(p: Patcher) -> None:
    """py2max's save, then outlet types made to agree with the outlet counts."""
    p.save()
    path = Path(p.filepath)
    data = json.loads(path.read_text(encoding="utf-8"))
    _tidy(data["patcher"])
    path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")


def network(L: Layout, x: float, y: float):
    """patcherargs (send port, reply port) -> udpsend and udpreceive; returns (udpsend, udpreceive)."""
    L.note(
        f"arguments: send-port reply-port (defaults {DEFAULT_OSC_PORT} {DEFAULT_REPLY_PORT}, as `gesturegan serve`)",
        x,
        y,
        330,
        34,
    )
    args = L.obj(f"patcherargs {DEFAULT_OSC_PORT} {DEFAULT_REPLY_PORT}", x, y + 40)
    ports = L.obj(f"unpack {DEFAULT_OSC_PORT} {DEFAULT_REPLY_PORT}", x, y + 70)
    to_send = L.obj("prepend port", x, y + 100)
    to_recv = L.obj("prepend port", x + 110, y + 100)
    send = L.obj(f"udpsend 127.0.0.1 {DEFAULT_OSC_PORT}", x, y + 140, 170)
    recv = L.obj(f"udpreceive {DEFAULT_REPLY_PORT}", x + 180, y + 140, 130)
    L.wire(args, ports)
    L.wire(ports, to_send, 0)
    L.wire(ports, to_recv, 1)
    L.wire(to_send, send)
    L.wire(to_recv, recv)
    return send, recv


def fill_menu(L: Layout, route, outlet: int, menu, x: float, y: float) -> None:
    """A list reply from ``route``'s ``outlet`` refills ``menu``: clear, then one append per name."""
    split = L.obj("t l b", x, y)
    clear = L.msg("clear", x + 80, y + 30)
    each = L.obj("iter", x, y + 30)
    add = L.obj("prepend append", x, y + 60)
    L.wire(route, split, outlet)
    L.wire(split, clear, 1)
    L.wire(split, each, 0)
    L.wire(each, add)
    L.wire(clear, menu)
    L.wire(add, menu)


def control_surface(path: Path) -> None:
    L = Layout(path, "gesturegan")
    L.note(
        "gesturegan: play generated sound gestures. Start the server first: gesturegan serve", 20, 10, 600, 20
    )
    send, recv = network(L, 660, 10)

    # -- triggers: a button per category and one for the morph mix, at the velocity set below
    L.note("trigger (velocity 0..1)", 20, 40, 150)
    vel = L.ui("flonum", 180, 40, 50, minimum=0.0, maximum=1.0)
    L.wire(L.obj("loadmess 1.", 240, 40), vel)
    for i, name in enumerate((*CATEGORIES, "mix")):
        x = 20 + i * 125
        L.note(name, x, 70, 120)
        bang = L.ui("button", x, 92, 30, 30)
        hold = L.obj("f", x, 130, 40)
        L.wire(bang, hold)
        L.wire(vel, hold, 0, 1)
        L.wire(hold, L.msg(f"{addr('/trigger')} {name} $1", x, 160 + (i % 2) * 26, 118))
        L.wire(L.p._boxes[-1], send)

    # -- morph: an XY pad with one category per corner
    L.note("morph: XY pad", 20, 220, 100)
    L.note(CORNERS[(0, 1)], 20, 244, 140)
    L.note(CORNERS[(1, 1)], 20, 264, 140)
    pad = L.ui("pictslider", 20, 284, 120, 120, leftvalue=0, rightvalue=100, topvalue=100, bottomvalue=0)
    L.note("top-left / top-right", 150, 284, 80, 34)
    L.note(CORNERS[(0, 0)], 20, 408, 110)
    L.note(CORNERS[(1, 0)], 130, 408, 110)
    sx, sy = L.obj("/ 100.", 20, 432), L.obj("/ 100.", 90, 432)
    xy = L.obj("pak 0.5 0.5", 20, 458)
    L.wire(pad, sx, 0)
    L.wire(pad, sy, 1)
    L.wire(sx, xy, 0, 0)
    L.wire(sy, xy, 0, 1)
    morph = L.msg(f"{addr('/morph')} $1 $2", 20, 484)
    L.wire(xy, morph)
    L.wire(morph, send)

    # -- one number box per setting
    settings = [
        ("position across the speakers 0..1", "flonum", "/position", {"minimum": 0.0, "maximum": 1.0}),
        ("latent seed", "number", "/latent/seed", {"minimum": 0}),
        ("jitter per trigger 0..4", "flonum", "/latent/jitter", {"minimum": 0.0, "maximum": 4.0}),
        ("latent walk, rad/s", "flonum", "/latent/walk", {"minimum": 0.0, "maximum": 10.0}),
        ("stream density, events/s", "flonum", "/stream/density", {"minimum": 0.0, "maximum": 64.0}),
        ("master gain, dB", "flonum", "/gain", {"minimum": -120.0, "maximum": 24.0}),
        ("playback rate 0.25..4", "flonum", "/rate", {"minimum": 0.25, "maximum": 4.0}),
    ]
    for i, (label, kind, path_, limits) in enumerate(settings):
        y = 230 + i * 30
        L.note(label, 250, y, 180)
        box = L.ui(kind, 440, y, 60, **limits)
        m = L.msg(f"{addr(path_)} $1", 510, y, 130)
        L.wire(box, m)
        L.wire(m, send)

    # -- stream mode, stop, panic
    L.note("stream", 250, 450, 50)
    on = L.ui("toggle", 300, 450, 22, 22)
    sel = L.obj("sel 1 0", 330, 450)
    L.wire(on, sel)
    for outlet, path_, x in ((0, "/stream/start", 400), (1, "/stream/stop", 500)):
        m = L.msg(addr(path_), x, 450, 95)
        L.wire(sel, m, outlet)
        L.wire(m, send)
    for path_, x in (("/stop", 250), ("/panic", 310)):
        L.wire(L.msg(addr(path_), x, 484, 55), send)
    L.note("stop fades every voice; panic silences at once", 370, 484, 280)

    # -- model choice: the server lists its models folder; picking one hot-swaps it
    L.note("model (from serve --models DIR)", 20, 520, 200)
    ask = L.msg(addr("/model/list"), 20, 544, 90)
    info = L.msg(addr("/model/info"), 120, 544, 90)
    menu = L.ui("umenu", 20, 576, 200, 22)
    load = L.msg(f"{addr('/model/load')} $1", 230, 576, 120)
    L.wire(ask, send)
    L.wire(info, send)
    L.wire(menu, load, 1)  # the chosen item's text
    L.wire(load, send)

    # -- a real sound to vary: the server lists its --sounds folder; picking one plays its takes
    L.note("sound to vary (from serve --sounds DIR); jitter above sets the amount", 20, 616, 400)
    ask_sounds = L.msg(addr("/like/list"), 20, 640, 80)
    like_off = L.msg(addr("/like/off"), 110, 640, 70)
    sound_menu = L.ui("umenu", 20, 668, 200, 22)
    like = L.msg(f"{addr('/like')} $1", 230, 668, 120)
    L.wire(ask_sounds, send)
    L.wire(like_off, send)
    L.wire(sound_menu, like, 1)  # the chosen item's text
    L.wire(like, send)

    # -- replies: status, errors, voices, the model, the model list, the sound
    L.note("replies from the server", 660, 200, 300)
    route = L.obj(
        "route "
        + " ".join(
            reply(r)
            for r in (
                "/status",
                "/error",
                "/voice/start",
                "/voice/end",
                "/model/info",
                "/model/list",
                "/rendered",
                "/like",
                "/like/list",
                "/stream",
            )
        ),
        660,
        224,
        330,
    )
    L.wire(recv, route)
    status = L.obj("unpack 0 0 0 0 0 0", 660, 260, 170)
    L.wire(route, status, 0)
    for j, label in enumerate(("voices", "triggers", "misses", "errors", "late", "xruns")):
        box = L.ui("number", 660 + j * 55, 290, 50)
        L.wire(status, box, j)
        L.note(label, 660 + j * 55, 312, 54)
    displays = [(1, "last error"), (2, "voice started"), (4, "model"), (7, "sound (name category amount)")]
    for k, (outlet, label) in enumerate(displays):
        y = 344 + k * 50
        L.note(label, 660, y, 95)
        pre = L.obj("prepend set", 760, y)
        shown = L.msg("", 660, y + 22, 330)
        L.wire(route, pre, outlet)
        L.wire(pre, shown)
    # stream mode as the server has it (a /panic turns it off)
    stream_state = L.obj("unpack 0 0.", 760, 550)
    L.wire(route, stream_state, 9)
    stream_on = L.ui("toggle", 660, 550, 24)
    L.wire(stream_state, stream_on, 0)
    L.note("stream mode (server)", 690, 550, 70)
    # the model list and the sound list fill their menus: clear, then one append per name
    fill_menu(L, route, 5, menu, 300, 610)
    fill_menu(L, route, 8, sound_menu, 440, 610)

    # -- on load: ask for the model and its list; poll the status twice a second
    lb = L.obj("loadbang", 660, 500)
    poll_on = L.ui("toggle", 660, 530, 22, 22)
    L.note("poll status", 690, 530, 80)
    metro = L.obj("qmetro 500", 660, 560)
    st = L.msg(addr("/status"), 660, 590, 60)
    L.wire(lb, poll_on)
    L.wire(lb, ask)
    L.wire(lb, info)
    L.wire(poll_on, metro)
    L.wire(metro, st)
    L.wire(st, send)
    L.save()


def buffer_patch(path: Path) -> None:
    L = Layout(path, "gesturegan.buffer", 780, 520)
    L.note(
        "Render gestures to files, load them into a buffer~, play them with groove~: Max-side DSP takes over.",
        20,
        10,
        700,
    )
    L.note("needs: gesturegan serve --render-dir DIR", 20, 30, 400)
    send, recv = network(L, 420, 60)
    L.note("render one gesture of", 20, 60, 200)
    for i, name in enumerate(CATEGORIES):
        L.wire(L.msg(f"{addr('/render')} {name} 1", 20, 84 + i * 28, 260), send)
    route = L.obj(f"route {reply('/rendered')} {reply('/error')}", 420, 240, 180)
    L.wire(recv, route)
    load = L.obj("prepend replace", 420, 272)
    L.wire(route, load, 0)
    err = L.obj("prepend set", 550, 272)
    shown = L.msg("", 650, 272, 120)
    L.wire(route, err, 1)
    L.wire(err, shown)
    buf = L.obj("buffer~ gesturegan-render", 420, 304, 170)
    L.wire(load, buf)
    L.note("right outlet: the file is read", 420, 330, 200)
    restart = L.msg("0", 420, 356, 30)  # groove~: a float jumps to that many ms, so 0 = play from the start
    L.wire(buf, restart, 1)
    rate = L.obj("sig~ 1", 470, 356)
    groove = L.obj("groove~ gesturegan-render 2", 420, 390, 180)
    L.wire(restart, groove)
    L.wire(rate, groove)
    lb = L.obj("loadbang", 620, 356)
    once = L.msg("loop 0", 620, 390, 50)
    L.wire(lb, once)
    L.wire(once, groove)
    gain = L.obj("*~ 0.8", 420, 420)
    gain_r = L.obj("*~ 0.8", 500, 420)
    dac = L.ui("ezdac~", 420, 450, 45, 45)
    L.wire(groove, gain, 0)
    L.wire(groove, gain_r, 1)
    L.wire(gain, dac, 0, 0)
    L.wire(gain_r, dac, 0, 1)
    L.save()


def midi_patch(path: Path) -> None:
    L = Layout(path, "gesturegan.midi", 860, 520)
    L.note(
        "A MIDI controller through Max: notes 36-39 (and every octave up) trigger, CC1/CC2 morph,",
        20,
        10,
        700,
    )
    L.note(
        "CC7 gain, CC64 holds stream mode, pitch bend is the playback rate. (The server also takes MIDI directly.)",
        20,
        30,
        700,
    )
    send, _ = network(L, 520, 60)
    notes = L.obj("notein", 20, 70)
    strip = L.obj("stripnote", 20, 100)
    L.wire(notes, strip, 0, 0)
    L.wire(notes, strip, 1, 1)
    vel = L.obj("/ 127.", 120, 130)
    L.wire(strip, vel, 1)
    which = L.obj("- 36", 20, 130)
    octave = L.obj("% 12", 20, 160)
    sel = L.obj("sel 0 1 2 3", 20, 190, 100)
    L.wire(strip, which, 0)
    L.wire(which, octave)
    L.wire(octave, sel)
    for i, name in enumerate(CATEGORIES):
        hold = L.obj("f", 20 + i * 120, 220, 40)
        L.wire(sel, hold, i)
        L.wire(vel, hold, 0, 1)
        m = L.msg(f"{addr('/trigger')} {name} $1", 20 + i * 120, 250, 115)
        L.wire(hold, m)
        L.wire(m, send)
    x_in, y_in = L.obj("ctlin 1", 20, 300), L.obj("ctlin 2", 120, 300)
    sx, sy = L.obj("/ 127.", 20, 330), L.obj("/ 127.", 120, 330)
    xy = L.obj("pak 0.5 0.5", 20, 360)
    morph = L.msg(f"{addr('/morph')} $1 $2", 20, 390)
    L.wire(x_in, sx)
    L.wire(y_in, sy)
    L.wire(sx, xy)
    L.wire(sy, xy, 0, 1)
    L.wire(xy, morph)
    L.wire(morph, send)
    vol = L.obj("ctlin 7", 240, 300)
    db = L.obj("scale 0 127 -60. 0.", 240, 330, 140)
    gain = L.msg(f"{addr('/gain')} $1", 240, 360)
    L.wire(vol, db)
    L.wire(db, gain)
    L.wire(gain, send)
    hold_in = L.obj("ctlin 64", 400, 300)
    held = L.obj("> 63", 400, 330)
    change = L.obj("change", 400, 360)
    sel2 = L.obj("sel 1 0", 400, 390)
    L.wire(hold_in, held)
    L.wire(held, change)
    L.wire(change, sel2)
    for outlet, path_, x in ((0, "/stream/start", 400), (1, "/stream/stop", 500)):
        m = L.msg(addr(path_), x, 420, 95)
        L.wire(sel2, m, outlet)
        L.wire(m, send)
    bend = L.obj("bendin", 620, 300)
    semis = L.obj("scale 0 127 -2. 2.", 620, 330, 130)
    rate = L.obj("expr pow(2.\\, $f1 / 12.)", 620, 360, 160)
    m = L.msg(f"{addr('/rate')} $1", 620, 390)
    L.wire(bend, semis)
    L.wire(semis, rate)
    L.wire(rate, m)
    L.wire(m, send)
    L.save()


def help_patch(path: Path) -> None:
    """Tabbed help (as Max's own): basic, buffer, midi, and the address table from the spec."""
    from gesturegan.server.core.commands import describe, describe_replies

    top = Patcher(str(path), title="gesturegan", layout="grid", on_invalid="raise")
    top.rect = [60.0, 80.0, 1040.0, 760.0]
    top.add_comment("gesturegan", patching_rect=[10, 10, 300, 30], fontsize=20.0)
    top.add_comment(
        "Generated sound gestures, played live from a model the server runs. Open a tab.",
        patching_rect=[10, 44, 600, 20],
    )
    tabs = [
        (
            "basic",
            "gesturegan.maxpat",
            1000,
            700,
            "The control surface. Start `gesturegan serve` in a terminal, then play.",
        ),
        (
            "buffer",
            "gesturegan.buffer.maxpat",
            760,
            480,
            "Render to files and play them from a buffer~ (serve --render-dir DIR).",
        ),
        ("midi", "gesturegan.midi.maxpat", 860, 520, "A MIDI controller mapped through Max."),
    ]
    for i, (name, patch, w, h, text) in enumerate(tabs):
        box = top.add_subpatcher(
            f"p {name}", patching_rect=[10 + i * 90, 80, 80, 22], numinlets=0, numoutlets=0, outlettype=[]
        )
        sub = box.subpatcher
        sub.showontab = 1
        sub.rect = [0.0, 26.0, w + 40.0, h + 80.0]
        sub.add_comment(text, patching_rect=[10, 10, 700, 20])
        sub.add_bpatcher(patch, patching_rect=[10, 40, w, h], numinlets=0, numoutlets=0, outlettype=[])
    box = top.add_subpatcher(
        "p messages", patching_rect=[280, 80, 90, 22], numinlets=0, numoutlets=0, outlettype=[]
    )
    sub = box.subpatcher
    sub.showontab = 1
    sub.rect = [0.0, 26.0, 1040.0, 760.0]
    y = 10
    sub.add_comment(
        "Messages the server accepts (from `gesturegan osc-spec`):", patching_rect=[10, y, 700, 20]
    )
    for row in describe():
        y += 22
        sig = " ".join(a["name"] if a["required"] else f"[{a['name']}]" for a in row["args"])
        sub.add_comment(
            f"{row['address']} {sig}".rstrip() + f"  : {row['help']}", patching_rect=[10, y, 1000, 20]
        )
    y += 34
    sub.add_comment(f"Replies (to udpreceive {DEFAULT_REPLY_PORT}):", patching_rect=[10, y, 700, 20])
    for row in describe_replies():
        y += 22
        sig = " ".join(a["name"] for a in row["args"])
        sub.add_comment(f"{row['address']} {sig}  : {row['help']}", patching_rect=[10, y, 1000, 20])
    save(top)


# -- Pure Data --------------------------------------------------------------------------------
class PdPatch:
    """Pd's text format: objects are numbered by order; ``connect a outlet b inlet``."""

    def __init__(self):
        self.lines = ["#N canvas 40 60 1000 700 12;"]
        self.connects: list[str] = []  # written after every object, as Pd itself saves
        self.count = 0

    def _add(self, kind: str, x: int, y: int, text: str) -> int:
        self.lines.append(f"#X {kind} {x} {y} {text};".replace(" ;", ";"))
        self.count += 1
        return self.count - 1

    def obj(self, x: int, y: int, text: str) -> int:
        return self._add("obj", x, y, pd_escape(text))

    def msg(self, x: int, y: int, text: str) -> int:
        return self._add("msg", x, y, pd_escape(text))

    def text(self, x: int, y: int, text: str) -> int:
        return self._add("text", x, y, text.replace(",", " \\,").replace(";", " \\;"))

    def atom(self, x: int, y: int, lo: float = 0, hi: float = 0) -> int:
        self.lines.append(f"#X floatatom {x} {y} 6 {lo:g} {hi:g} 0 - - - 0;")
        self.count += 1
        return self.count - 1

    def wire(self, a: int, b: int, outlet: int = 0, inlet: int = 0) -> None:
        self.connects.append(f"#X connect {a} {outlet} {b} {inlet};")

    def text_out(self) -> str:
        return "\n".join(self.lines + self.connects) + "\n"


def pd_escape(text: str) -> str:
    """A box's text as a ``.pd`` file holds it: ``$1`` is saved ``\\$1`` and a comma ``\\,``.

    Pd reads an unescaped ``$1`` in a file as an argument of the *patch* (out of range for a
    top-level patch, so the box sends 0), not of the message the box receives."""
    return text.replace("$", "\\$").replace(",", " \\,").replace(";", " \\;")


def receive_name(path: str) -> str:
    """The ``[r]`` name a control listens on: ``/stream/start`` -> ``gesturegan-stream-start``."""
    return "gesturegan-" + path.strip("/").replace("/", "-")


def pd_osc(path: str) -> str:
    """``/latent/seed`` -> ``oscformat latent seed`` (oscformat takes the address's parts)."""
    return "oscformat " + " ".join(addr(path).strip("/").split("/"))


def pd_patch(path: Path) -> None:
    P = PdPatch()
    P.text(20, 10, "gesturegan control surface for Pd vanilla. Start the server first: gesturegan serve")
    P.text(
        20,
        600 + 40,
        "Every control also listens on a [r gesturegan-NAME] (NAME as labelled: velocity, trigger-mix, "
        "morph-x, stream-start, like takes 'symbol FILE'...), so another patch or pd -send can play it. "
        "gesturegan-port PORT reconnects to a server on another --port.",
    )
    lb = P.obj(700, 10, "loadbang")
    port = P.msg(700, 40, f"{DEFAULT_OSC_PORT}")
    conn = P.msg(700, 60, "disconnect, connect localhost $1")
    net = P.obj(700, 80, "netsend -u -b")
    P.wire(lb, port)
    P.wire(port, conn)
    P.wire(P.obj(790, 40, "r gesturegan-port"), conn)
    P.wire(conn, net)

    def listen(target: int, path_: str, x: int, y: int) -> None:
        """``[r gesturegan-NAME]`` into a control's inlet: it then acts as if clicked or typed."""
        P.wire(P.obj(x, y, f"r {receive_name(path_)}"), target)

    def send(source: int, path_: str, x: int, y: int) -> None:
        fmt = P.obj(x, y, pd_osc(path_))
        P.wire(source, fmt)
        P.wire(fmt, net)

    P.text(20, 40, "velocity")
    vel = P.atom(100, 40, 0, 1)
    init = P.msg(160, 40, "1")
    P.wire(lb, init)
    P.wire(init, vel)
    listen(vel, "/velocity", 200, 40)
    for i, name in enumerate((*CATEGORIES, "mix")):
        x = 20 + i * 135
        bang = P.obj(x, 70, "bng 25 250 50 0 empty empty empty 0 -8 0 10 #fcfcfc #000000 #000000")
        hold = P.obj(x, 105, "f")
        P.wire(bang, hold)
        P.wire(vel, hold, 0, 1)
        m = P.msg(x, 135, f"list {name} $1")
        P.wire(hold, m)
        send(m, "/trigger", x, 165)
        P.text(x + 30, 70, name)
        listen(bang, f"/trigger/{name}", x + 60, 105)
    P.text(
        20,
        210,
        "morph x y (trigger at 0 0 / trigger_continuous 1 0 / continuous_variation 0 1 / continuous_repetition 1 1)",
    )
    mx, my = P.atom(20, 240, 0, 1), P.atom(100, 240, 0, 1)
    pack = P.obj(20, 270, "pack 0.5 0.5")
    trig = P.obj(100, 270, "t b f")
    P.wire(mx, pack)
    P.wire(my, trig)
    P.wire(trig, pack, 1, 1)
    P.wire(trig, pack, 0, 0)
    send(pack, "/morph", 20, 300)
    listen(mx, "/morph/x", 180, 240)
    listen(my, "/morph/y", 330, 240)
    settings = [
        ("position", "/position", 0, 1),
        ("seed", "/latent/seed", 0, 0),
        ("jitter", "/latent/jitter", 0, 4),
        ("walk", "/latent/walk", 0, 10),
        ("density", "/stream/density", 0, 64),
        ("gain dB", "/gain", -120, 24),
        ("rate", "/rate", 0.25, 4),
    ]
    for i, (label, path_, lo, hi) in enumerate(settings):
        x = 20 + i * 110
        P.text(x, 340, label)
        a = P.atom(x, 365, lo, hi)
        send(a, path_, x, 395)
        listen(a, path_.removeprefix("/latent").removeprefix("/stream"), x, 320)
    for i, path_ in enumerate(
        ("/stream/start", "/stream/stop", "/stop", "/panic", "/status", "/model/info", "/model/list")
    ):
        x = 20 + i * 110
        m = P.msg(x, 440, "list")
        P.text(x, 420, path_)
        send(m, path_, x, 470)
        listen(m, path_, x + 40, 440)
    # a real sound to vary (serve --sounds DIR): type its name; jitter above sets the amount
    P.text(20, 510, "sound to vary: type a file name of serve --sounds DIR")
    P.lines.append("#X symbolatom 20 535 20 0 0 0 - - - 0;")
    name_box = P.count
    P.count += 1
    as_list = P.obj(20, 565, "list")  # symbol name -> list name, which oscformat sends
    P.wire(name_box, as_list)
    send(as_list, "/like", 20, 595)
    listen(name_box, "/like", 130, 565)
    for i, path_ in enumerate(("/like/list", "/like/off")):
        x = 240 + i * 110
        m = P.msg(x, 535, "list")
        P.text(x, 510, path_)
        send(m, path_, x, 565)
        listen(m, path_, x + 40, 535)
    # replies: oscparse gives the address parts as symbols, then the arguments
    rcv = P.obj(700, 120, f"netreceive -u -b {DEFAULT_REPLY_PORT}")
    parse = P.obj(700, 150, "oscparse")
    trim = P.obj(700, 180, "list trim")
    route = P.obj(700, 210, "route status error voice model rendered like stream")
    P.wire(rcv, parse)
    P.wire(parse, trim)
    P.wire(trim, route)
    for r in (
        "/status",
        "/error",
        "/voice/start",
        "/voice/end",
        "/model/info",
        "/model/list",
        "/rendered",
        "/like",
        "/like/list",
        "/stream",
    ):
        reply(r)
    status = P.obj(700, 240, "unpack 0 0 0 0 0 0")
    P.wire(route, status, 0)
    for j, label in enumerate(("voices", "triggers", "misses", "errors", "late", "xruns")):
        a = P.atom(700 + j * 55, 270)
        P.wire(status, a, j)
        P.text(700 + j * 55, 295, label)
    err = P.obj(700, 330, "print gesturegan-error")
    P.wire(route, err, 1)
    voice = P.obj(700, 360, "route start end")
    P.wire(route, voice, 2)
    P.wire(voice, P.obj(700, 390, "print voice-start"), 0)
    model = P.obj(850, 360, "route info list")
    P.wire(route, model, 3)
    P.wire(model, P.obj(850, 390, "print model"), 0)
    P.wire(model, P.obj(850, 420, "print models"), 1)
    P.wire(route, P.obj(700, 450, "print rendered"), 4)
    P.wire(route, P.obj(700, 480, "print sound"), 5)
    P.wire(route, P.obj(850, 480, "print stream"), 6)
    path.write_text(P.text_out(), encoding="utf-8")


def main(out: Path = HERE) -> int:
    (out / "patchers").mkdir(parents=True, exist_ok=True)
    (out / "help").mkdir(parents=True, exist_ok=True)
    (out / "pd").mkdir(parents=True, exist_ok=True)
    control_surface(out / "patchers" / "gesturegan.maxpat")
    buffer_patch(out / "patchers" / "gesturegan.buffer.maxpat")
    midi_patch(out / "patchers" / "gesturegan.midi.maxpat")
    help_patch(out / "help" / "gesturegan.maxhelp")
    pd_patch(out / "pd" / "gesturegan.pd")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
