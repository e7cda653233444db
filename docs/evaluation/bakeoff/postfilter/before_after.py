"""Spectrograms of the example WAVs beside each other: the shipped decoder without and with its postfilter.

python docs/evaluation/bakeoff/postfilter/before_after.py   (writes examples/before-after.png)
"""

from pathlib import Path

import librosa
import librosa.display
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

HERE = Path(__file__).parent / "examples"
CATEGORIES = ("trigger", "trigger_continuous", "continuous_variation")
fig, axes = plt.subplots(len(CATEGORIES), 2, figsize=(10, 8), sharex=True, sharey=True)
for row, category in enumerate(CATEGORIES):
    for col, when in enumerate(("before", "after")):
        audio, rate = sf.read(HERE / f"{category}-{when}.wav", dtype="float32")
        power = np.abs(librosa.stft(audio, n_fft=4096, hop_length=512)) ** 2
        db = librosa.power_to_db(power, ref=power.max(), top_db=90)
        ax = axes[row, col]
        librosa.display.specshow(
            db, sr=rate, hop_length=512, x_axis="time", y_axis="log", ax=ax, cmap="magma"
        )
        ax.set_ylim(40, 16000)
        ax.set_title(f"{category}, {'without' if when == 'before' else 'with'} the postfilter", fontsize=9)
fig.tight_layout()
fig.savefig(HERE / "before-after.png", dpi=80)
