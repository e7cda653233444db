"""``gesturegan classify``: give each sound file a gesture category, optionally sort them.

The CSV it writes has the shape of the shared ``labels.csv`` (``file,category,confidence``,
paths relative to the SRC folder each file was found under), so it feeds straight back
into ``prepare --labels``. Sorting copies by default; ``--move`` is explicit, and nothing
at a destination is ever overwritten.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gesturegan.training.audio import find_audio_files
from gesturegan.training.classifier import GestureClassifier, default_classifier, file_features


@dataclass(frozen=True)
class Classified:
    path: Path
    relative: str  # relative to the SRC it was found under
    category: str | None
    confidence: float
    reason: str | None = None  # why it could not be classified


def classify_files(
    srcs: list[Path], classifier: GestureClassifier | None = None, progress: bool = True
) -> list[Classified]:
    """Classify every audio file under ``srcs`` (bad files come back with a ``reason``)."""
    classifier = classifier or default_classifier()
    files = [(p, rel) for p, _, rel in find_audio_files(srcs)]
    feats = file_features([p for p, _ in files], progress=progress)
    good = [i for i, (x, _) in enumerate(feats) if x is not None]
    names, conf = ([], np.zeros(0))
    if good:
        names, conf = classifier.predict(np.stack([feats[i][0] for i in good]))
    by_index = {i: (n, float(c)) for i, n, c in zip(good, names, conf, strict=True)}
    out = []
    for i, (p, rel) in enumerate(files):
        if i in by_index:
            out.append(Classified(p, rel, by_index[i][0], by_index[i][1]))
        else:
            out.append(Classified(p, rel, None, 0.0, feats[i][1]))
    return out


def to_csv(results: list[Classified]) -> str:
    """The ``file,category,confidence`` CSV text of the classified files (skipped ones left out)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "category", "confidence"])
    for r in results:
        if r.category is not None:
            w.writerow([r.relative, r.category, f"{r.confidence:.3f}"])
    return buf.getvalue()


def sort_into(results: list[Classified], dest: Path, move: bool = False) -> tuple[int, list[str]]:
    """Copy (or move) each classified file to ``dest/<category>/<relative path>``.

    Returns ``(done, problems)``. An existing destination file is left alone and reported;
    a move happens only after the copy is complete, so a failure never loses a source.
    """
    done, problems = 0, []
    for r in results:
        if r.category is None:
            continue
        target = dest / r.category / r.relative
        if target.exists():
            problems.append(f"{target} exists; left {r.path} where it is")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        try:
            shutil.copy2(r.path, tmp)
            os.replace(tmp, target)
            if move:
                r.path.unlink()
            done += 1
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            problems.append(f"{r.path}: {exc.strerror or exc}")
    return done, problems
