"""Interpretable gesture features: the energy envelope and spectrum of one sound.

The four gesture categories are defined by energy profiles (see DESIGN.md), so the
features describe the envelope first (attack, decay, temporal centroid, periodicity,
onset rate) and the spectrum second (centroid, flatness, flux and its variation).
Each feature is a float with a name in :data:`FEATURE_NAMES`; numpy only, no torch,
so ``classify`` works on the runtime install.
"""

from __future__ import annotations

import numpy as np

#: Rate the features are computed at; a fixed rate keeps them comparable across files.
FEATURE_RATE = 22050
FRAME = 1024
HOP = 256
_EPS = 1e-10
_ACTIVE_DB = 40.0  # a frame is "active" when within this many dB of the peak frame

FEATURE_NAMES: tuple[str, ...] = (
    "log_duration",  # whole file, seconds (log)
    "log_active_duration",  # onset to last active frame
    "log_attack",  # onset to peak
    "log_decay20",  # peak to first frame 20 dB below it
    "decay20_ratio",  # decay20 / active duration
    "temporal_centroid",  # energy centroid, relative to the active span [0, 1]
    "log_temporal_centroid",  # energy centroid after onset, seconds (log)
    "late_early_db",  # energy of the second half of the active span vs the first
    "frac_above_10db",  # share of active frames within 10 dB of the peak
    "frac_above_20db",
    "env_slope",  # dB/s fitted from the peak to the end, clipped
    "env_std_db",  # spread of the active envelope in dB
    "env_periodicity",  # best local autocorrelation peak of the detrended envelope
    "onset_periodicity",  # same, of the onset strength (spectral flux): loops, rolls
    "env_fluctuation",  # std of the detrended log envelope, dB
    "end_db",  # level at the last active frames relative to the peak
    "spectral_stationarity",  # correlation of first-half and second-half spectra
    "onset_rate",  # onsets per second over the active span (log1p)
    "spectral_centroid",  # mean, in kHz
    "centroid_variation",  # std / mean of the centroid over active frames
    "spectral_flatness",  # mean, 0 (tonal) .. 1 (noise)
    "flux_mean",  # mean positive spectral flux, normalised
    "flux_variation",  # std / mean of that flux
    "zero_crossing_rate",
    "peak_position",  # position of the peak frame in the whole file [0, 1]
    "crest_db",  # peak frame vs mean active frame energy
)


def _frames(x: np.ndarray) -> np.ndarray:
    """Frame a mono signal ``[T]`` into ``[F, FRAME]`` (zero-padded to at least one frame)."""
    if x.shape[0] < FRAME:
        x = np.pad(x, (0, FRAME - x.shape[0]))
    n = 1 + (x.shape[0] - FRAME) // HOP
    return np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP][:n]


def _log(x: float) -> float:
    return float(np.log(max(x, 1e-4)))


def _periodicity(signal: np.ndarray, hop_s: float) -> float:
    """Height of the best local autocorrelation peak at lags 0.1–2 s, in [0, 1]; 0 if too short."""
    x = signal - signal.mean()
    lo, hi = max(int(0.1 / hop_s), 2), min(int(2.0 / hop_s), x.shape[0] // 2)
    if hi <= lo + 2 or not np.any(x):
        return 0.0
    ac = np.correlate(x, x, mode="full")[x.shape[0] - 1 :]
    ac = ac / ac[0]
    seg = ac[lo - 1 : hi + 1]
    peaks = (seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])
    return float(np.clip(seg[1:-1][peaks].max(initial=0.0), 0.0, 1.0))


def gesture_features(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Feature vector ``[len(FEATURE_NAMES)]`` of one mono sound ``[T]`` at ``sample_rate``.

    ``mono`` must already be at :data:`FEATURE_RATE` for comparable values; use
    :func:`features_from_audio` to go from any ``[C, T]`` signal.
    """
    hop_s = HOP / sample_rate
    frames = _frames(mono.astype(np.float64))
    rms = np.sqrt(np.mean(frames**2, axis=1) + _EPS)
    env_db = 20 * np.log10(rms)
    peak = int(np.argmax(env_db))
    peak_db = env_db[peak]
    active = env_db > peak_db - _ACTIVE_DB
    idx = np.flatnonzero(active)
    onset, end = int(idx[0]), int(idx[-1])
    span = env_db[onset : end + 1]
    n_span = span.shape[0]
    energy = rms[onset : end + 1] ** 2

    active_dur = n_span * hop_s
    attack = (peak - onset) * hop_s + hop_s
    below = np.flatnonzero(env_db[peak:] < peak_db - 20)
    decay20 = (below[0] if below.size else env_db.shape[0] - peak) * hop_s
    t = np.arange(n_span)
    centroid = float((t * energy).sum() / energy.sum())
    half = max(n_span // 2, 1)
    late_early = 10 * np.log10((energy[half:].sum() + _EPS) / (energy[:half].sum() + _EPS))
    tail = env_db[peak : end + 1]
    slope = float(np.polyfit(np.arange(tail.shape[0]) * hop_s, tail, 1)[0]) if tail.shape[0] >= 3 else -200.0
    slope = float(np.clip(slope, -200.0, 50.0))

    spec = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) + _EPS
    freqs = np.fft.rfftfreq(FRAME, 1 / sample_rate)
    spec_a = spec[onset : end + 1]
    sc = (spec_a * freqs).sum(axis=1) / spec_a.sum(axis=1)
    flat = np.exp(np.mean(np.log(spec_a), axis=1)) / np.mean(spec_a, axis=1)
    logspec = np.log(spec_a)
    flux = np.maximum(np.diff(logspec, axis=0), 0).mean(axis=1) if n_span > 1 else np.zeros(1)
    flux_mean = float(flux.mean())
    flux_var = float(flux.std() / (flux_mean + 1e-6))
    # Onsets: peaks of the flux above its median plus a margin, at least 50 ms apart.
    onsets = 0
    if flux.shape[0] >= 3:
        thr = np.median(flux) + 0.5 * flux.std() + 0.05
        last = -(10**9)
        gap = max(int(0.05 / hop_s), 1)
        for i in range(1, flux.shape[0] - 1):
            if flux[i] > thr and flux[i] >= flux[i - 1] and flux[i] >= flux[i + 1] and i - last >= gap:
                onsets += 1
                last = i
    zc = np.mean(np.abs(np.diff(np.signbit(frames[onset : end + 1]), axis=1)))

    # Repetition: loops and rolls repeat their onsets and envelope, one-shots do not.
    # Detrend the log envelope (remove its slow shape) so a plain decay is not "periodic".
    smooth = max(int(0.25 / hop_s), 1)
    padded = np.pad(span, (smooth // 2, smooth - 1 - smooth // 2), mode="edge")
    detrended = span - np.convolve(padded, np.ones(smooth) / smooth, mode="valid")
    env_periodicity = _periodicity(detrended, hop_s)
    onset_periodicity = _periodicity(np.concatenate([[0.0], flux]), hop_s)
    fluctuation = float(detrended[smooth // 2 : n_span - smooth // 2].std()) if n_span > smooth else 0.0
    # Held and looping sounds end near full level (often cut mid-loop); one-shots decay away.
    end_db = float(np.clip(env_db[end - min(3, end - onset)] - peak_db, -_ACTIVE_DB, 0.0))
    # Spectral stationarity: how alike the spectra of the first and second half are.
    stationarity = 1.0
    if n_span > 1:
        h = n_span // 2
        first, second = logspec[:h].mean(axis=0), logspec[h:].mean(axis=0)
        stationarity = float(np.corrcoef(first, second)[0, 1])

    return np.array(
        [
            _log(mono.shape[0] / sample_rate),
            _log(active_dur),
            _log(attack),
            _log(decay20),
            decay20 / max(active_dur, hop_s),
            centroid / max(n_span - 1, 1),
            _log(centroid * hop_s + hop_s),
            float(np.clip(late_early, -60, 60)),
            float(np.mean(span > peak_db - 10)),
            float(np.mean(span > peak_db - 20)),
            slope,
            float(span.std()),
            env_periodicity,
            onset_periodicity,
            fluctuation,
            end_db,
            stationarity,
            float(np.log1p(onsets / max(active_dur, hop_s))),
            float(sc.mean() / 1000),
            float(sc.std() / (sc.mean() + 1e-6)),
            float(flat.mean()),
            flux_mean,
            flux_var,
            float(zc),
            peak / max(env_db.shape[0] - 1, 1),
            float(peak_db - 10 * np.log10(energy.mean() + _EPS)),
        ],
        dtype=np.float32,
    )


def features_from_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of ``[C, T]`` or ``[T]`` audio at any rate (mixed to mono, resampled)."""
    from gesturegan.training.audio import resample

    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    mono = resample(mono[None].astype(np.float32), sample_rate, FEATURE_RATE)[0]
    return gesture_features(mono, FEATURE_RATE)
