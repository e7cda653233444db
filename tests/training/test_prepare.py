"""``prepare`` on the real corpus and on a user's messy folder."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan.training.audio import load_audio
from gesturegan.training.classifier import GESTURE_CATEGORIES
from gesturegan.training.prepare import PrepareConfig, PrepareError, prepare


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus_set(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "sonic"
    res = prepare([corpus], out, labels_csv=corpus / "labels.csv", progress=False)
    return res, out


def test_corpus_counts_follow_labels(corpus, corpus_set):
    res, out = corpus_set
    with open(corpus / "labels.csv", newline="") as fh:
        files_per_cat = Counter(r["category"] for r in csv.DictReader(fh))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["categories"] == [
        "trigger",
        "trigger_continuous",
        "continuous_variation",
        "continuous_repetition",
    ]
    assert {c: k["files"] for c, k in stats["counts"].items()} == dict(files_per_cat)
    assert res.skipped == []
    # Long continuous sounds give several windows; one-shots give exactly one.
    manifest = json.loads((out / "manifest.json").read_text())
    per_source = Counter(r["source"] for r in manifest)
    assert all(per_source[r["source"]] == 1 for r in manifest if r["category"] == "trigger")
    assert max(per_source.values()) > 1


def test_arrays_are_memory_mappable_and_consistent(corpus_set):
    _, out = corpus_set
    stats = json.loads((out / "stats.json").read_text())
    audio = np.load(out / "audio.npy", mmap_mode="r")
    labels = np.load(out / "labels.npy")
    manifest = json.loads((out / "manifest.json").read_text())
    assert isinstance(audio, np.memmap)
    assert audio.shape == (stats["n_examples"], 1, 65536) and audio.dtype == np.float32
    assert labels.shape == (audio.shape[0],)
    for r in manifest:
        assert stats["categories"][labels[r["index"]]] == r["category"]
        assert set(r) >= {"source", "offset", "category", "gain_db", "split"}
    peaks = np.abs(audio).max(axis=(1, 2))
    assert (peaks <= 10 ** (-1 / 20) + 1e-4).all() and (peaks > 0.01).all()


def test_split_is_by_source_file(corpus_set):
    _, out = corpus_set
    manifest = json.loads((out / "manifest.json").read_text())
    splits: dict[str, set[str]] = {}
    for r in manifest:
        splits.setdefault(r["source"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values()), "a file's windows landed on both sides"
    val_cats = {r["category"] for r in manifest if r["split"] == "val"}
    assert len(val_cats) == 4  # every category is represented in validation


def test_gain_restores_the_source_level(corpus, corpus_set):
    """example == source[offset:offset+L] * 10**(gain/20), away from the fades."""
    _, out = corpus_set
    manifest = json.loads((out / "manifest.json").read_text())
    audio = np.load(out / "audio.npy", mmap_mode="r")
    rec = next(r for r in manifest if r["file"] == "drum_cymbal_open.flac")
    src = load_audio(corpus / rec["file"], 44100, 1)[0]
    seg = src[rec["offset"] : rec["offset"] + 65536]
    ex = np.asarray(audio[rec["index"], 0, : seg.shape[0]])
    middle = slice(1000, min(seg.shape[0], 65536) - 3000)
    np.testing.assert_allclose(ex[middle], seg[middle] * 10 ** (rec["gain_db"] / 20), atol=2e-6)
    stats = json.loads((out / "stats.json").read_text())
    assert "trigger_continuous" in stats["loudness"]["per_category"]


def test_rerun_reproduces_the_same_set(corpus, corpus_set, tmp_path):
    res, out = corpus_set
    again = prepare([corpus], tmp_path / "again", labels_csv=corpus / "labels.csv", progress=False, workers=1)
    assert again.fingerprint == res.fingerprint
    for name in ("manifest.json", "stats.json", "labels.npy", "audio.npy"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_report_lists_counts_and_sheet(corpus_set):
    _, out = corpus_set
    report = (out / "report.md").read_text()
    assert "| trigger | 78 |" in report
    assert "spectrograms.png" in report
    png = (out / "spectrograms.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


@pytest.fixture
def messy_folder(corpus, tmp_path):
    """A user's folder: category sub-folders, mixed formats/rates/channels, and bad files."""
    src = tmp_path / "my sounds"
    picks = {
        "trigger": ["bd_haus.flac", "sn_dolf.flac", "elec_blip.flac"],
        "continuous_repetition": ["loop_amen.flac", "ambi_drone.flac", "loop_garzul.flac"],
    }
    formats = [
        ("wav", "WAV", "PCM_24", 48000),
        ("ogg", "OGG", "VORBIS", 22050),
        ("aiff", "AIFF", "PCM_16", 96000),
    ]
    import soxr

    for cat, names in picks.items():
        (src / cat).mkdir(parents=True)
        for name, (ext, fmt, sub, rate) in zip(names, formats, strict=True):
            data, r = sf.read(corpus / name, dtype="float32", always_2d=True)
            sf.write(
                src / cat / f"{Path(name).stem}.{ext}",
                soxr.resample(data, r, rate),
                rate,
                format=fmt,
                subtype=sub,
            )
    (src / "trigger" / "empty.wav").write_bytes(b"")
    (src / "trigger" / "silence.wav").parent.mkdir(exist_ok=True)
    sf.write(src / "trigger" / "silence.wav", np.zeros(44100, dtype=np.float32), 44100)
    good = (src / "trigger" / "bd_haus.wav").read_bytes()
    (src / "trigger" / "cut_off.wav").write_bytes(good[: len(good) // 2])
    (src / "trigger" / "notes.txt").write_text("not audio, ignored")
    (src / "unlabelled.wav").write_bytes(good)
    return src


def test_messy_folder_labels_by_subfolder_and_skips_bad_files(messy_folder, tmp_path):
    before = _tree_digest(messy_folder)
    res = prepare([messy_folder], tmp_path / "ds", progress=False)
    assert _tree_digest(messy_folder) == before, "prepare modified the sources"
    reasons = dict(res.skipped)
    assert reasons["my sounds/trigger/empty.wav"].startswith("empty file")
    assert reasons["my sounds/trigger/silence.wav"].startswith("silent")
    assert reasons["my sounds/trigger/cut_off.wav"].startswith("truncated")
    assert "no label" in reasons["my sounds/unlabelled.wav"]
    assert res.counts["trigger"]["files"] == 3 and res.counts["continuous_repetition"]["files"] == 3
    skipped = json.loads((tmp_path / "ds" / "skipped.json").read_text())
    assert {s["file"] for s in skipped} == set(reasons)
    assert "cut_off.wav" in (tmp_path / "ds" / "report.md").read_text()


def test_stereo_kept_with_two_channels(messy_folder, tmp_path):
    prepare([messy_folder], tmp_path / "st", PrepareConfig(channels=2, n_samples=32768), progress=False)
    audio = np.load(tmp_path / "st" / "audio.npy", mmap_mode="r")
    assert audio.shape[1:] == (2, 32768)
    stereo = [i for i in range(audio.shape[0]) if not np.allclose(audio[i, 0], audio[i, 1])]
    assert stereo, "every example came out dual mono"


def test_auto_label_uses_the_classifier(messy_folder, tmp_path):
    res = prepare([messy_folder], tmp_path / "auto", auto_label=True, progress=False)
    manifest = json.loads((tmp_path / "auto" / "manifest.json").read_text())
    auto = [r for r in manifest if r["label_from"] == "auto"]
    assert {r["file"] for r in auto} == {"unlabelled.wav"}
    assert auto[0]["category"] == "trigger" and 0 < auto[0]["label_confidence"] <= 1
    assert "my sounds/unlabelled.wav" not in dict(res.skipped)
    # what it decided is left as a labels CSV the user can correct and pass back
    with open(tmp_path / "auto" / "labels.csv", newline="") as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh)}
    assert rows["unlabelled.wav"]["label_from"] == "auto"
    assert float(rows["unlabelled.wav"]["confidence"]) == pytest.approx(auto[0]["label_confidence"], abs=1e-3)
    assert rows["trigger/bd_haus.wav"] == {
        "file": "trigger/bd_haus.wav",
        "category": "trigger",
        "confidence": "",
        "label_from": "folder",
    }
    assert res.label_from == {"folder": 6, "auto": 1}
    assert [r.source.relative for r in res.least_confident] == ["unlabelled.wav"]
    report = (tmp_path / "auto" / "report.md").read_text()
    assert "least confident" in report and "`unlabelled.wav` | trigger" in report
    again = prepare(
        [messy_folder], tmp_path / "again", labels_csv=tmp_path / "auto" / "labels.csv", progress=False
    )
    assert again.fingerprint == res.fingerprint  # passed back unchanged, the same dataset


def test_free_text_categories_from_csv(messy_folder, tmp_path):
    labels = tmp_path / "mine.csv"
    labels.write_text("file,category\ntrigger/bd_haus.wav,thud\ncontinuous_repetition/loop_amen.wav,groove\n")
    res = prepare([messy_folder], tmp_path / "free", labels_csv=labels, progress=False)
    stats = json.loads((tmp_path / "free" / "stats.json").read_text())
    assert stats["categories"] == ["groove", "thud"]
    assert res.counts["thud"]["files"] == 1


def test_existing_output_is_refused_unless_overwrite(messy_folder, tmp_path):
    out = tmp_path / "ds"
    first = prepare([messy_folder], out, progress=False)
    with pytest.raises(PrepareError, match="--overwrite"):
        prepare([messy_folder], out, progress=False)
    again = prepare([messy_folder], out, overwrite=True, progress=False)
    assert again.fingerprint == first.fingerprint
    precious = tmp_path / "my-music"
    precious.mkdir()
    (precious / "song.txt").write_text("keep me")
    with pytest.raises(PrepareError, match="not a gesturegan dataset"):
        prepare([messy_folder], precious, overwrite=True, progress=False)
    assert (precious / "song.txt").read_text() == "keep me"


def test_nothing_usable_is_a_clear_error(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.wav").write_bytes(b"")
    with pytest.raises(PrepareError, match="none of the 1 audio files has a label") as info:
        prepare([tmp_path / "src"], tmp_path / "out", progress=False)
    assert [k for k, _ in info.value.reasons] == ["src/a.wav"]
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="no audio files under"):
        prepare([tmp_path / "empty"], tmp_path / "out", auto_label=True, progress=False)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gesturegan", "prepare", *args], capture_output=True, text=True, check=False
    )


def test_a_run_that_refuses_every_file_says_why_for_each_even_when_quiet(tmp_path):
    src = tmp_path / "src" / "trigger"
    src.mkdir(parents=True)
    (src / "text.wav").write_text("not audio at all")
    sf.write(src / "blip.wav", np.full(200, 0.5, np.float32), 44100)  # 5 ms
    sf.write(src / "quiet.wav", np.zeros(44100, np.float32), 44100)
    for quiet in ([], ["--quiet"]):
        done = _cli(str(tmp_path / "src"), "--out", str(tmp_path / "out"), *quiet)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines[-1] == "gesturegan prepare: every one of the 3 files was skipped (reasons above)"
        reasons = {
            line.split(":")[0].removeprefix("skipped "): line for line in lines if line.startswith("skipped")
        }
        assert set(reasons) == {"src/trigger/text.wav", "src/trigger/blip.wav", "src/trigger/quiet.wav"}
        assert "Format not recognised" in reasons["src/trigger/text.wav"]
        assert "silent" in reasons["src/trigger/quiet.wav"]
        assert not (tmp_path / "out").exists()


def test_a_mistyped_category_in_labels_is_refused_with_the_nearest_name(messy_folder, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,category\ntrigger/bd_haus.wav,triger\ncontinuous_repetition/loop_amen.wav,continous_repetition\n"
    )
    with pytest.raises(PrepareError, match=r"'continous_repetition'.*did you mean continuous_repetition"):
        prepare([messy_folder], tmp_path / "out", labels_csv=labels, progress=False)
    done = _cli(str(messy_folder), "--labels", str(labels), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "did you mean" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_labels_naming_missing_files_are_named(messy_folder, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,category\ntrigger/bd_haus.wav,trigger\ntrigger/gone.wav,trigger\n")
    res = prepare([messy_folder], tmp_path / "out", labels_csv=labels, progress=False)
    assert res.notes == [f"{labels} names 1 files not found under the sources: trigger/gone.wav"]
    assert res.counts["trigger"]["files"] == 1


def test_only_categories_with_files_are_the_datasets(messy_folder, tmp_path):
    """trigger and continuous_repetition have files: the model must not advertise the other two."""
    prepare([messy_folder], tmp_path / "two", progress=False)
    stats = json.loads((tmp_path / "two" / "stats.json").read_text())
    assert stats["categories"] == ["trigger", "continuous_repetition"]  # still in canonical order
    with pytest.raises(PrepareError, match="--categories names continuous_variation, which no usable file"):
        prepare(
            [messy_folder],
            tmp_path / "three",
            categories=["trigger", "continuous_variation", "continuous_repetition"],
            progress=False,
        )


@pytest.mark.slow
def test_ctrl_c_during_prepare_is_one_line_and_leaves_nothing(corpus, tmp_path):
    """Ctrl-C reaches the whole process group, workers included: one line, no traceback."""
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "gesturegan", "prepare", str(corpus), "--labels", str(corpus / "labels.csv")]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--workers", "2"], start_new_session=True, stderr=subprocess.PIPE, text=True
    )
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    if proc.returncode == 0:  # it finished before the signal: then the dataset is whole
        assert (out / "stats.json").exists()
        return
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == "gesturegan prepare: interrupted"
    assert not out.exists() and not list(tmp_path.glob(".ds.partial-*"))


LMMS_MALFORMED = {
    "drums/kick04.ogg",
    "effects/scratch01.ogg",
    "effects/wind_chimes01.ogg",
    "instruments/harpsichord01.ogg",
    "misc/hit01.ogg",
}


@pytest.mark.slow
def test_auto_label_treats_other_folder_names_as_hints(corpus, tmp_path):
    """lmms/ has drums/, basses/, stringsnpads/...: with --auto-label the classifier decides."""
    lmms = corpus.parent / "lmms"
    res = prepare([lmms], tmp_path / "lmms", PrepareConfig(n_samples=8192), auto_label=True, progress=False)
    stats = json.loads((tmp_path / "lmms" / "stats.json").read_text())
    assert set(stats["categories"]) <= set(GESTURE_CATEGORIES)
    manifest = json.loads((tmp_path / "lmms" / "manifest.json").read_text())
    assert {r["label_from"] for r in manifest} == {"auto"}
    assert len({r["source"] for r in manifest}) == 171
    skipped = dict(res.skipped)
    assert {k.removeprefix("lmms/") for k in skipped} == LMMS_MALFORMED
    assert all("fmt" in reason for reason in skipped.values())  # libsndfile's own words, per file


def test_a_long_file_is_streamed_and_cut_as_if_read_whole(corpus, tmp_path, monkeypatch):
    """Over LONG_FILE_SECONDS a file is read in pieces; the examples match the whole-file path."""
    import gesturegan.training.prepare as prep

    loop, rate = sf.read(corpus / "loop_amen.flac", dtype="float32", always_2d=True)
    reps = int(np.ceil(130 * rate / loop.shape[0]))
    src = tmp_path / "src" / "continuous_repetition"
    src.mkdir(parents=True)
    sf.write(src / "long.wav", np.tile(loop, (reps, 1)) * 0.5, rate, subtype="FLOAT")
    assert sf.info(str(src / "long.wav")).duration > prep.LONG_FILE_SECONDS
    cfg = PrepareConfig(sample_rate=22050, n_samples=16384)
    streamed = prepare([tmp_path / "src"], tmp_path / "streamed", cfg, auto_label=True, progress=False)
    monkeypatch.setattr(prep, "LONG_FILE_SECONDS", 1e9)
    whole = prepare([tmp_path / "src"], tmp_path / "whole", cfg, auto_label=True, progress=False)
    assert streamed.n_examples == whole.n_examples == cfg.max_windows
    a = np.load(tmp_path / "streamed" / "audio.npy")
    b = np.load(tmp_path / "whole" / "audio.npy")
    assert np.abs(a - b).max() < 1e-5  # read in the same resampling phase as the whole file
    ma = json.loads((tmp_path / "streamed" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "whole" / "manifest.json").read_text())
    assert [r["offset"] for r in ma] == [r["offset"] for r in mb]
    assert [r["category"] for r in ma] == [r["category"] for r in mb]  # the classifier hears an excerpt


def test_a_folders_own_labels_csv_labels_it_without_being_named(corpus, tmp_path):
    """A library laid out like sonic-pi (flat, with labels.csv beside the sounds) needs no --labels."""
    import shutil

    src = tmp_path / "library"
    src.mkdir()
    for name in ("bd_haus.flac", "elec_blip.flac", "ambi_drone.flac", "bd_boom.flac"):
        shutil.copy(corpus / name, src / name)
    (src / "labels.csv").write_text(
        "file,category\nbd_haus.flac,trigger\nelec_blip.flac,trigger\n"
        "ambi_drone.flac,continuous_repetition\ngone.flac,trigger\n"
    )
    res = prepare([src], tmp_path / "own", progress=False)
    assert res.label_from == {"own-csv": 3}
    assert res.counts["trigger"]["files"] == 2 and res.counts["continuous_repetition"]["files"] == 1
    assert dict(res.skipped)["library/bd_boom.flac"].startswith(f"no label (not in {src / 'labels.csv'}")
    assert res.notes == [f"{src / 'labels.csv'} names 1 files not found under the sources: gone.flac"]
    with open(tmp_path / "own" / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["label_from"] for r in rows} == {"own-csv"}

    given = tmp_path / "mine.csv"  # --labels wins, and the CSV it passed over is named
    given.write_text("file,category\nbd_boom.flac,trigger\n")
    res = prepare([src], tmp_path / "given", labels_csv=given, progress=False)
    assert res.label_from == {"csv": 1}
    assert res.notes[0] == f"--labels {given} is used, not {src / 'labels.csv'} beside the sounds"
    res = prepare([src], tmp_path / "same", labels_csv=src / "labels.csv", progress=False)
    assert res.label_from == {"csv": 3} and not any("is used, not" in n for n in res.notes)
