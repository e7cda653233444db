"""``gesturegan prepare``: turn folders of a user's sounds into a training set.

The dataset folder (format 1) holds:

- ``audio.npy``      float32 ``[N, channels, n_samples]``, memory-mappable (``np.load(mmap_mode="r")``)
- ``labels.npy``     int64 ``[N]``, the index of each example's category in ``stats.json["categories"]``
- ``manifest.json``  one record per example: source file, offset, category, gain, split
- ``stats.json``     rate, length, channels, categories, counts, every loudness constant, the config
- ``report.md``      counts per category, the spectrogram sheet, every skipped file with its reason
- ``spectrograms.png``  (when matplotlib is installed: the ``train`` extra)

Nothing is written at the target until the whole set is ready: it is built in a
temporary sibling folder and renamed into place, so a killed run leaves no half dataset
and a rerun starts clean. The same inputs and seed give byte-identical arrays.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gesturegan import __version__
from gesturegan.files import write_json_atomic
from gesturegan.training.audio import (
    AUDIO_EXTENSIONS,
    LONG_FILE_SECONDS,
    AudioFileError,
    LongFile,
    file_seconds,
    find_audio_files,
    load_audio,
)
from gesturegan.training.classifier import GESTURE_CATEGORIES
from gesturegan.training.workers import map_files

DATASET_FORMAT = 1
ONSET_CATEGORIES = frozenset({"trigger", "trigger_continuous"})
WINDOW_CATEGORIES = frozenset({"continuous_variation", "continuous_repetition"})


class PrepareError(Exception):
    """A problem with the whole run (bad arguments, nothing usable): the message says what to do.

    ``reasons``: ``(file, why)`` for every file that was refused, so a failed run says why each
    one was (the one-line message alone cannot)."""

    def __init__(self, message: str, reasons: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.reasons = sorted(reasons or [])


@dataclass(frozen=True)
class PrepareConfig:
    """Every knob of ``prepare``; stored in ``stats.json`` so a dataset documents itself."""

    sample_rate: int = 44100
    n_samples: int = 65536
    channels: int = 1
    windows: str = "auto"  # "onset" (one window at the onset), "all" (several), "auto" (by category/envelope)
    max_windows: int = 8  # windows taken from one long sound at most
    window_hop: float = 0.5  # hop between windows, as a fraction of n_samples
    val_fraction: float = 0.1
    seed: int = 0
    target_rms_db: float = -20.0  # loudness each example is brought to ...
    peak_ceiling_db: float = -1.0  # ... unless its peak would pass this
    silence_db: float = -60.0  # a file whose peak is below this is silent
    min_active_ms: float = 10.0  # less sound than this above the silence floor is "nothing"
    max_clipped_fraction: float = 0.5  # more samples than this pinned at full scale is clipped to nothing

    def validate(self) -> None:
        if self.sample_rate < 8000 or self.sample_rate > 192000:
            raise PrepareError(f"--sample-rate {self.sample_rate} is outside 8000..192000")
        if self.n_samples < 1024:
            raise PrepareError(f"--length {self.n_samples} is too short (at least 1024 samples)")
        if self.channels not in (1, 2):
            raise PrepareError(f"--channels must be 1 or 2, not {self.channels}")
        if self.windows not in ("auto", "onset", "all"):
            raise PrepareError(f"--windows must be auto, onset or all, not {self.windows!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise PrepareError(f"--val-fraction must be in [0, 1), not {self.val_fraction}")
        if self.max_windows < 1 or not 0.05 <= self.window_hop <= 1.0:
            raise PrepareError("--max-windows must be >= 1 and --window-hop in [0.05, 1]")


@dataclass(frozen=True)
class Source:
    """One input file and how it got its label."""

    path: Path
    key: str  # stable name: "<src folder name>/<path relative to it>", sorts and splits on this
    relative: str  # path relative to the SRC it was found under (as in a labels CSV)
    category: str | None
    label_from: str  # "folder", "csv" (--labels), "own-csv" (SRC/labels.csv), "auto"


@dataclass
class Cut:
    """What one worker made of one file."""

    key: str
    examples: np.ndarray | None = None  # [n, C, L]
    offsets: list[int] = field(default_factory=list)
    gains_db: list[float] = field(default_factory=list)
    rms_db: list[float] = field(default_factory=list)
    mode: str = ""
    features: np.ndarray | None = None  # for --auto-label
    reason: str | None = None  # set when the file is skipped


# -- finding files and labels ------------------------------------------------------------
#: A SRC folder's own labels (``file,category`` rows relative to it), used when no --labels is given.
OWN_LABELS = "labels.csv"


def check_label_names(labels: dict[str, str], path: Path, given: list[str] | None) -> None:
    """Refuse a category that is a near miss of a gesture category (``triger``): a typo would
    silently become a category of its own. Names far from all four (``drums``) are the user's
    own categories and pass; so does anything listed in ``--categories``."""
    known = list(given or []) + [c for c in GESTURE_CATEGORIES if c not in (given or [])]
    for name in sorted(set(labels.values()) - set(known)):
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        if near:
            files = [f for f, c in labels.items() if c == name]
            raise PrepareError(
                f"{path}: category {name!r} ({len(files)} row{'s' if len(files) > 1 else ''}, e.g. {files[0]}) is not one; did you mean "
                f"{near[0]}? Fix the CSV, or list {name} in --categories if it is a category of its own"
            )


def read_label_csv(path: Path) -> dict[str, str]:
    """``{relative file: category}`` from a ``file,category[,confidence]`` CSV."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"file", "category"} <= {f.strip() for f in reader.fieldnames}:
                raise PrepareError(f"{path}: the first line must be a header with 'file' and 'category'")
            out = {}
            for line, row in enumerate(reader, start=2):
                f, c = (row.get("file") or "").strip(), (row.get("category") or "").strip()
                if not f or not c:
                    raise PrepareError(f"{path}:{line}: empty file or category")
                out[Path(f).as_posix()] = c
            return out
    except OSError as exc:
        raise PrepareError(f"cannot read labels {path}: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise PrepareError(f"{path}: not a readable CSV ({exc})") from exc


def find_sources(
    srcs: list[Path],
    labels: dict[str, str] | None,
    auto_label: bool,
    own_labels: dict[Path, dict[str, str]] | None = None,
) -> tuple[list[Source], list[tuple[str, str]]]:
    """All audio files under ``srcs`` with their label source; ``(sources, skipped)``.

    Label precedence: ``--labels`` CSV; without it, the ``labels.csv`` a SRC folder holds
    (``own_labels``, by SRC); then the first sub-folder name under SRC, then the classifier when
    ``--auto-label`` is given. With ``--auto-label`` a sub-folder counts only when it names a
    gesture category (``drums/`` or ``pads/`` are hints, not categories: the classifier decides
    for them). A file with none of these is skipped.
    """
    own_labels = own_labels or {}
    sources: list[Source] = []
    skipped: list[tuple[str, str]] = []
    try:
        found = find_audio_files(srcs)
    except FileNotFoundError as exc:
        raise PrepareError(str(exc)) from exc
    if not found:
        where = ", ".join(str(s) for s in srcs)
        raise PrepareError(f"no audio files under {where} (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})")
    for p, root, rel in found:
        key = f"{root.name}/{rel}"
        parts = Path(rel).parts
        own = own_labels.get(root, {}) if labels is None else {}
        if labels is not None and rel in labels:
            sources.append(Source(p, key, rel, labels[rel], "csv"))
        elif rel in own:
            sources.append(Source(p, key, rel, own[rel], "own-csv"))
        elif labels is None and len(parts) > 1 and (not auto_label or parts[0] in GESTURE_CATEGORIES):
            sources.append(Source(p, key, rel, parts[0], "folder"))
        elif auto_label:
            sources.append(Source(p, key, rel, None, "auto"))
        else:
            why = (
                "not in the --labels CSV"
                if labels is not None
                else f"not in {root / OWN_LABELS}, no category sub-folder"
                if root in own_labels
                else "no category sub-folder"
            )
            skipped.append((key, f"no label ({why}; or pass --auto-label)"))
    return sources, skipped


# -- cutting one file (runs in a worker process) -------------------------------------------
def _envelope_db(mono: np.ndarray, hop: int) -> np.ndarray:
    n = max(1, mono.shape[0] // hop)
    frames = mono[: n * hop].reshape(n, hop) if mono.shape[0] >= hop else mono[None]
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)


def _decays(env_db: np.ndarray) -> bool:
    """True when the sound dies away (a one-shot): its last quarter is 20 dB under its peak."""
    q = max(env_db.shape[0] // 4, 1)
    return bool(env_db[-q:].max() < env_db.max() - 20)


def _fade(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)


@dataclass
class _Scan:
    """What cutting needs of a file: its level, its 5 ms envelope, and a way to read a stretch."""

    peak: float
    clipped: float  # share of samples pinned at full scale (0 when the peak stays under it)
    env_db: np.ndarray  # [frames / hop]
    frames: int  # at the dataset's rate
    segment: Callable[[int, int], np.ndarray]  # (start, stop) -> [C, stop - start]
    features: np.ndarray | None = None


FEATURE_EXCERPT_SECONDS = 60.0  # the classifier hears this much of a long file, from its onset
_PINNED = 0.989  # |x| at or above this, when the peak reaches 0.99, counts as clipped


def _scan(source: Source, cfg: PrepareConfig, want_features: bool) -> _Scan:
    hop = max(cfg.sample_rate // 200, 1)  # 5 ms envelope frames
    if file_seconds(source.path) > LONG_FILE_SECONDS:
        return _scan_long(source, cfg, want_features, hop)
    audio = load_audio(source.path, cfg.sample_rate, cfg.channels)
    peak = float(np.abs(audio).max())
    clipped = float(np.mean(np.abs(audio) >= 0.999 * peak)) if peak >= 0.99 else 0.0
    scan = _Scan(
        peak, clipped, _envelope_db(audio.mean(axis=0), hop), audio.shape[1], lambda a, b: audio[:, a:b]
    )
    if want_features and peak > 10 ** (cfg.silence_db / 20) and clipped <= cfg.max_clipped_fraction:
        from gesturegan.training.features import features_from_audio

        scan.features = features_from_audio(audio, cfg.sample_rate)
    return scan


def _scan_long(source: Source, cfg: PrepareConfig, want_features: bool, hop: int) -> _Scan:
    """One streamed pass for the envelope and level; windows are read from disk later."""
    long = LongFile(source.path, cfg.sample_rate, cfg.channels)
    peak, pinned, frames = 0.0, 0, 0
    env: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)
    for block in long.blocks():
        magnitude = np.abs(block)
        peak = max(peak, float(magnitude.max()))
        pinned += int(np.count_nonzero(magnitude >= _PINNED))
        frames += block.shape[1]
        mono = np.concatenate([carry, block.mean(axis=0)])
        whole = mono.shape[0] // hop * hop
        if whole:
            env.append(_envelope_db(mono[:whole], hop))
        carry = mono[whole:]
    if carry.size:
        env.append(_envelope_db(carry, carry.size))
    env_db = np.concatenate(env) if env else np.full(1, -200.0)
    clipped = pinned / max(frames * cfg.channels, 1) if peak >= 0.99 else 0.0
    scan = _Scan(peak, clipped, env_db, frames, long.segment)
    if want_features and peak > 10 ** (cfg.silence_db / 20):
        from gesturegan.training.features import features_from_audio

        loud = np.flatnonzero(env_db > env_db.max() - 50.0)
        onset = int(loud[0]) * hop if loud.size else 0
        excerpt = long.segment(onset, min(onset + int(FEATURE_EXCERPT_SECONDS * cfg.sample_rate), frames))
        scan.features = features_from_audio(excerpt, cfg.sample_rate)
    return scan


def cut_file(source: Source, cfg: PrepareConfig, want_features: bool) -> Cut:
    """Load, trim, window and normalise one file into fixed-length examples ``[n, C, L]``.

    A file over ``LONG_FILE_SECONDS`` is streamed (its envelope in one pass, then only the
    chosen windows read), so memory stays that of a few seconds of audio whatever its length."""
    cut = Cut(source.key)
    try:
        scan = _scan(source, cfg, want_features)
    except AudioFileError as exc:
        cut.reason = str(exc)
        return cut
    sr, length = cfg.sample_rate, cfg.n_samples
    peak = scan.peak
    if peak <= 10 ** (cfg.silence_db / 20):
        cut.reason = f"silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS, floor {cfg.silence_db:.0f})"
        return cut
    if scan.clipped > cfg.max_clipped_fraction:
        cut.reason = f"clipped to nothing ({scan.clipped:.0%} of samples at full scale)"
        return cut
    cut.features = scan.features

    hop = max(sr // 200, 1)  # 5 ms envelope frames
    env = scan.env_db
    floor = max(env.max() - 50.0, cfg.silence_db)
    active = np.flatnonzero(env > floor)
    if active.size * hop < cfg.min_active_ms * sr / 1000:
        cut.reason = f"nothing left after trimming silence (under {cfg.min_active_ms:.0f} ms of sound)"
        return cut
    # Onset: first frame within 50 dB of the peak, with a 5 ms pre-roll kept for the attack.
    onset = max(int(active[0]) * hop - hop, 0)
    end = min((int(active[-1]) + 1) * hop, scan.frames)

    mode = cfg.windows
    if mode == "auto":
        if source.category in ONSET_CATEGORIES:
            mode = "onset"
        elif source.category in WINDOW_CATEGORIES:
            mode = "all"
        else:
            mode = "onset" if _decays(env[active[0] : active[-1] + 1]) else "all"
    if end - onset <= length:
        mode = "onset"
    cut.mode = mode

    edge = _fade(min(256, length // 8))  # ~6 ms at 44.1 kHz: no clicks at cut points
    if mode == "onset":
        starts = [onset]
    else:
        step = max(int(length * cfg.window_hop), 1)
        starts = list(range(onset, end - length + 1, step))
        if len(starts) > cfg.max_windows:
            # Spread the windows over the whole sound rather than its first seconds.
            pick = np.linspace(0, len(starts) - 1, cfg.max_windows).round().astype(int)
            starts = [starts[i] for i in pick]

    out = np.zeros((len(starts), cfg.channels, length), dtype=np.float32)
    for i, s in enumerate(starts):
        seg = np.array(scan.segment(s, min(s + length, end)), dtype=np.float32)
        n = seg.shape[1]
        if mode == "all" or (s > 0 and np.abs(scan.segment(s - 1, s)).max() > 10 ** (floor / 20)):
            seg[:, : edge.shape[0]] *= edge[: min(edge.shape[0], n)]  # cut into sound: fade in
        if s + length < end or n < length:
            # Cut before the sound ended, or padded: fade out so the example ends cleanly.
            tail = _fade(min(max(n // 8, 1), int(0.05 * sr)))[::-1]
            seg[:, n - tail.shape[0] :] *= tail
        content = seg[:, :n]
        rms = float(np.sqrt(np.mean(content.astype(np.float64) ** 2)) + 1e-12)
        seg_peak = float(np.abs(content).max() + 1e-12)
        gain_db = min(cfg.target_rms_db - 20 * np.log10(rms), cfg.peak_ceiling_db - 20 * np.log10(seg_peak))
        out[i, :, :n] = seg * np.float32(10 ** (gain_db / 20))
        cut.offsets.append(int(s))
        cut.gains_db.append(round(float(gain_db), 4))
        cut.rms_db.append(round(float(20 * np.log10(rms)), 4))
    cut.examples = out
    return cut


def _cut_job(args: tuple[Source, PrepareConfig, bool]) -> Cut:
    return cut_file(*args)


# -- the split --------------------------------------------------------------------------
def split_by_source(keys_by_category: dict[str, list[str]], fraction: float, seed: int) -> set[str]:
    """Keys of the source files that go to validation: per category, seeded, whole files only."""
    val: set[str] = set()
    for i, (_, keys) in enumerate(sorted(keys_by_category.items())):
        keys = sorted(keys)
        n_val = max(1, round(fraction * len(keys))) if fraction > 0 and len(keys) >= 3 else 0
        order = np.random.default_rng([seed, i]).permutation(len(keys))
        val.update(keys[j] for j in order[:n_val])
    return val


def _order_categories(found: set[str], given: list[str] | None) -> list[str]:
    """The dataset's categories in ``cond`` order: ``--categories`` as given, else the gesture
    categories in their canonical order, else sorted. Only categories with files: a model must
    not advertise a category it never heard."""
    if given:
        missing = found - set(given)
        if missing:
            raise PrepareError(f"labels {sorted(missing)} are not in --categories {given}")
        empty = [c for c in given if c not in found]
        if empty:
            raise PrepareError(
                f"--categories names {', '.join(empty)}, which no usable file is labelled with; "
                "add files for it or leave it out"
            )
        return list(given)
    if found <= set(GESTURE_CATEGORIES):
        return [c for c in GESTURE_CATEGORIES if c in found]
    return sorted(found)


# -- the whole run ------------------------------------------------------------------------
@dataclass
class PrepareResult:
    out: Path
    n_examples: int
    counts: dict[str, dict[str, int]]
    skipped: list[tuple[str, str]]
    fingerprint: str
    label_from: dict[str, int] = field(default_factory=dict)  # "folder"/"csv"/"own-csv"/"auto" -> files
    least_confident: list[_LabelRow] = field(default_factory=list)  # of the classifier's labels
    notes: list[str] = field(default_factory=list)  # warnings for the user (unmatched CSV rows)


def prepare(
    srcs: list[Path],
    out: Path,
    cfg: PrepareConfig = PrepareConfig(),
    labels_csv: Path | None = None,
    auto_label: bool = False,
    categories: list[str] | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Build a dataset folder at ``out`` from audio files under ``srcs`` (see module doc)."""
    cfg.validate()
    out = Path(out)
    if out.exists() and not overwrite:
        raise PrepareError(f"{out} already exists; pass --overwrite to replace it")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists())):
        raise PrepareError(f"{out} exists and is not a gesturegan dataset; refusing to replace it")
    srcs = [Path(s) for s in srcs]
    for s in srcs:
        if (
            s.exists()
            and s.is_dir()
            and (out.resolve() == s.resolve() or s.resolve() in out.resolve().parents)
        ):
            raise PrepareError(f"--out {out} is inside the source {s}; choose a folder outside the sources")

    # Left by a run killed while building (.partial-*) or while swapping an old dataset out (.old-*).
    for pattern in (f".{out.name}.partial-*", f".{out.name}.old-*"):
        for stale in out.parent.glob(pattern) if out.parent.exists() else []:
            shutil.rmtree(stale, ignore_errors=True)
    labels = read_label_csv(labels_csv) if labels_csv else None
    if labels is not None:
        check_label_names(labels, labels_csv, categories)
    notes: list[str] = []
    own_csvs = {s: s / OWN_LABELS for s in srcs if (s / OWN_LABELS).is_file()}
    passed_over = [
        p for p in own_csvs.values() if labels_csv is None or p.resolve() != Path(labels_csv).resolve()
    ]
    own_labels: dict[Path, dict[str, str]] = {}
    if labels is None:
        for src, csv_path in own_csvs.items():
            own_labels[src] = read_label_csv(csv_path)
            check_label_names(own_labels[src], csv_path, categories)
    elif passed_over:  # unless --labels names that very file
        notes.append(
            f"--labels {labels_csv} is used, not {', '.join(map(str, passed_over))} beside the sounds"
        )
    sources, skipped = find_sources(srcs, labels, auto_label, own_labels)
    found_keys = {s.key for s in sources} | {k for k, _ in skipped}
    checks = []
    if labels is not None:  # --labels names paths relative to any SRC
        checks.append((labels_csv, set(labels) - {k.split("/", 1)[-1] for k in found_keys}))
    for src, own in own_labels.items():  # a folder's own CSV names files under that folder
        checks.append((own_csvs[src], {r for r in own if f"{src.name}/{r}" not in found_keys}))
    for csv_path, missing in checks:
        unmatched = sorted(missing)
        if unmatched:
            shown = ", ".join(unmatched[:5]) + (
                f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
            )
            notes.append(f"{csv_path} names {len(unmatched)} files not found under the sources: {shown}")
    if not sources:
        raise PrepareError(
            f"none of the {len(skipped)} audio files has a label: put files in category sub-folders "
            "(SRC/trigger/*.wav), give --labels CSV, or pass --auto-label",
            skipped,
        )

    jobs = [(s, cfg, s.category is None) for s in sources]
    cuts = map_files(_cut_job, jobs, workers, "prepare" if progress else None)

    # Labels for --auto-label files come from the shipped classifier, in the main process.
    auto = [(i, c) for i, c in enumerate(cuts) if c.reason is None and sources[i].category is None]
    resolved = [s.category for s in sources]
    confidences: dict[int, float] = {}
    if auto:
        from gesturegan.training.classifier import default_classifier

        names, conf = default_classifier().predict(np.stack([c.features for _, c in auto]))
        for (i, _), name, p in zip(auto, names, conf, strict=True):
            resolved[i] = name
            confidences[i] = round(float(p), 4)

    kept = [i for i, c in enumerate(cuts) if c.reason is None]
    skipped += [(cuts[i].key, cuts[i].reason) for i, c in enumerate(cuts) if c.reason is not None]
    if not kept:
        raise PrepareError(f"every one of the {len(skipped)} files was skipped (reasons above)", skipped)
    cats = _order_categories({resolved[i] for i in kept}, categories)
    if not auto_label and not categories and not set(cats) & set(GESTURE_CATEGORIES):
        notes.append(
            f"the categories are your folder names ({', '.join(cats)}), none of them a gesture "
            "category; pass --auto-label to have the classifier sort the files into the four gestures"
        )

    by_cat: dict[str, list[str]] = {}
    for i in kept:
        by_cat.setdefault(resolved[i], []).append(sources[i].key)
    val_keys = split_by_source(by_cat, cfg.val_fraction, cfg.seed)

    n_total = sum(cuts[i].examples.shape[0] for i in kept)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes 0700; a dataset is shared data
    try:
        audio = np.lib.format.open_memmap(
            tmp / "audio.npy", mode="w+", dtype=np.float32, shape=(n_total, cfg.channels, cfg.n_samples)
        )
        label_idx = np.zeros(n_total, dtype=np.int64)
        manifest, row = [], 0
        for i in kept:
            c, s = cuts[i], sources[i]
            split = "val" if s.key in val_keys else "train"
            for j in range(c.examples.shape[0]):
                audio[row] = c.examples[j]
                label_idx[row] = cats.index(resolved[i])
                rec = {
                    "index": row,
                    "source": s.key,
                    "file": s.relative,
                    "offset": c.offsets[j],
                    "window": j,
                    "mode": c.mode,
                    "category": resolved[i],
                    "label_from": s.label_from,
                    "gain_db": c.gains_db[j],
                    "rms_db": c.rms_db[j],
                    "split": split,
                }
                if i in confidences:
                    rec["label_confidence"] = confidences[i]
                manifest.append(rec)
                row += 1
        audio.flush()
        del audio
        np.save(tmp / "labels.npy", label_idx)

        counts = _counts(manifest, cats)
        stats = _stats(manifest, cats, cfg, counts, [s.key for s in sources], skipped)
        fingerprint = _fingerprint(tmp / "audio.npy", label_idx)
        stats["fingerprint"] = fingerprint
        write_json_atomic(tmp / "manifest.json", manifest)
        write_json_atomic(tmp / "stats.json", stats)
        write_json_atomic(tmp / "skipped.json", [{"file": k, "reason": r} for k, r in sorted(skipped)])
        chosen = [_LabelRow(sources[i], resolved[i], confidences.get(i)) for i in kept]
        _write_labels(tmp / "labels.csv", chosen)
        _write_report(tmp, manifest, cats, counts, skipped, cfg, stats, chosen)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    label_from = Counter(row.source.label_from for row in chosen)
    least = sorted((r for r in chosen if r.confidence is not None), key=lambda r: r.confidence)[
        :LEAST_CONFIDENT
    ]
    return PrepareResult(out, n_total, counts, sorted(skipped), fingerprint, dict(label_from), least, notes)


@dataclass(frozen=True)
class _LabelRow:
    source: Source
    category: str
    confidence: float | None  # the classifier's, for --auto-label files


LEAST_CONFIDENT = 10  # files the report and the summary name for a second look


def _write_labels(path: Path, rows: list[_LabelRow]) -> None:
    """Every kept file's label as a ``--labels`` CSV: correct a row and pass it back."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "category", "confidence", "label_from"])
        for r in sorted(rows, key=lambda r: r.source.relative):
            conf = "" if r.confidence is None else f"{r.confidence:.3f}"
            w.writerow([r.source.relative, r.category, conf, r.source.label_from])


def _counts(manifest: list[dict], cats: list[str]) -> dict[str, dict[str, int]]:
    counts = {c: {"files": 0, "examples": 0, "train": 0, "val": 0} for c in cats}
    files: dict[str, set[str]] = {c: set() for c in cats}
    for r in manifest:
        counts[r["category"]]["examples"] += 1
        counts[r["category"]][r["split"]] += 1
        files[r["category"]].add(r["source"])
    for c in cats:
        counts[c]["files"] = len(files[c])
    return counts


def _stats(manifest, cats, cfg, counts, source_keys, skipped) -> dict:
    gains = np.array([r["gain_db"] for r in manifest])
    per_cat = {}
    for c in cats:
        g = np.array([r["gain_db"] for r in manifest if r["category"] == c])
        rms = np.array([r["rms_db"] for r in manifest if r["category"] == c])
        if g.size:
            per_cat[c] = {
                "median_gain_db": round(float(np.median(g)), 4),
                "mean_gain_db": round(float(g.mean()), 4),
                "median_rms_db": round(float(np.median(rms)), 4),
            }
    return {
        "format": DATASET_FORMAT,
        "gesturegan_version": __version__,
        "sample_rate": cfg.sample_rate,
        "n_samples": cfg.n_samples,
        "channels": cfg.channels,
        "categories": cats,
        "n_examples": len(manifest),
        "n_files": len({r["source"] for r in manifest}),
        "n_skipped": len(skipped),
        "counts": counts,
        "loudness": {
            # Example = source * 10**(gain_db/20); to bring generated audio of category c back to
            # a typical real level, multiply by 10**(-median_gain_db[c]/20).
            "method": "rms over the example's content to target_rms_db, limited by peak_ceiling_db",
            "target_rms_db": cfg.target_rms_db,
            "peak_ceiling_db": cfg.peak_ceiling_db,
            "gain_db": {
                "mean": round(float(gains.mean()), 4),
                "std": round(float(gains.std()), 4),
                "median": round(float(np.median(gains)), 4),
            },
            "per_category": per_cat,
        },
        "config": asdict(cfg),
        "sources": sorted(source_keys),
    }


def _fingerprint(audio_path: Path, labels: np.ndarray) -> str:
    h = hashlib.sha256()
    with open(audio_path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(labels.tobytes())
    return h.hexdigest()[:16]


def _write_report(tmp, manifest, cats, counts, skipped, cfg, stats, chosen) -> None:
    from gesturegan.training.sheets import spectrogram_sheet

    audio = np.load(tmp / "audio.npy", mmap_mode="r")
    rows, captions = {}, {}
    for c in cats:
        # One window per source file, spread over the category, so the sheet shows variety.
        first = [r["index"] for r in manifest if r["category"] == c and r["window"] == 0]
        idx = [first[i] for i in np.linspace(0, len(first) - 1, min(8, len(first))).round().astype(int)]
        rows[c] = [np.asarray(audio[i]) for i in idx]
        captions[c] = [Path(manifest[i]["file"]).stem[:22] for i in idx]
    import importlib.util

    # The picture needs matplotlib (the `train` extra); the dataset itself does not.
    if importlib.util.find_spec("matplotlib") is not None:
        spectrogram_sheet(
            rows,
            cfg.sample_rate,
            tmp / "spectrograms.png",
            "dataset examples per category",
            captions=captions,
        )
        picture = "![spectrograms per category](spectrograms.png)"
    else:
        picture = "No spectrogram sheet: matplotlib is not installed (`pip install 'gesturegan[train]'`)."
    lines = [
        "# Dataset report",
        "",
        f"{stats['n_examples']} examples of {cfg.n_samples} samples ({cfg.n_samples / cfg.sample_rate:.2f} s) "
        f"at {cfg.sample_rate} Hz, {cfg.channels} channel(s), from {stats['n_files']} files; "
        f"{len(skipped)} skipped. Fingerprint `{stats['fingerprint']}`.",
        "",
        "| category | files | examples | train | val | median gain (dB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in cats:
        k = counts[c]
        g = stats["loudness"]["per_category"].get(c, {}).get("median_gain_db", float("nan"))
        lines.append(f"| {c} | {k['files']} | {k['examples']} | {k['train']} | {k['val']} | {g:+.1f} |")
    modes = Counter(r["mode"] for r in manifest if r["window"] == 0)
    lines += [
        "",
        f"Cutting: {modes.get('onset', 0)} files onset-aligned (one window), {modes.get('all', 0)} cut into "
        f"several windows (at most {cfg.max_windows}, hop {cfg.window_hop:g} of the length).",
        "",
        picture,
        "",
    ]
    by = Counter(r.source.label_from for r in chosen)
    words = {
        "folder": "from category sub-folders",
        "csv": "from --labels",
        "own-csv": f"from the {OWN_LABELS} beside them",
        "auto": "by the classifier",
    }
    lines += [
        "## Labels",
        "",
        "Files labelled " + ", ".join(f"{words[k]}: {n}" for k, n in sorted(by.items())) + ". "
        "Every label is in `labels.csv`: correct a row and pass it back with `--labels`.",
        "",
    ]
    auto = sorted((r for r in chosen if r.confidence is not None), key=lambda r: r.confidence)
    if auto:
        lines += [
            f"The classifier's least confident labels ({min(len(auto), LEAST_CONFIDENT)} of {len(auto)}):",
            "",
            "| file | category | confidence |",
            "| --- | --- | ---: |",
        ]
        lines += [
            f"| `{r.source.relative}` | {r.category} | {r.confidence:.2f} |" for r in auto[:LEAST_CONFIDENT]
        ]
        lines.append("")
    lines += [
        f"## Skipped files ({len(skipped)})",
        "",
    ]
    if skipped:
        lines += ["| file | reason |", "| --- | --- |"]
        lines += [f"| `{k}` | {r} |" for k, r in sorted(skipped)]
    else:
        lines.append("None.")
    (tmp / "report.md").write_text("\n".join(lines) + "\n")


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to ``out``; an old dataset there is moved aside first."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
