"""Spectrograms of the example WAVs side by side: the previous default (left) and this one (right).

    python docs/models/default/examples/before_after.py   (writes before-after.png beside it)

The WAVs are ``gesturegan render MODEL --category C --count 1 --seed 100`` of each model, in
``previous/`` and ``this/``.
"""

from pathlib import Path

import librosa
import librosa.display
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

HERE = Path(__file__).parent
CATEGORIES = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")
fig, axes = plt.subplots(len(CATEGORIES), 2, figsize=(10, 10), sharex=True, sharey=True)
for row, category in enumerate(CATEGORIES):
    for col, which in enumerate(("previous", "this")):
        audio, rate = sf.read(HERE / which / f"{category}-000100.wav", dtype="float32")
        power = np.abs(librosa.stft(audio, n_fft=2048, hop_length=256)) ** 2
        db = librosa.power_to_db(power, ref=power.max(), top_db=90)
        ax = axes[row, col]
        librosa.display.specshow(
            db, sr=rate, hop_length=256, x_axis="time", y_axis="log", ax=ax, cmap="magma"
        )
        ax.set_ylim(40, 16000)
        ax.set_title(f"{category}, {'previous default' if which == 'previous' else 'this model'}", fontsize=9)
fig.tight_layout()
fig.savefig(HERE / "before-after.png", dpi=80)
