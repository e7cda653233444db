"""``gesturegan doctor``: what this machine offers the engine, for a bug report.

Every probe is guarded: a missing library or device is reported, never raised. Native
libraries (PortAudio, ALSA, libjack) print their own complaints on file descriptor 2;
those are silenced during a probe and summarised in the report instead. Never imports
torch (its version is read from package metadata).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator

JACK_HOST_API = "JACK Audio Connection Kit"


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C-level writes to fd 2 (libjack, ALSA) inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def audio_report() -> dict:
    """PortAudio host APIs and devices as sounddevice sees them, and whether JACK is up."""
    out: dict = {"sounddevice": _version("sounddevice"), "host_apis": [], "devices": [], "error": None}
    try:
        with quiet_native_stderr():
            import sounddevice as sd

            # PortAudio scans devices once at start; rescan so a JACK server started since is seen.
            sd._terminate()
            sd._initialize()
            out["portaudio"] = sd.get_portaudio_version()[1]
            apis = sd.query_hostapis()
            devices = sd.query_devices()
    except OSError as exc:
        out["error"] = f"PortAudio not found ({exc}); install it: apt-get install libportaudio2"
        return out
    except Exception as exc:  # a broken driver must not stop the rest of the report
        out["error"] = f"PortAudio failed: {exc}"
        return out
    for api in apis:
        out["host_apis"].append({"name": api["name"], "devices": len(api["devices"])})
    for i, d in enumerate(devices):
        out["devices"].append(
            {
                "index": i,
                "name": d["name"],
                "host_api": apis[d["hostapi"]]["name"],
                "inputs": d["max_input_channels"],
                "outputs": d["max_output_channels"],
                "default_samplerate": d["default_samplerate"],
            }
        )
    has_output = any(d["outputs"] > 0 for d in out["devices"])
    out["output_available"] = has_output
    jack = next((a for a in out["host_apis"] if a["name"] == JACK_HOST_API), None)
    out["jack"] = {
        "running": bool(jack and jack["devices"] > 0),
        "server_name": os.environ.get("JACK_DEFAULT_SERVER", "default"),
        "jackd": shutil.which("jackd"),
    }
    return out


def midi_report() -> dict:
    """MIDI ports per rtmidi API (ALSA, JACK, CoreMIDI, Windows MM)."""
    out: dict = {"python-rtmidi": _version("python-rtmidi"), "mido": _version("mido"), "apis": []}
    try:
        import rtmidi
    except ImportError as exc:
        out["error"] = f"python-rtmidi not importable: {exc}"
        return out
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # asking must not spawn a JACK server
    for api in rtmidi.get_compiled_api():
        entry = {"api": rtmidi.get_api_display_name(api), "inputs": [], "outputs": [], "error": None}
        try:
            with quiet_native_stderr():
                mi, mo = rtmidi.MidiIn(api), rtmidi.MidiOut(api)
                entry["inputs"], entry["outputs"] = mi.get_ports(), mo.get_ports()
                mi.delete()
                mo.delete()
        except Exception as exc:  # rtmidi raises its own SystemError subclasses
            entry["error"] = str(exc)
        out["apis"].append(entry)
    return out


def onnx_report() -> dict:
    """onnxruntime build, version and the execution providers compiled in."""
    out: dict = {"package": None, "version": None, "providers": [], "error": None}
    builds = ("onnxruntime-gpu", "onnxruntime", "onnxruntime-directml", "onnxruntime-silicon")
    installed = [f"{d} {_version(d)}" for d in builds if _version(d)]
    out["installed"] = installed
    for dist in builds:
        if _version(dist):
            out["package"] = dist
            break
    try:
        import onnxruntime as ort

        out["version"] = ort.__version__
        out["providers"] = ort.get_available_providers()
        out["device"] = ort.get_device()
        out["loaded_from"] = os.path.dirname(ort.__file__)
    except Exception as exc:
        out["error"] = f"onnxruntime not importable: {exc}"
    return out


def gpu_report() -> dict:
    """NVIDIA GPUs from nvidia-smi, or Apple Silicon; torch's version without importing it."""
    out: dict = {"nvidia": [], "apple_silicon": sys.platform == "darwin" and platform.machine() == "arm64"}
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            res = subprocess.run(
                [smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            out["nvidia"] = [line.strip() for line in res.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired) as exc:
            out["error"] = f"nvidia-smi failed: {exc}"
    out["torch"] = _version("torch")
    return out


def _preempt_model() -> str | None:
    """The kernel's preemption model: the active one (debugfs, where readable), else the one
    asked for on the command line, else the build's default (/proc/config.gz); None if unknown."""
    from pathlib import Path

    with contextlib.suppress(OSError, ValueError):  # "none voluntary (full) lazy"
        text = Path("/sys/kernel/debug/sched/preempt").read_text()
        return text[text.index("(") + 1 : text.index(")")]
    with contextlib.suppress(OSError):
        for word in Path("/proc/cmdline").read_text().split():
            if word.startswith("preempt="):
                return word.split("=", 1)[1]
    with contextlib.suppress(OSError, EOFError):
        import gzip

        config = gzip.decompress(Path("/proc/config.gz").read_bytes()).decode(errors="replace")
        for option, name in (
            ("CONFIG_PREEMPT_RT=y", "rt (PREEMPT_RT)"),
            ("CONFIG_PREEMPT=y", "full"),
            ("CONFIG_PREEMPT_LAZY=y", "lazy"),
            ("CONFIG_PREEMPT_VOLUNTARY=y", "voluntary"),
            ("CONFIG_PREEMPT_NONE=y", "none"),
        ):
            if option in config.splitlines():
                return name
    return None


def realtime_report() -> dict:
    """What the system offers a real-time audio thread (Linux): the kernel's preemption model,
    whether this user may ask for SCHED_FIFO, and whether cyclictest is here to measure the rest.

    A kernel that cannot preempt itself (PREEMPT_NONE/VOLUNTARY, usual on servers and virtual
    machines) holds a real-time thread behind kernel work; audio wants ``preempt=full`` (a
    PREEMPT_DYNAMIC kernel switches at boot) or a PREEMPT_RT kernel."""
    out: dict = {"system": platform.system()}
    if out["system"] != "Linux":
        return out
    version = platform.uname().version
    out["kernel"] = platform.release()
    model = _preempt_model()
    if os.path.exists("/sys/kernel/realtime") or "PREEMPT_RT" in version:
        model = "rt (PREEMPT_RT)"
    out["preempt"] = model
    out["preempt_build"] = next(
        (w for w in ("PREEMPT_RT", "PREEMPT_DYNAMIC", "PREEMPT") if w in version.split()), "none stated"
    )
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
        out["rtprio_limit"] = "unlimited" if soft == resource.RLIM_INFINITY else soft
    except (ImportError, AttributeError, OSError):
        out["rtprio_limit"] = None
    out["is_root"] = os.geteuid() == 0
    out["sched_fifo_allowed"] = out["is_root"] or bool(out["rtprio_limit"])
    out["cyclictest"] = shutil.which("cyclictest")
    return out


def _sched_fifo_words(rt: dict) -> str:
    """Why a real-time priority is (not) allowed, so the limit never reads as a contradiction."""
    if rt.get("is_root"):
        return f"allowed (running as root, which needs no RLIMIT_RTPRIO; yours is {rt['rtprio_limit']})"
    if rt["sched_fifo_allowed"]:
        return f"allowed up to priority {rt['rtprio_limit']} (RLIMIT_RTPRIO)"
    return "not allowed (RLIMIT_RTPRIO 0)"


def collect() -> dict:
    """The whole report as a JSON-able dict."""
    from gesturegan import __version__

    return {
        "gesturegan": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "audio": audio_report(),
        "midi": midi_report(),
        "onnxruntime": onnx_report(),
        "gpu": gpu_report(),
        "realtime": realtime_report(),
        "packages": {d: _version(d) for d in ("numpy", "soundfile", "soxr", "python-osc", "pyo", "onnx")},
    }


def render_text(r: dict) -> str:
    """Human-readable form of :func:`collect`'s report."""
    lines = [
        f"gesturegan {r['gesturegan']}  python {r['python']}  {r['platform']}  {r['cpu_count']} cores",
        "",
    ]
    a = r["audio"]
    lines.append(f"Audio (sounddevice {a.get('sounddevice')}, {a.get('portaudio', 'PortAudio ?')})")
    if a.get("error"):
        lines.append(f"  ! {a['error']}")
    else:
        for api in a["host_apis"]:
            lines.append(f"  host API {api['name']}: {api['devices']} device(s)")
        for d in a["devices"]:
            lines.append(
                f"  [{d['index']}] {d['name']} ({d['host_api']}): {d['inputs']} in, {d['outputs']} out, "
                f"{d['default_samplerate']:.0f} Hz"
            )
        j = a["jack"]
        state = "running" if j["running"] else "not running"
        lines.append(f"  JACK server '{j['server_name']}': {state}; jackd: {j['jackd'] or 'not installed'}")
        if not a["output_available"]:
            lines.append(
                "  ! no audio output device: render to files instead, or start a JACK server "
                "(jackd -d dummy for tests, jackd -d alsa for a sound card)"
            )
    m = r["midi"]
    lines += ["", f"MIDI (python-rtmidi {m.get('python-rtmidi')}, mido {m.get('mido')})"]
    if m.get("error"):
        lines.append(f"  ! {m['error']}")
    for api in m.get("apis", []):
        if api["error"]:
            lines.append(f"  {api['api']}: unavailable ({api['error']})")
        else:
            lines.append(f"  {api['api']}: inputs {api['inputs'] or '[]'}, outputs {api['outputs'] or '[]'}")
    o = r["onnxruntime"]
    lines += ["", f"onnxruntime {o.get('version')} ({o.get('package')})"]
    if o.get("error"):
        lines.append(f"  ! {o['error']}")
    else:
        lines.append(f"  providers compiled in: {', '.join(o['providers'])}")
    if len(o.get("installed", [])) > 1:
        # Both wheels install the same `onnxruntime` module: whichever was installed last wins.
        lines.append(
            f"  ! {' and '.join(o['installed'])} are both installed; they share one module, so the "
            f"one that loads ({o.get('loaded_from')}) may not be the one you think. Keep one: "
            "pip uninstall -y onnxruntime onnxruntime-gpu, then pip install the one you want"
        )
    g = r["gpu"]
    lines += ["", "GPU"]
    if g["nvidia"]:
        lines += [f"  NVIDIA {x}" for x in g["nvidia"]]
    elif g["apple_silicon"]:
        lines.append("  Apple Silicon (CoreML provider where onnxruntime has it)")
    else:
        lines.append("  none found (nvidia-smi absent or no GPU): the engine runs on the CPU")
    lines.append(f"  torch: {g['torch'] or 'not installed (only training and export need it)'}")
    rt = r.get("realtime") or {}
    if rt.get("system") == "Linux":
        lines += ["", f"Real time (kernel {rt['kernel']})"]
        lines.append(
            f"  preemption: {rt['preempt'] or 'model not readable'} (kernel built {rt['preempt_build']}); "
            f"SCHED_FIFO: {_sched_fifo_words(rt)}"
        )
        if not rt["sched_fifo_allowed"]:
            lines.append("  ! JACK cannot run realtime: add yourself to the audio group (rtprio 95)")
        if rt["preempt"] in ("none", "voluntary"):
            lines.append("  ! this kernel may hold audio threads behind its own work: boot with preempt=full")
        lines.append(
            "  measure this machine's real-time floor: "
            + (
                "gesturegan bench (its stress runs cyclictest alongside)"
                if rt["cyclictest"]
                else "install rt-tests (cyclictest), then gesturegan bench"
            )
        )
    lines += ["", "Packages: " + ", ".join(f"{k} {v or '-'}" for k, v in r["packages"].items())]
    return "\n".join(lines)
