"""`gesturegan bench` end to end, briefly: real serve process, real JACK, figures well formed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.jack, pytest.mark.slow]


def test_bench_measures_every_section(tmp_path):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    args = ["bench", "--no-baselines", "--trials", "5", "--stress-seconds", "4", "--blocks", "256"]
    args += ["--stress-blocks", "256", "--batches", "1,4", "--json", str(out), "--markdown", str(md)]
    # its own process: bench's JACK clients must not share one with the session's JACK server
    res = subprocess.run(
        [sys.executable, "-m", "gesturegan", *args], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["batch"] for r in result["generation"] if r["device"] == "cpu"] == [1, 4]
    assert all(r["realtime_factor"] > 0 for r in result["generation"])
    lat = result["latency"][0]
    assert lat["block"] == 256
    assert result["backend"] == "jack"
    for path in ("floor", "osc", "midi", "morph", "morph-exact"):
        assert lat[path]["n"] >= 3, path  # most trials produce a measurement
        assert lat[path]["p50"] > 0, path  # sound after the send: a clock mapping bug reads <= 0
    # the stress ran once per placement of the audio callback, side by side
    assert [s["mixer"] for s in result["stress"]] == ["process", "thread"]
    for stress in result["stress"]:
        assert stress["messages"] > 1000 and stress["torch_in_server"] is False
        assert 20 < stress["rss_mb"] < 2000 and isinstance(stress["xruns_jack"], int)
        assert stress["server_status"]["triggers"] > 50
        timing = stress["server_stats"]["audio"]  # the JACK backend timed its callbacks
        assert (
            timing["callbacks"] > 100 and timing["entry_p50_blocks"] >= 0
        )  # < 0: a callback before its cycle
        assert timing["mixer"] == stress["mixer"]
        assert isinstance(stress["jackd_says"], dict)
        if shutil.which("cyclictest"):  # the machine's floor, measured meanwhile
            assert stress["platform"]["wakeups"] > 1000
    assert result["stress"][0]["processes"] == 2 and result["stress"][1]["processes"] == 1
    table = md.read_text()
    assert "trigger to sound" in table and "| osc | 256 |" in table and "| midi | 256 |" in table


def test_jackd_log_and_cyclictest_output_are_read_as_they_are_printed():
    from gesturegan.server.tools.harness import jackd_xruns, parse_cyclictest

    log = (
        "JACK server starting in realtime mode with priority 10\n"
        "JackEngine::XRun: client = gesturegan was not finished, state = Triggered\n"
        "JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"
        "JackEngine::XRun: client = gg-bench was not finished, state = Running\n"
        "JackEngine::XRun: client = gesturegan was not finished, state = Triggered\n"
        "JackTimedDriver::Process XRun = 3535 usec\n"
    )
    assert jackd_xruns(log) == {"gesturegan": 2, "gg-bench": 1, "driver late": 1}
    # two threads, 1 µs buckets: 2666 µs is half a 256-frame block at 48 kHz, 5333 µs a block
    histogram = "000010 500 400\n002000 3 0\n003000 1 1\n006000 0 2\n"
    text = (
        histogram
        + "# Min Latencies: 00010 00010\n# Max Latencies: 06000 06000\n# Histogram Overflows: 00001 00000\n"
    )
    got = parse_cyclictest(text, 256 / 48000)
    assert got == {"wakeups": 908, "late_half_block": 5, "late_block": 3, "max_us": 6000, "processors": 2}
    assert parse_cyclictest("", 0.005) is None


def test_the_xrun_allowance_grows_with_the_machines_own_stalls_and_nothing_else():
    from gesturegan.server.tools.harness import xrun_allowance

    quiet = xrun_allowance(20.0, idle_xruns=0, idle_seconds=5.0, machine=None)
    assert quiet == 15.0  # 5 + one every two seconds
    # the idle rate counts at its rate over the window: 1 in 5 s idle is 4 over 20 s
    assert xrun_allowance(20.0, idle_xruns=1, idle_seconds=5.0, machine=None) == quiet + 4.0
    # a stall seen on both processors is one stall
    stalls = {"wakeups": 40_000, "late_half_block": 20, "late_block": 4, "max_us": 59_000, "processors": 2}
    assert xrun_allowance(20.0, 0, 5.0, stalls) == quiet + 10.0
    # a quiet machine adds nothing: an engine that xruns every cycle (190 a second) is still caught
    calm = dict(stalls, late_half_block=0, late_block=0, max_us=900)
    assert xrun_allowance(20.0, 0, 5.0, calm) == quiet < 190 * 20


def test_an_idle_engine_is_measured_against_the_machine(tmp_path):
    """``bench.idle``: an engine with nothing to play, its xruns beside the machine's floor (in a
    process of its own: bench's JACK clients must not share one with the session's server)."""
    code = (
        "import json; from gesturegan.server.tools import bench; from gesturegan.server.inference.model import default_model_path as d; "
        "print(json.dumps(bench.idle(d(), 256, 3, log=lambda line: None)))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert (
        isinstance(got["xruns_jack"], int)
        and got["mixer"] == "process"
        and isinstance(got["jackd_says"], dict)
    )
    assert got["audio"]["callbacks"] > 100  # the mixer played all along
    if shutil.which("cyclictest"):
        assert got["platform"]["wakeups"] > 1000
