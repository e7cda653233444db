"""The ``gesturegan`` command: help everywhere, honest refusals, classify and doctor for real."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys

import pytest

from gesturegan.cli import build_parser, main

COMMANDS = [
    *("prepare", "classify", "train", "evaluate", "export", "inspect", "render", "serve"),
    *("osc-spec", "replay", "demo", "bench", "doctor"),
]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gesturegan", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )


def test_every_design_command_is_registered():
    design = {"prepare", "classify", "train", "evaluate", "export", "inspect", "render", "serve", "osc-spec"}
    design |= {"demo", "bench", "doctor"}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert design <= set(sub.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: gesturegan {command}")
    assert len(out.splitlines()) >= 3


OUTPUT_CASES = [
    ("render", ["MODEL", "--category", "trigger", "--out", "{file}"], "--out {file} is a file, not a folder"),
    ("prepare", ["{corpus}", "--out", "{file}/ds"], "--out {file}/ds: {file} is a file, not a folder"),
    ("train", ["DATA", "--model", "gan", "--out", "{file}"], "--out {file} is a file, not a folder"),
    ("evaluate", ["MODEL", "--data", "DATA", "--out", "{file}"], "--out {file} is a file, not a folder"),
    ("classify", ["{corpus}", "--copy", "{file}"], "--copy {file} is a file, not a folder"),
    ("export", ["RUN", "--out", "{file}/m.onnx"], "--out {file}/m.onnx: {file} is a file, not a folder"),
    ("serve", ["--record", "{file}"], "--record {file} is a file, not a folder"),
    ("bench", ["--json", "{folder}"], "--json {folder} is a folder; give a file name"),
]


@pytest.mark.parametrize(("command", "args", "said"), OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_an_output_path_that_cannot_be_written_is_one_line_and_exit_2(
    command, args, said, corpus, tmp_path, capsys
):
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    fill = {"file": file, "folder": tmp_path, "corpus": corpus}
    assert main([command, *(a.format(**fill) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gesturegan {command}: {said.format(**fill)}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert file.read_text() == "mine"


def test_version_and_bare_command():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("gesturegan ")
    assert run_cli().returncode == 2


def test_classify_writes_labels_csv_form_and_copies(corpus, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    names = ["bd_haus.flac", "loop_amen.flac", "drum_cymbal_open.flac", "ambi_dark_woosh.flac"]
    for n in names:
        (src / n).write_bytes((corpus / n).read_bytes())
    (src / "broken.wav").write_bytes(b"RIFF....")
    digest = {n: hashlib.sha256((src / n).read_bytes()).hexdigest() for n in names}

    out = tmp_path / "labels.csv"
    res = run_cli("classify", str(src), "--out", str(out), "--copy", str(tmp_path / "sorted"), "--quiet")
    assert res.returncode == 0, res.stderr
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["file", "category", "confidence"]
        rows = {r["file"]: r for r in reader}
    assert set(rows) == set(names)
    assert rows["bd_haus.flac"]["category"] == "trigger"
    assert rows["loop_amen.flac"]["category"] == "continuous_repetition"
    assert "skipped" in res.stderr and "broken.wav" in res.stderr
    for n in names:  # copied into its category folder, source untouched
        assert (tmp_path / "sorted" / rows[n]["category"] / n).exists()
        assert hashlib.sha256((src / n).read_bytes()).hexdigest() == digest[n]

    # A second copy does not overwrite what is there; a move removes sources only when done.
    res = run_cli("classify", str(src), "--move", str(tmp_path / "sorted"), "--quiet")
    assert res.returncode == 0 and "exists" in res.stderr
    assert all((src / n).exists() for n in names)
    res = run_cli("classify", str(src), "--move", str(tmp_path / "moved"), "--quiet")
    assert res.returncode == 0
    assert not any((src / n).exists() for n in names)
    assert all((tmp_path / "moved" / rows[n]["category"] / n).exists() for n in names)


def test_classify_output_feeds_prepare(corpus, tmp_path):
    """The CSV ``classify`` writes is one ``prepare --labels`` reads."""
    src = tmp_path / "src"
    src.mkdir()
    for n in ["bd_haus.flac", "loop_amen.flac", "elec_blip.flac"]:
        (src / n).write_bytes((corpus / n).read_bytes())
    assert run_cli("classify", str(src), "--out", str(tmp_path / "l.csv"), "--quiet").returncode == 0
    res = run_cli(
        "prepare", str(src), "--labels", str(tmp_path / "l.csv"), "--out", str(tmp_path / "ds"), "--quiet"
    )
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "ds" / "stats.json").read_text())["n_files"] == 3


def test_bad_arguments_get_one_clear_line(tmp_path):
    res = run_cli("prepare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.strip() == f"gesturegan prepare: {tmp_path / 'nowhere'}: no such file or folder"
    res = run_cli("classify", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "no such file" in res.stderr


@pytest.mark.jack
def test_doctor_sees_the_jack_server_and_its_midi(jack_server):
    import os

    env = dict(os.environ)
    res = run_cli("doctor", "--json", env=env)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["audio"]["jack"]["running"] is True
    assert report["audio"]["jack"]["server_name"] == jack_server.name
    assert any(
        d["host_api"] == "JACK Audio Connection Kit" and d["outputs"] >= 2 for d in report["audio"]["devices"]
    )
    jack_midi = next(a for a in report["midi"]["apis"] if a["api"].lower().startswith("jack"))
    assert jack_midi["error"] is None
    assert "CPUExecutionProvider" in report["onnxruntime"]["providers"]
    text = run_cli("doctor", env=env).stdout
    assert "JACK server" in text and "running" in text and "onnxruntime" in text
    rt = report["realtime"]  # what this machine offers an audio thread
    if rt["system"] == "Linux":
        assert ("SCHED_FIFO: allowed" in text) == rt["sched_fifo_allowed"] and "Real time" in text
        assert rt["preempt"] in (None, "none", "voluntary", "full", "lazy", "rt (PREEMPT_RT)")
        if rt["preempt"] in ("none", "voluntary"):  # the advice a performer needs
            assert "preempt=full" in text


def test_doctor_without_jack_says_what_to_do(tmp_path):
    import os

    env = dict(os.environ, JACK_DEFAULT_SERVER=f"gg-absent-{os.getpid()}")
    res = run_cli("doctor", env=env)
    assert res.returncode == 0
    assert "not running" in res.stdout


def test_osc_spec_lists_the_dispatchers_addresses(capsys):
    import json

    from gesturegan.server.core.commands import DEFAULT_OSC_PORT, DEFAULT_REPLY_PORT, REPLIES, SPEC

    assert main(["osc-spec", "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert [r["address"] for r in spec["addresses"]] == [a.path for a in SPEC]
    assert [r["address"] for r in spec["replies"]] == [r.path for r in REPLIES]
    assert spec["ports"] == {"osc": DEFAULT_OSC_PORT, "reply": DEFAULT_REPLY_PORT}
    assert main(["osc-spec"]) == 0
    text = capsys.readouterr().out
    assert "/trigger [category]:category" in text and "/error address reason" in text


@pytest.mark.parametrize("command", ["inspect", "serve"])
def test_a_folder_given_as_the_model_is_named_as_a_folder(command, tmp_path, capsys):
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"gesturegan {command}: {tmp_path} is a folder; give a model file (MODEL.onnx), "
        f"or serve --models {tmp_path} to load from it"
    )


def _subparsers():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_with_its_default_and_the_command_an_example(command):
    parser = _subparsers()[command]
    assert parser.epilog and "Example" in parser.epilog, f"{command} has no example"
    for action in parser._actions:
        if action.dest == "help":
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{command} {name} has no help"
        has_default = action.default not in (None, False) and action.option_strings
        if has_default and action.nargs != 0:
            assert "default" in action.help.lower(), f"{command} {name}: the help does not say its default"


@pytest.mark.parametrize(
    "args",
    [["train", "DATA", "--out", "RUN"], ["serve"], ["prepare", "SRC", "--out", "DIR"]],
    ids=lambda a: a[0],
)
def test_an_unknown_option_prints_that_commands_usage(args):
    command = args[0]
    res = run_cli(*args, "--no-such-option")
    assert res.returncode == 2
    assert res.stderr.startswith(f"usage: gesturegan {command}"), res.stderr[:200]
    assert "unrecognized arguments: --no-such-option" in res.stderr


def test_a_taken_osc_port_is_named_with_the_option_that_changes_it():
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        res = run_cli("serve", "--no-midi", "--osc-port", str(port))
    finally:
        taken.close()
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"gesturegan serve: UDP port {port} on 127.0.0.1 is already in use (another gesturegan serve?): "
        "stop it, or pass --osc-port with a free port"
    )


def test_doctor_notices_two_onnxruntime_builds_and_says_why_rt_is_allowed(tmp_path):
    """pip can leave both onnxruntime and onnxruntime-gpu installed (one module, two wheels)."""
    import importlib.metadata as md
    import os

    installed = next(d for d in ("onnxruntime-gpu", "onnxruntime") if _installed(md, d))
    other = "onnxruntime" if installed == "onnxruntime-gpu" else "onnxruntime-gpu"
    info = tmp_path / f"{other.replace('-', '_')}-1.20.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {other}\nVersion: 1.20.0\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    text = run_cli("doctor", env=env).stdout
    warning = next(line for line in text.splitlines() if "are both installed" in line)
    assert f"{other} 1.20.0" in warning and installed in warning and "pip uninstall" in warning
    assert "both installed" not in run_cli("doctor").stdout
    if os.geteuid() == 0:
        assert "SCHED_FIFO: allowed (running as root, which needs no RLIMIT_RTPRIO" in text


def _installed(md, dist: str) -> bool:
    try:
        md.version(dist)
        return True
    except md.PackageNotFoundError:
        return False
