"""``gesturegan demo``: a scripted short performance through the real engine.

The engine runs as ``gesturegan serve`` would (pools, refill worker, OSC over loopback UDP,
recording); a client thread plays the script below as real OSC messages at their times: each
category, a morph sweep across the XY pad, a stream passage riding the latent walk, and a
timetagged phrase sent ahead as one bundle, so it lands sample-accurately. Without ``--play``
the blocks are paced by the wall clock and written to ``demo.wav``; with it they also go to
the sound card. ``demo.png`` shows the spectrogram with every gesture's start marked, and the
folder is a recording: ``gesturegan replay DIR`` renders it again, identically.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import UDPClient

from gesturegan.files import atomic_path, write_text_atomic
from gesturegan.server.core.engine import EngineConfig
from gesturegan.server.inference.model import Model

LEAD_S = 0.25  # the timetagged phrase is sent this far ahead of its first note


@dataclass(frozen=True)
class Cue:
    at: float  # seconds from the start
    address: str
    args: tuple = ()
    bundle: tuple = ()  # (offset_s, address, args) sent together, timetagged from ``at``


def script(categories: Sequence[str]) -> tuple[list[Cue], list[tuple[float, float, str]]]:
    """The performance on a model of ``categories`` (its contract's): cues, and sections
    (start, end, name) for the picture."""
    first, second = categories[0], categories[1 % len(categories)]
    cues: list[Cue] = [Cue(0.0, "/gain", (-3.0,)), Cue(0.0, "/latent/jitter", (0.6,))]
    # 1. each category on its own, across the stereo field
    for i, cat in enumerate(categories[:4]):
        cues.append(Cue(0.3 + 1.5 * i, "/trigger", (cat, 0.9, 0.15 + 0.23 * i)))
    # 2. a morph sweep once round the XY pad, a gesture of the current mix every 0.4 s
    t0 = 6.6
    for k in range(16):
        a = 2 * math.pi * k / 16
        cues.append(Cue(t0 + 0.3 * k, "/morph", (0.5 + 0.45 * math.cos(a), 0.5 + 0.45 * math.sin(a))))
        if k % 2 == 0:
            cues.append(Cue(t0 + 0.3 * k + 0.05, "/trigger", ("mix", 0.75, 0.5 + 0.4 * math.sin(a))))
    # 3. stream: the engine triggers by itself; the morph drifts, the latent walks
    t1 = 12.0
    cues += [
        Cue(t1, "/morph", (0.1, 0.9)),
        Cue(t1, "/stream/density", (5.0,)),
        Cue(t1, "/latent/walk", (1.5,)),
        Cue(t1 + 0.01, "/stream/start"),
        Cue(t1 + 2.0, "/morph", (0.5, 0.9)),
        Cue(t1 + 4.0, "/morph", (0.9, 0.9)),
        Cue(t1 + 4.0, "/stream/density", (9.0,)),
        Cue(t1 + 6.0, "/stream/stop"),
        Cue(t1 + 6.0, "/latent/walk", (0.0,)),
    ]
    # 4. a timetagged phrase: eight triggers an eighth of a second apart, sample-accurate
    t2 = 19.5
    phrase = tuple((k / 8, "/trigger", (first, 0.5 + 0.06 * k, k / 7, 100 + k)) for k in range(8))
    cues.append(Cue(t2, "", bundle=phrase))
    cues.append(Cue(t2 + 1.25, "/trigger", (second, 1.0, 0.5, 7)))
    sections = [
        (0.0, 6.3, "categories"),
        (6.6, 11.6, "morph sweep"),
        (12.0, 18.0, "stream"),
        (19.5, 21.0, "phrase"),
    ]
    return sorted(cues, key=lambda c: c.at), sections


def _message(address: str, args) -> OscMessageBuilder:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a, "i" if isinstance(a, int) else ("f" if isinstance(a, float) else "s"))
    return b


def perform(
    model: Model,
    out: Path,
    play: bool = False,
    device: str | None = None,
    hostapi: str | None = None,
    tail_s: float = 3.0,
    progress=None,
) -> dict:
    """Play the script through a live engine into ``out``; returns a summary."""
    from gesturegan.server.runtime import Live, ServeConfig

    out.mkdir(parents=True, exist_ok=True)
    serve = ServeConfig(
        osc_port=0,
        reply_port=None,
        record_dir=str(out),
        record_audio_name="demo.wav",
        backend="sounddevice" if play else "clock",
        device=device,
        hostapi=hostapi,
    )
    cfg = EngineConfig(sample_rate=0 if play else 48000, channels=2, block=256)
    live = Live(model, cfg, serve).start()
    cues, sections = script(model.info.categories)
    end = cues[-1].at + tail_s
    client = UDPClient("127.0.0.1", live.osc.port)
    sent = []
    t_start = time.time()
    try:
        for cue in cues:
            wait = t_start + cue.at - time.time() - (LEAD_S if cue.bundle else 0.0)
            if wait > 0:
                time.sleep(wait)
            if cue.bundle:
                bundle = OscBundleBuilder(IMMEDIATELY)
                for offset, address, args in cue.bundle:
                    inner = OscBundleBuilder(t_start + cue.at + offset)
                    inner.add_content(_message(address, args).build())
                    bundle.add_content(inner.build())
                    sent.append(
                        {
                            "t": round(cue.at + offset, 4),
                            "address": address,
                            "args": list(args),
                            "timetag": True,
                        }
                    )
                client.send(bundle.build())
            else:
                client.send(_message(cue.address, cue.args).build())
                sent.append({"t": round(cue.at, 4), "address": cue.address, "args": list(cue.args)})
            if progress is not None:
                progress(cue.at / end)
        time.sleep(max(0.0, t_start + end - time.time()))
    finally:
        live.close()
    status = dict(
        zip(("voices", "triggers", "misses", "errors", "late", "xruns"), live.engine.status(), strict=True)
    )
    write_text_atomic(out / "sent.jsonl", "".join(json.dumps(s) + "\n" for s in sent))
    picture(
        out, cfg.sample_rate if not play else live.engine.cfg.sample_rate, sections, model.info.categories
    )
    return {"cues": len(sent), "seconds": end, "sample_rate": live.engine.cfg.sample_rate, **status}


def _starts(out: Path) -> list[tuple[int, str]]:
    """(frame, voice name) of every gesture that started, from the recording's event log."""
    acts, starts = {}, []
    for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        if e.get("kind") == "play":
            acts[e["act"]] = e["name"]
        elif "ran" in e and e["ran"] in acts:
            starts.append((e["frame"], acts[e["ran"]]))
    return starts


def picture(
    out: Path, rate: int, sections: list[tuple[float, float, str]], categories: Sequence[str]
) -> Path:
    """``demo.png``: the log spectrogram with each gesture's start, coloured by category."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    audio, rate = sf.read(str(out / "demo.wav"), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    palette = ("#e4572e", "#f3a712", "#29335c", "#669bbc", "#9b5de5", "#00bbf9", "#f15bb5", "#8d99ae")
    colours = {c: palette[i % len(palette)] for i, c in enumerate(categories)} | {"mix": "#6a994e"}
    fig, ax = plt.subplots(figsize=(14, 5), dpi=100)
    with np.errstate(divide="ignore"):  # silence between gestures is exact zero
        ax.specgram(mono, NFFT=1024, Fs=rate, noverlap=768, cmap="magma", vmin=-140, vmax=-20)
    ax.set_ylim(0, min(rate / 2, 16000))
    ax.set_xlabel("seconds")
    ax.set_ylabel("Hz")
    for start, end, name in sections:
        ax.axvspan(start, end, ymin=0.97, ymax=1.0, color="white", alpha=0.6)
        ax.text(start + 0.05, ax.get_ylim()[1] * 0.93, name, color="white", fontsize=10, weight="bold")
    seen = set()
    for frame, name in _starts(out):
        label = name if name not in seen else None
        seen.add(name)
        ax.axvline(frame / rate, color=colours.get(name, "white"), lw=1.2, alpha=0.9, label=label)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8, title="gesture starts")
    ax.set_title("gesturegan demo: the bundled model, driven over OSC")
    fig.tight_layout()
    target = out / "demo.png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return target


def levels(out: Path) -> dict:
    """Peak and RMS (dBFS) of demo.wav, to say in one line that it sounds."""
    import soundfile as sf

    audio, _ = sf.read(str(out / "demo.wav"), dtype="float32", always_2d=True)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
    db = lambda v: 20 * math.log10(v) if v > 0 else -math.inf  # noqa: E731
    return {"peak_dbfs": round(db(peak), 1), "rms_dbfs": round(db(rms), 1)}
