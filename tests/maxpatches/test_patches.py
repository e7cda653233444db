"""The Max package and the Pd twin: structure, the server's language, and a real round trip.

Max cannot run here. What is checked instead: the committed patches are exactly what
``maxpatches/build.py`` makes from the current OSC spec; every patch passes ``py2max validate``
and a structural check (ids, lines, port counts); every address sent and every reply routed is
the server's, with matching argument types; and the messages extracted from the patches' message
boxes, played over UDP against a running server, are all accepted and answered.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from gesturegan.server.core.commands import BY_PATH, DEFAULT_OSC_PORT, DEFAULT_REPLY_PORT, REPLY_PATHS

ROOT = Path(__file__).resolve().parents[2] / "maxpatches"
MAX_FILES = sorted([*ROOT.glob("patchers/*.maxpat"), *ROOT.glob("help/*.maxhelp")])
PD_FILE = ROOT / "pd" / "gesturegan.pd"
UI_PORTS = {  # Max's UI objects: (inlets, outlets)
    "message": (2, 1),
    "flonum": (1, 2),
    "number": (1, 2),
    "toggle": (1, 1),
    "button": (1, 1),
    "umenu": (1, 3),
    "pictslider": (2, 2),
    "ezdac~": (2, 0),
    "comment": (1, 0),
    "bpatcher": (0, 0),
}
SPEC_TAGS = {"float": "f", "int": "i", "str": "s"}


def _build_module():
    spec = importlib.util.spec_from_file_location("maxpatches_build", ROOT / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _patchers(patcher: dict, where: str = ""):
    """Every (name, patcher dict) in a file, subpatchers included."""
    yield where or "top", patcher
    for entry in patcher["boxes"]:
        box = entry["box"]
        if "patcher" in box:
            yield from _patchers(box["patcher"], f"{where}/{box.get('text', '')}")


def _boxes(path: Path) -> list[tuple[dict, dict]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(p, e["box"]) for _, p in _patchers(data["patcher"]) for e in p["boxes"]]


def test_committed_patches_are_what_the_generator_makes(tmp_path):
    _build_module().main(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(ROOT) for p in [*MAX_FILES, PD_FILE])
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes(), (
            f"{rel}: run python maxpatches/build.py"
        )


@pytest.mark.parametrize("path", MAX_FILES, ids=lambda p: p.name)
def test_max_patches_validate_and_hold_together(path):
    res = subprocess.run(
        [sys.executable, "-m", "py2max", "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "error" not in res.stdout.lower().replace("0 error(s)", "")
    max_ports = _build_module().max_ports
    data = json.loads(path.read_text(encoding="utf-8"))
    for where, patcher in _patchers(data["patcher"]):
        boxes = {e["box"]["id"]: e["box"] for e in patcher["boxes"]}
        assert len(boxes) == len(patcher["boxes"]), f"{where}: duplicate box ids"
        for box in boxes.values():
            cls = box["maxclass"]
            if cls == "newobj":
                text = box["text"]
                want = (0, 0) if text.startswith("p ") else max_ports(text)
            else:
                want = UI_PORTS[cls]
            assert (box["numinlets"], box["numoutlets"]) == want, f"{where}: {cls} {box.get('text')}"
            assert len(box.get("outlettype", [])) == box["numoutlets"], f"{where}: {box.get('text')}"
        for entry in patcher["lines"]:
            (src, outlet), (dst, inlet) = entry["patchline"]["source"], entry["patchline"]["destination"]
            assert src in boxes and dst in boxes, f"{where}: a line to a missing box"
            assert 0 <= outlet < boxes[src]["numoutlets"], (
                f"{where}: {boxes[src].get('text')} outlet {outlet}"
            )
            assert 0 <= inlet < boxes[dst]["numinlets"], f"{where}: {boxes[dst].get('text')} inlet {inlet}"


def _sources(patcher: dict) -> dict[str, list[tuple[dict, int]]]:
    """For each box id, the (box, outlet) pairs wired into its left inlet."""
    boxes = {e["box"]["id"]: e["box"] for e in patcher["boxes"]}
    into: dict[str, list] = {}
    for entry in patcher["lines"]:
        (src, outlet), (dst, inlet) = entry["patchline"]["source"], entry["patchline"]["destination"]
        if inlet == 0:
            into.setdefault(dst, []).append((boxes[src], outlet))
    return into


def _max_tag(box: dict, outlet: int) -> str:
    """The OSC type udpsend gives a value from this box's outlet."""
    if box["maxclass"] == "flonum":
        return "f"
    if box["maxclass"] == "number":
        return "i"
    if box["maxclass"] == "umenu" and outlet == 1:
        return "s"
    if box["maxclass"] == "newobj" and box["text"].split()[0] in ("f", "pak", "/", "scale", "expr"):
        return "f"  # these Max objects emit floats here (float arguments)
    raise AssertionError(f"unknown value source {box['maxclass']} {box.get('text')}")


def max_messages() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every OSC message the Max patches send: (address, [(literal or $n, tag)])."""
    out = []
    for path in MAX_FILES:
        data = json.loads(path.read_text(encoding="utf-8"))
        for _, patcher in _patchers(data["patcher"]):
            into = _sources(patcher)
            for entry in patcher["boxes"]:
                box = entry["box"]
                text = box.get("text") or ""
                if box["maxclass"] != "message" or not text.startswith("/"):
                    continue
                address, *words = text.split()
                args = []
                for w in words:
                    if w.startswith("$"):
                        feeders = into.get(box["id"], [])
                        assert feeders, f"{text}: nothing fills {w}"
                        src, outlet = feeders[0]
                        args.append((w, _max_tag(src, outlet)))
                    else:
                        args.append(
                            (w, "s" if not re.fullmatch(r"-?[\d.]+", w) else ("f" if "." in w else "i"))
                        )
                out.append((address, args))
    return out


def _tag_fits(spec_type: str, tag: str, pd: bool = False) -> bool:
    if spec_type == "category":
        return tag in ("s", "i")
    if pd and spec_type == "int":
        return tag == "f"  # Pd has only floats; the server takes whole floats for ints
    return SPEC_TAGS[spec_type] == tag


def test_every_max_message_is_in_the_spec_with_matching_types():
    messages = max_messages()
    sent = {a for a, _ in messages}
    assert {"/trigger", "/morph", "/stream/start", "/panic", "/model/load", "/render", "/status"} <= sent
    for address, args in messages:
        assert address in BY_PATH, f"{address} is not an address the server accepts"
        spec = BY_PATH[address].args
        assert len(args) <= len(spec), address
        for (word, tag), arg in zip(args, spec, strict=False):
            assert _tag_fits(arg.kind, tag), f"{address} {word}: {tag} for a {arg.kind}"


def test_max_routes_only_replies_the_server_sends_and_ports_match():
    routed, ports = set(), []
    for path in MAX_FILES:
        for _, box in _boxes(path):
            name, *args = (box.get("text") or " ").split() or [""]
            if box["maxclass"] != "newobj":
                continue
            if name == "route" and any(a.startswith("/") for a in args):
                routed |= set(args)
            if name in ("patcherargs", "udpsend", "udpreceive"):
                ports.append((name, [a for a in args if a.isdigit()]))
    assert routed and routed <= set(REPLY_PATHS), routed - set(REPLY_PATHS)
    for name, nums in ports:
        want = {"patcherargs": [str(DEFAULT_OSC_PORT), str(DEFAULT_REPLY_PORT)]}.get(
            name, [str(DEFAULT_OSC_PORT)] if name == "udpsend" else [str(DEFAULT_REPLY_PORT)]
        )
        assert nums == want, (name, nums)


# -- Pure Data ----------------------------------------------------------------------------------
def pd_objects() -> tuple[list[tuple[str, list[str]]], list[tuple[int, int, int, int]]]:
    objects, lines = [], []
    text = PD_FILE.read_text(encoding="utf-8")
    for record in re.split(r"(?<!\\);\s*\n", text):
        parts = record.replace("\\$", "$").split()  # the file saves $1 as \$1
        if not parts or parts[0] != "#X":
            continue
        if parts[1] == "connect":
            lines.append(tuple(int(x) for x in parts[2:6]))
        elif parts[1] in ("obj", "msg", "text", "floatatom", "symbolatom"):
            objects.append((parts[1], parts[4:]))
    return objects, lines


PD_PORTS = {
    "oscformat": (1, 1),
    "netsend": (1, 2),
    "netreceive": (1, 2),
    "oscparse": (1, 1),
    "loadbang": (0, 1),
}


def pd_messages() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every OSC message the Pd patch sends: (address, [(literal or $n, tag)])."""
    objects, lines = pd_objects()
    into: dict[int, list[int]] = {}
    for a, _, b, inlet in lines:
        if inlet == 0:
            into.setdefault(b, []).append(a)
    out = []
    for i, (kind, words) in enumerate(objects):
        if kind != "obj" or words[0] != "oscformat":
            continue
        address = "/" + "/".join(words[1:])
        for src in into[i]:
            skind, swords = objects[src]
            if skind == "floatatom":
                args = [("$1", "f")]
            elif skind == "obj" and swords == ["list"]:  # a symbol box's name, made a list
                fed = [objects[a][0] for a in into[src]]
                assert fed == ["symbolatom"], fed
                args = [("$1", "s")]
            elif swords[0] == "pack":
                args = [(f"${k + 1}", "f") for k in range(len(swords) - 1)]
            else:
                assert skind == "msg" and swords[0] == "list", swords
                args = [
                    (w, "f" if w.startswith("$") or re.fullmatch(r"-?[\d.]+", w) else "s") for w in swords[1:]
                ]
            out.append((address, args))
    return out


def test_pd_patch_holds_together_and_speaks_the_servers_language():
    objects, lines = pd_objects()
    assert objects and lines
    for a, outlet, b, _ in lines:
        assert 0 <= a < len(objects) and 0 <= b < len(objects), "a connection to a missing object"
        assert objects[a][0] != "text" and objects[b][0] != "text"
        name = objects[a][1][0] if objects[a][0] == "obj" else None
        if name in PD_PORTS:
            assert outlet < PD_PORTS[name][1]
    sent = set()
    for address, args in pd_messages():
        assert address in BY_PATH, address
        sent.add(address)
        spec = BY_PATH[address].args
        assert len(args) <= len(spec), address
        for (_, tag), arg in zip(args, spec, strict=False):
            assert _tag_fits(arg.kind, tag, pd=True), f"{address}: {tag} for {arg.kind}"
    for kind, words in objects:
        if kind == "obj" and words[0] in ("netsend", "netreceive"):
            assert "-u" in words and "-b" in words
        if kind == "obj" and words[0] == "netreceive":
            assert words[-1] == str(DEFAULT_REPLY_PORT)
        if kind == "msg" and words[0] == "disconnect":
            assert words[-3:] == ["connect", "localhost", "$1"], words
    connect = next(i for i, (k, w) in enumerate(objects) if k == "msg" and w[0] == "disconnect")
    port = [objects[a][1] for a, _, b, _ in lines if b == connect and objects[a][0] == "msg"]
    assert port == [[str(DEFAULT_OSC_PORT)]]  # what loadbang connects to
    assert {"/trigger", "/morph", "/panic", "/stream/start"} <= sent
    # replies: oscparse splits /voice/start into "voice start"; nested routes rebuild the address
    prefix = {i: "" for i, (k, w) in enumerate(objects) if k == "obj" and w[0] == "route"}
    routed = set()
    for a, outlet, b, _ in sorted(lines):
        if objects[a][1][0] == "route" and objects[a][0] == "obj":
            words = objects[a][1][1:]
            if outlet < len(words):
                path = prefix[a] + "/" + words[outlet]
                if objects[b][0] == "obj" and objects[b][1][0] == "route":
                    prefix[b] = path
                else:
                    routed.add(path)
    for b, p in prefix.items():
        if p:
            routed |= {p + "/" + w for w in objects[b][1][1:]}
    assert routed and routed <= set(REPLY_PATHS), routed - set(REPLY_PATHS)


# -- end to end: the patches' messages against a running server ------------------------------
def _value(arg, tag: str, names: list[str]):
    if arg.kind == "str":
        return names[0]
    lo = arg.lo if arg.lo is not None else 0
    hi = arg.hi if arg.hi is not None else lo + 1
    mid = (lo + hi) / 2 if hi - lo < 100 else lo + 1
    return float(mid) if tag == "f" else int(mid)


@pytest.mark.jack
def test_patch_messages_are_accepted_and_answered_by_a_running_server(jack_server, server_models, tmp_path):
    from gesturegan.server.core.engine import EngineConfig
    from gesturegan.server.inference.model import encoder_beside as encoder_path
    from gesturegan.server.inference.model import load_model
    from gesturegan.server.runtime import Live, ServeConfig

    models = tmp_path / "models"
    models.mkdir()
    # The twostage model has an encoder beside it, so /like works after /model/load too.
    shutil.copy(server_models["twostage"], models / "tiny.onnx")
    shutil.copy(encoder_path(server_models["twostage"]), models / "tiny.encoder.onnx")
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2].parent / "shared/corpus/sonic-pi/bd_haus.flac", sounds)
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(0.5)
    serve = ServeConfig(
        osc_port=0,
        reply_port=reply.getsockname()[1],
        hostapi="JACK",
        models_dir=str(models),
        render_dir=str(tmp_path / "renders"),
        sounds_dir=str(sounds),
    )
    live = Live(
        load_model(server_models["twostage"], provider="cpu"), EngineConfig(sample_rate=0), serve
    ).start()
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    messages = max_messages() + pd_messages()  # Pd sends every number as a float
    got: list[tuple] = []
    try:
        for address, args in messages:
            b = OscMessageBuilder(address)
            for (word, tag), arg in zip(args, BY_PATH[address].args, strict=False):
                if word.startswith("$"):
                    value = _value(arg, tag, ["bd_haus.flac" if address == "/like" else "tiny.onnx"])
                else:
                    value = {"i": int, "f": float, "s": str}[tag](word)
                b.add_arg(value, tag)
            out.sendto(b.build().dgram, ("127.0.0.1", live.osc.port))
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                msg = OscMessage(reply.recvfrom(65536)[0])
            except TimeoutError:
                if {"/status", "/model/info", "/model/list", "/rendered", "/voice/start"} <= {
                    g[0] for g in got
                }:
                    break
                continue
            got.append((msg.address, *msg.params))
    finally:
        live.close()
        reply.close()
        out.close()
    errors = [g for g in got if g[0] == "/error"]
    assert not errors, errors
    addresses = {g[0] for g in got}
    assert {"/status", "/model/info", "/model/list", "/rendered", "/voice/start"} <= addresses
    assert ("/model/list", "tiny.onnx") in got
    assert len(list((tmp_path / "renders").glob("*.wav"))) == 4  # one /render per category button


# -- the Pd twin in real Pure Data -------------------------------------------------------------
def _port_free(port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class _Pd:
    """``pd -nogui -nosound`` on the committed patch; ``-send`` plays its controls through their
    ``[r gesturegan-NAME]`` receivers, as a user's clicks or another patch would."""

    def __init__(self, sends: list[str]):
        self.proc = subprocess.Popen(
            [
                "pd",
                "-nogui",
                "-nosound",
                "-nomidi",
                "-stderr",
                "-open",
                str(PD_FILE),
                "-send",
                "; ".join(sends),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        # a thread reads the console: select() on a buffered pipe misses lines already buffered
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, *wanted: str, timeout: float = 20.0) -> list[str]:
        """Pd's console lines once every ``wanted`` prefix has appeared (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.reader.is_alive():
            if all(any(line.startswith(w) for line in list(self.lines)) for w in wanted):
                break
            time.sleep(0.05)
        return list(self.lines)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


@pytest.mark.skipif(shutil.which("pd") is None, reason="needs Pure Data vanilla (Debian: puredata-core)")
def test_the_pd_patch_in_real_pure_data_sends_what_the_user_set_and_shows_the_replies(corpus, tmp_path):
    """The committed patch in Pd itself: it loads without an error line, each control reaches a
    running server with the value set, and the server's replies reach the patch's printers."""
    from gesturegan.server.core.engine import EngineConfig
    from gesturegan.server.core.morph import xy_weights
    from gesturegan.server.inference.model import default_model_path, load_model
    from gesturegan.server.runtime import Live, ServeConfig

    if not _port_free(DEFAULT_REPLY_PORT):
        pytest.skip(f"UDP port {DEFAULT_REPLY_PORT}, where the patch hears replies, is taken here")
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    shutil.copy(corpus / "bd_haus.flac", sounds)
    record = tmp_path / "record"
    serve = ServeConfig(
        osc_port=0,
        reply_port=DEFAULT_REPLY_PORT,
        backend="clock",
        mixer="thread",
        sounds_dir=str(sounds),
        record_dir=str(record),
    )
    live = Live(load_model(default_model_path(), provider="cpu"), EngineConfig(channels=1, block=256), serve)
    live.start()
    engine = live.engine
    categories = engine.info.categories
    sends = [f"gesturegan-port {live.osc.port}", "gesturegan-velocity 0.6"]
    sends += [f"gesturegan-trigger-{name} bang" for name in (*categories, "mix")]
    sends += [
        "gesturegan-velocity 0.25",
        "gesturegan-trigger-trigger bang",
        "gesturegan-like symbol bd_haus.flac",
        "gesturegan-morph-x 0.25",
        "gesturegan-morph-y 0.75",
        "gesturegan-position 0.4",
        "gesturegan-jitter 0.5",
        "gesturegan-walk 2",
        "gesturegan-density 8",
        "gesturegan-gain -6",
        "gesturegan-rate 1.5",
        "gesturegan-stream-start bang",
        "gesturegan-model-info bang",
        "gesturegan-status bang",
    ]
    pd = _Pd(sends)
    try:
        lines = pd.wait_for("voice-start:", "model: twostage", "sound: bd_haus.flac", "stream: 1 8")
    finally:
        pd.close()
    try:
        assert not [line for line in lines if "error" in line.lower()], lines
        assert any(line.startswith("model: twostage 44100") for line in lines), lines
        assert engine.weights == pytest.approx(xy_weights(0.25, 0.75, len(categories)))
        assert engine.position == pytest.approx(0.4)
        assert engine.latent.jitter == pytest.approx(0.5)
        assert engine.latent.walk_speed == pytest.approx(2.0)
        assert engine.stream.on and engine.stream.density == pytest.approx(8.0)
        assert engine.latent.scale is not None  # /like placed the sound
        pd = _Pd([f"gesturegan-port {live.osc.port}", "gesturegan-panic bang"])
        try:
            lines = pd.wait_for("stream: 0")
        finally:
            pd.close()
        assert any(line.startswith("stream: 0 8") for line in lines), lines
        assert not engine.stream.on
    finally:
        live.close()
    events = [json.loads(line) for line in (record / "events.jsonl").read_text().splitlines()]
    actions = [e for e in events if e.get("kind") in ("play", "gain", "rate", "panic")]
    plays = [e for e in actions if e["kind"] == "play"][:6]
    assert [round(p["velocity"], 3) for p in plays] == [0.6] * 5 + [0.25]
    assert [p["name"] for p in plays] == [*categories, "mix", "trigger"]
    gains = [e for e in actions if e["kind"] == "gain"]
    assert gains and gains[0]["value"] == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    assert [e["value"] for e in actions if e["kind"] == "rate"] == [pytest.approx(1.5)]
    assert actions[-1]["kind"] == "panic"
