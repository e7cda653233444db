"""Pitch tracks for the harmonic branch: librosa's pYIN per clip, computed once and cached.

A decoder cannot find a partial's frequency from a spectral loss alone (its gradient with
respect to frequency is flat away from the target: Engel et al. 2020, DDSP, trained on tracked
f0 for that reason). So the harmonic branch's f0 is taught from pYIN's track of each training
clip, one value per STFT frame of the generator, weighted by pYIN's voicing probability.

The track takes about two seconds per clip on one core, so it is written once beside the
prepared data (``pitch.npz``, keyed to the data's fingerprint) and read back on later runs.
Shapes: tracks ``[N, C, F]`` (clips, channels, generator frames).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PITCH_FILE = "pitch.npz"
# The range tracked and the range the harmonic branch can play: C1 (below the lowest bass drones
# in the corpora) to about B6; pYIN needs two periods of the lowest in a frame.
F0_MIN_HZ = 30.0
F0_MAX_HZ = 2000.0
_FRAME = 4096


@dataclass(frozen=True)
class PitchTracks:
    """Per clip and generator frame: ``f0_hz [N, C, F]`` (0 where pYIN heard no pitch) and
    ``voiced [N, C, F]``, pYIN's probability that the frame is voiced."""

    f0_hz: np.ndarray
    voiced: np.ndarray


def hold_pitch(tracks: PitchTracks) -> PitchTracks:
    """``tracks`` with each unvoiced frame's f0 taken from the nearest voiced frame of its clip and
    channel (the earlier one on a tie); clips without a voiced frame keep 0. The voicing is
    unchanged, so a gated harmonic branch fades out at the pitch it had and in at the pitch it
    will have, instead of gliding through the branch's own guess."""
    f0 = tracks.f0_hz
    voiced = (tracks.voiced > 0.5) & (f0 > 0)
    frames = np.arange(f0.shape[-1])
    held = f0.copy()
    for row in np.ndindex(*f0.shape[:-1]):
        where = np.flatnonzero(voiced[row])
        if len(where) == 0:
            held[row] = 0.0
            continue
        # nearest voiced frame: the insertion point and the one before it, whichever is closer
        after = np.clip(np.searchsorted(where, frames), 0, len(where) - 1)
        before = np.clip(after - 1, 0, len(where) - 1)
        nearest = np.where(
            np.abs(where[before] - frames) <= np.abs(where[after] - frames), where[before], where[after]
        )
        held[row] = f0[row][nearest]
    return PitchTracks(held.astype(np.float32), tracks.voiced)


def track_clip(audio: np.ndarray, sample_rate: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """pYIN over one clip ``[C, T]``: ``(f0_hz, voiced_probability)``, each ``[C, T // hop + 1]``
    (centred frames, as the generator's STFT)."""
    import librosa

    f0s, probs = [], []
    for channel in np.atleast_2d(audio):
        f0, _, prob = librosa.pyin(
            np.ascontiguousarray(channel, dtype=np.float32),
            fmin=F0_MIN_HZ,
            fmax=F0_MAX_HZ,
            sr=sample_rate,
            frame_length=_FRAME,
            hop_length=hop,
            center=True,
        )
        f0s.append(np.nan_to_num(f0, nan=0.0))
        probs.append(np.nan_to_num(prob, nan=0.0))
    return np.stack(f0s).astype(np.float32), np.stack(probs).astype(np.float32)


def _track_one(args: tuple[str, int, int, int]) -> tuple[int, np.ndarray, np.ndarray]:
    path, index, sample_rate, hop = args
    audio = np.load(path, mmap_mode="r")[index]
    return (index, *track_clip(np.asarray(audio), sample_rate, hop))


def read_tracks(
    data_dir: str | Path, audio_shape: tuple[int, ...], hop: int, fingerprint: str | None
) -> PitchTracks | None:
    """``data_dir/pitch.npz`` if it was tracked from this data (fingerprint, clips ``[N, C, T]``)
    at this hop; None otherwise (no file, or one for other data)."""
    cache = Path(data_dir) / PITCH_FILE
    if not cache.exists():
        return None
    n, c, t = audio_shape
    with np.load(cache) as saved:
        if (
            str(saved["fingerprint"]) == str(fingerprint)
            and int(saved["hop"]) == hop
            and saved["f0_hz"].shape == (n, c, t // hop + 1)
        ):
            return PitchTracks(saved["f0_hz"], saved["voiced"])
    return None


def load_or_track(
    data_dir: str | Path,
    audio: np.ndarray,
    sample_rate: int,
    hop: int,
    fingerprint: str | None,
    workers: int | None = None,
    progress: bool = True,
) -> PitchTracks:
    """The pitch tracks of every clip in ``audio [N, C, T]`` (``data_dir/audio.npy``).

    Read from ``data_dir/pitch.npz`` when it was made from the same data (fingerprint) at the
    same hop; otherwise tracked with ``workers`` processes (all cores by default) behind a
    progress bar and written there (to a temporary name, then renamed), so the next run, or
    the next session's ``--resume``, starts at once."""
    data_dir = Path(data_dir)
    cache = data_dir / PITCH_FILE
    n, c, t = audio.shape
    frames = t // hop + 1
    cached = read_tracks(data_dir, audio.shape, hop, fingerprint)
    if cached is not None:
        return cached
    from tqdm import tqdm

    f0 = np.zeros((n, c, frames), np.float32)
    voiced = np.zeros((n, c, frames), np.float32)
    jobs = [(str(data_dir / "audio.npy"), i, sample_rate, hop) for i in range(n)]
    workers = workers or os.cpu_count() or 1
    # spawned, not forked: a fork of a process whose torch has started its thread pools can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = pool.map(_track_one, jobs, chunksize=4)
        for index, clip_f0, clip_voiced in tqdm(
            done, total=n, desc="pitch tracks (pYIN, once per dataset)", unit="clip", disable=not progress
        ):
            f0[index], voiced[index] = clip_f0, clip_voiced
    partial = cache.with_name(cache.name + ".partial.npz")
    np.savez(partial, f0_hz=f0, voiced=voiced, hop=hop, fingerprint=str(fingerprint))
    os.replace(partial, cache)
    return PitchTracks(f0, voiced)
