"""`gesturegan bench` end to end, briefly: real serve process, real JACK, figures well formed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.jack


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
        assert 0 <= lat[path]["p50"] <= lat[path]["p99"] <= lat[path]["max"], path
    stress = result["stress"][0]
    assert stress["messages"] > 1000 and stress["torch_in_server"] is False
    assert 20 < stress["rss_mb"] < 2000 and stress["xruns_jack"] >= 0
    assert stress["server_status"]["triggers"] > 50
    timing = stress["server_stats"]["audio"]  # the JACK backend timed its callbacks
    assert timing["callbacks"] > 100 and 0 <= timing["entry_p50_blocks"] <= timing["entry_max_blocks"]
    table = md.read_text()
    assert "trigger to sound" in table and "| osc | 256 |" in table and "| midi | 256 |" in table
