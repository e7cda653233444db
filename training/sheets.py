"""Pictures of sound: log-magnitude spectrograms laid out as one row per category.

Used by ``prepare`` (the dataset report), and by training and evaluation for generated
sheets, so a composer can see at a glance what each category sounds like. numpy for
the STFT, matplotlib (Agg, no display) for the PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def log_spectrogram(
    mono: np.ndarray, n_fft: int = 1024, hop: int = 256, floor_db: float = -80.0
) -> np.ndarray:
    """Log-magnitude spectrogram ``[n_fft // 2 + 1, frames]`` in dB re the signal's max."""
    if mono.shape[0] < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop]
    mag = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T
    db = 20 * np.log10(mag + 1e-10)
    return np.maximum(db - db.max(), floor_db)


def log_frequency(spec_db: np.ndarray, sample_rate: int, bins: int = 160, f_min: float = 30.0) -> np.ndarray:
    """Resample a linear spectrogram ``[F, T]`` onto ``bins`` log-spaced rows from ``f_min`` to Nyquist.

    Kicks and basses live in the bottom 2% of a linear axis; on a log axis they are visible.
    """
    lin = np.linspace(0, sample_rate / 2, spec_db.shape[0])
    target = np.geomspace(f_min, sample_rate / 2, bins)
    out = np.empty((bins, spec_db.shape[1]))
    for t in range(spec_db.shape[1]):
        out[:, t] = np.interp(target, lin, spec_db[:, t])
    return out


_FREQ_TICKS = (100, 1000, 10000)


def spectrogram_sheet(
    rows: Mapping[str, Sequence[np.ndarray]],
    sample_rate: int,
    path: str | Path,
    title: str = "",
    columns: int = 8,
    captions: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write a PNG grid: one row per category name, up to ``columns`` sounds ``[C, T]`` or ``[T]`` each.

    Written to a temporary name and renamed, so a reader never sees half a picture.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = list(rows)
    n_rows = max(len(names), 1)
    fig, axes = plt.subplots(
        n_rows, columns, figsize=(1.9 * columns, 1.7 * n_rows + 0.6), squeeze=False, constrained_layout=True
    )
    for r, name in enumerate(names):
        sounds = list(rows[name])[:columns]
        for c in range(columns):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(sounds):
                ax.axis("off")
                continue
            x = np.asarray(sounds[c], dtype=np.float64)
            mono = x.mean(axis=0) if x.ndim == 2 else x
            spec = log_frequency(log_spectrogram(mono), sample_rate)
            dur = mono.shape[0] / sample_rate
            ax.imshow(
                spec, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0, extent=(0, dur, 0, 1)
            )
            if captions and name in captions and c < len(captions[name]):
                ax.set_title(captions[name][c], fontsize=6)
            if c == 0:
                ax.set_ylabel(f"{name}\nHz", fontsize=8)
                span = np.log(sample_rate / 2 / 30.0)
                ax.set_yticks([np.log(f / 30.0) / span for f in _FREQ_TICKS], [f"{f:g}" for f in _FREQ_TICKS])
                ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path
