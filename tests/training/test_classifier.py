"""The gesture classifier: numpy forest equals scikit-learn's, the shipped one works, CV holds."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gesturegan.training.classifier import (
    GESTURE_CATEGORIES,
    GestureClassifier,
    default_classifier,
    file_features,
)
from gesturegan.training.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def labelled(corpus):
    with open(corpus / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["category"]) for r in csv.DictReader(fh)]
    feats = file_features([corpus / f for f, _ in rows])
    assert all(x is not None for x, _ in feats), [e for _, e in feats if e]
    return [f for f, _ in rows], [c for _, c in rows], np.stack([x for x, _ in feats])


def test_features_are_finite_and_named(labelled):
    _, _, x = labelled
    assert x.shape == (165, len(FEATURE_NAMES))
    assert np.isfinite(x).all()


def test_numpy_forest_matches_scikit_learn(labelled):
    pytest.importorskip("sklearn")
    from gesturegan.training.fit_classifier import _forest, fit

    _files, labels, x = labelled
    ours = fit(x, labels, GESTURE_CATEGORIES, seed=3)
    y = np.array([GESTURE_CATEGORIES.index(c) for c in labels])
    theirs = _forest(3).fit(x.astype(np.float32), y)
    rng = np.random.default_rng(0)
    probe = np.concatenate([x, x + rng.normal(0, 0.3, x.shape) * x.std(axis=0)]).astype(np.float32)
    np.testing.assert_allclose(ours.predict_proba(probe), theirs.predict_proba(probe), atol=1e-9)


def test_json_round_trip_is_exact(labelled, tmp_path):
    pytest.importorskip("sklearn")
    from gesturegan.training.fit_classifier import fit

    _, labels, x = labelled
    model = fit(x[:60], labels[:60], GESTURE_CATEGORIES)
    model.save(tmp_path / "c.json")
    again = GestureClassifier.load(tmp_path / "c.json")
    np.testing.assert_allclose(again.predict_proba(x), model.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(again.embed(x), model.embed(x))


def test_file_from_other_features_is_refused(tmp_path):
    data = default_classifier().to_json()
    data["feature_names"] = data["feature_names"][:-1]
    (tmp_path / "old.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="refit"):
        GestureClassifier.load(tmp_path / "old.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        GestureClassifier.load(tmp_path / "junk.json")


def test_shipped_classifier_agrees_with_labels_it_was_fitted_on(labelled):
    _files, labels, x = labelled
    clf = default_classifier()
    assert clf.categories == GESTURE_CATEGORIES
    names, conf = clf.predict(x)
    agree = np.mean([a == b for a, b in zip(names, labels, strict=True)])
    assert agree > 0.95  # fitted on these files: a drop means features changed under it
    assert ((conf > 0.25) & (conf <= 1.0)).all()


def test_cross_validated_accuracy_holds(labelled):
    """Grouped CV on the shared labels stays near the 85% reported in docs/classifier.md."""
    pytest.importorskip("sklearn")
    from gesturegan.training.fit_classifier import cross_validate

    files, labels, x = labelled
    cv = cross_validate(x, labels, files, GESTURE_CATEGORIES, folds=5, repeats=1)
    assert cv.accuracies[0] >= 0.80
    assert cv.confusion.sum() == len(files)
