"""Which audio backend plays, and where its callback runs: one table.

A backend (``jack``: our own JACK client; ``sounddevice``: PortAudio; ``pyo``; ``clock``: no
device, paced by the wall clock) and a placement (``process``: the callback alone in the mixer
process; ``thread``: in the engine's process). ``choose`` resolves ``--mixer auto`` and refuses
what cannot be; ``PLACEMENTS`` says how each pair opens. Opening happens in two steps because
the engine is built between them: ``open_audio`` decides the rate and block (JACK decides its
own) and starts a mixer process when there is one; ``AudioPlan.bind`` connects the output once
the engine and the clock exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from gesturegan.server.audio.backends import (
    AudioError,
    ClockedOutput,
    PyoOutput,
    SoundDeviceOutput,
    find_output,
)

DEFAULT_RATE = 48000  # a backend with no device of its own to ask (clock; pyo off JACK)


@dataclass(frozen=True)
class Placement:
    backend: str  # jack, sounddevice, pyo, clock
    in_process: bool  # the callback alone in the mixer process


@dataclass
class AudioPlan:
    """What ``open_audio`` decided: the engine's config (rate and block as the backend wants
    them), the mixer process if any (the engine's ``mixer``), and how to bind the output."""

    engine_cfg: object  # EngineConfig
    mixer: object | None  # MixerProcess
    bind: Callable  # (engine, clock, recording) -> the audio output


def choose(backend: str, mixer: str) -> Placement:
    """``--backend`` and ``--mixer`` (auto, process, thread) to a row of ``PLACEMENTS``."""
    can_process = os.name == "posix" and any(p.backend == backend and p.in_process for p in PLACEMENTS)
    in_process = mixer == "process" or (mixer == "auto" and can_process)
    placement = Placement(backend, in_process)
    if placement not in PLACEMENTS:
        if in_process:
            raise AudioError(f"--mixer process plays through jack or sounddevice, not {backend}")
        raise AudioError(f"unknown audio backend {backend!r}")
    return placement


def _jack_in_mixer(serve, cfg) -> AudioPlan:
    from gesturegan.server.audio.mixer import MixerProcess

    mixer = MixerProcess(channels=cfg.channels)  # asks the JACK server for its rate and block
    cfg = replace(cfg, sample_rate=mixer.samplerate, block=mixer.blocksize)
    return AudioPlan(cfg, mixer, lambda engine, clock, rec: mixer.bind(engine, clock, rec))


def _jack_here(serve, cfg) -> AudioPlan:
    from gesturegan.server.audio.jack import JackOutput

    out = JackOutput(channels=cfg.channels)  # the server decides rate and block
    cfg = replace(cfg, sample_rate=out.samplerate, block=out.blocksize)
    return AudioPlan(cfg, None, lambda engine, clock, rec: out.bind(engine, clock, tap=_tap(rec)))


def _device_rate(cfg, device) -> object:
    """The device's own rate when none was asked for (gestures are resampled to it)."""
    if cfg.sample_rate:
        return cfg
    import sounddevice as sd

    return replace(cfg, sample_rate=int(sd.query_devices(device)["default_samplerate"]))


def _sounddevice_in_mixer(serve, cfg) -> AudioPlan:
    from gesturegan.server.audio.mixer import MixerProcess

    device = find_output(serve.device, serve.hostapi)
    cfg = _device_rate(cfg, device)
    mixer = MixerProcess(
        channels=cfg.channels,
        backend="sounddevice",
        device=device,
        hostapi=serve.hostapi,
        samplerate=cfg.sample_rate,
        blocksize=cfg.block,
    )
    return AudioPlan(cfg, mixer, lambda engine, clock, rec: mixer.bind(engine, clock, rec))


def _sounddevice_here(serve, cfg) -> AudioPlan:
    device = find_output(serve.device, serve.hostapi)
    cfg = _device_rate(cfg, device)
    return AudioPlan(
        cfg, None, lambda engine, clock, rec: SoundDeviceOutput(engine, clock, device, tap=_tap(rec))
    )


def _pyo_here(serve, cfg) -> AudioPlan:
    if not cfg.sample_rate:
        cfg = replace(cfg, sample_rate=_pyo_rate(serve.hostapi))
    return AudioPlan(
        cfg, None, lambda engine, clock, rec: PyoOutput(engine, clock, serve.hostapi, tap=_tap(rec))
    )


def _clock_here(serve, cfg) -> AudioPlan:
    if not cfg.sample_rate:
        cfg = replace(cfg, sample_rate=DEFAULT_RATE)
    return AudioPlan(cfg, None, lambda engine, clock, rec: ClockedOutput(engine, clock, tap=_tap(rec)))


PLACEMENTS: dict[Placement, Callable] = {
    Placement("jack", True): _jack_in_mixer,
    Placement("jack", False): _jack_here,
    Placement("sounddevice", True): _sounddevice_in_mixer,
    Placement("sounddevice", False): _sounddevice_here,
    Placement("pyo", False): _pyo_here,
    Placement("clock", False): _clock_here,
}


def open_audio(serve, cfg) -> AudioPlan:
    """Open the audio side ``serve`` (a ServeConfig) asks for, for an engine of ``cfg``."""
    return PLACEMENTS[choose(serve.backend, serve.mixer)](serve, cfg)


def _tap(recording):
    return recording.push if recording is not None else None


def _pyo_rate(hostapi: str | None) -> int:
    """pyo's JACK backend must run at the JACK server's rate."""
    if hostapi and "jack" in hostapi.lower():
        try:
            import jack

            client = jack.Client("gesturegan-probe", no_start_server=True)
            rate = client.samplerate
            client.close()
            return rate
        except Exception:
            return DEFAULT_RATE
    return DEFAULT_RATE
