"""A second measurement space that no model is selected on: what a listener would notice.

The checkpoint score and ``evaluate``'s first figures live in the shipped gesture
classifier's feature space. A model selected on that space can learn its blind spots, so
``evaluate`` also measures in this one, computed with librosa and fitted on the real clips
only:

- per clip: 40 log-mel band means and deviations, the RMS envelope in 16 equal segments
  (dB), spectral flatness and centroid (mean and deviation over frames);
- standardised by the real clips' statistics, then PCA to 16 dimensions (fitted on them);
- a second-opinion classifier: multinomial logistic regression fitted on the real clips,
  with its accuracy on them cross-validated by source file (windows cut from one file
  never sit on both sides of a fold).

Shapes: audio ``[N, C, T]``; descriptors ``[N, 100]``; embeddings ``[N, 16]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_MELS = 40
ENVELOPE_SEGMENTS = 16
PCA_DIMS = 16
ANALYSIS_RATE = 22050
_N_FFT, _HOP = 1024, 256
_ACTIVE_DB = 40.0  # frames within this of the loudest frame count for flatness


@dataclass(frozen=True)
class Descriptors:
    """Per-clip measurements: ``vectors [N, 100]`` for the space, ``flatness [N]`` on its own."""

    vectors: np.ndarray
    flatness: np.ndarray


def describe(audio: np.ndarray, sample_rate: int) -> Descriptors:
    """Descriptors of clips ``[N, C, T]`` (mixed to mono, resampled to 22.05 kHz)."""
    import librosa

    vectors, flatness = [], []
    for clip in np.asarray(audio, dtype=np.float32):
        mono = clip.mean(axis=0) if clip.ndim == 2 else clip
        y = librosa.resample(mono, orig_sr=sample_rate, target_sr=ANALYSIS_RATE, res_type="soxr_hq")
        power = np.abs(librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP)) ** 2  # [F, N]
        mel = librosa.power_to_db(
            librosa.feature.melspectrogram(S=power, sr=ANALYSIS_RATE, n_mels=N_MELS), ref=1.0, amin=1e-10
        )
        rms_db = librosa.amplitude_to_db(
            librosa.feature.rms(S=np.sqrt(power), frame_length=_N_FFT)[0], amin=1e-5
        )
        segments = np.array([s.mean() for s in np.array_split(rms_db, ENVELOPE_SEGMENTS)])
        flat = librosa.feature.spectral_flatness(S=np.sqrt(power))[0]
        centroid = librosa.feature.spectral_centroid(S=np.sqrt(power), sr=ANALYSIS_RATE)[0] / 1000.0
        active = rms_db > rms_db.max() - _ACTIVE_DB
        vectors.append(
            np.concatenate(
                [
                    mel.mean(axis=1),
                    mel.std(axis=1),
                    segments,
                    [
                        flat[active].mean(),
                        flat[active].std(),
                        centroid[active].mean(),
                        centroid[active].std(),
                    ],
                ]
            )
        )
        flatness.append(float(flat[active].mean()))
    return Descriptors(np.asarray(vectors, np.float64), np.asarray(flatness))


@dataclass
class SecondSpace:
    """The space fitted on real clips: standardisation, PCA and the second-opinion classifier."""

    mean: np.ndarray  # [100]
    std: np.ndarray  # [100]
    components: np.ndarray  # [16, 100]
    classifier: object  # sklearn LogisticRegression on embeddings
    categories: list[str]
    cv_accuracy: dict[str, float]  # per category, on the real clips, by source-file folds
    cv_accuracy_overall: float

    def embed(self, vectors: np.ndarray) -> np.ndarray:
        """Descriptor vectors ``[N, 100]`` -> embeddings ``[N, 16]``."""
        return ((vectors - self.mean) / self.std) @ self.components.T

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Probabilities ``[N, K]`` in ``categories`` order."""
        proba = self.classifier.predict_proba(embeddings)
        out = np.zeros((len(embeddings), len(self.categories)))
        out[:, self.classifier.classes_] = proba
        return out


def fit_space(
    vectors: np.ndarray, labels: np.ndarray, groups: list[str], categories: list[str]
) -> SecondSpace:
    """Fit the space and the classifier on real clips ``vectors [N, 100]`` with ``labels [N]``.

    ``groups`` (the source file of each clip) keeps every fold's test files unseen in training.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    mean = vectors.mean(axis=0)
    std = vectors.std(axis=0) + 1e-9
    pca = PCA(n_components=min(PCA_DIMS, len(vectors) - 1, vectors.shape[1]), random_state=0)
    pca.fit((vectors - mean) / std)
    emb = ((vectors - mean) / std) @ pca.components_.T
    clf = LogisticRegression(max_iter=5000, C=1.0)
    folds = min(5, len(set(groups)))
    predicted = cross_val_predict(clf, emb, labels, groups=groups, cv=GroupKFold(folds))
    clf.fit(emb, labels)
    per_category = {
        name: float(np.mean(predicted[labels == k] == k))
        for k, name in enumerate(categories)
        if np.any(labels == k)
    }
    return SecondSpace(
        mean, std, pca.components_, clf, categories, per_category, float(np.mean(predicted == labels))
    )


def nearest_distances(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance ``[N]`` from each row of ``points [N, D]`` to its nearest row of ``reference [M, D]``."""
    d = np.sqrt(((points[:, None, :] - reference[None, :, :]) ** 2).sum(-1))
    return d.min(axis=1)


def leave_source_out_distances(points: np.ndarray, groups: list[str]) -> np.ndarray:
    """Distance ``[N]`` from each real clip to its nearest real clip of *another* source file.

    Leaving one clip out is not enough: other windows of the same file are near copies of it.
    """
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    g = np.asarray(groups)
    d[g[:, None] == g[None, :]] = np.inf
    return d.min(axis=1)
