"""The benchmark script at a small scale, so that it cannot rot: the national run itself is
`make bench` (docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.national import STAGES

ROOT = Path(__file__).resolve().parents[1]


def test_bench_small_scale_writes_every_stage_floor_and_ratio(tmp_path):
    subprocess.run([sys.executable, "-m", "bench.national", "--pupils", "20000",
                    "--data", str(tmp_path), "--repeat", "2", "--trace"], cwd=ROOT, check=True,
                   capture_output=True)
    result = json.loads((tmp_path / "bench.json").read_text())
    full, floor = result["full_run"], result["floor"]
    # Two pairs back to back; of two, the "median" is the higher ratio, reported in full.
    pairs = result["pairs"]
    assert len(pairs) == 2
    assert result["ratio"] == max(p["ratio"] for p in pairs)
    chosen = next(p for p in pairs if p["ratio"] == result["ratio"])
    assert (chosen["floor_seconds"], chosen["full_seconds"]) == (floor["seconds"],
                                                                 full["seconds"])
    assert result["peak_rss_mib"] == max(p["peak_rss_mib"] for p in pairs)
    assert result["pupils"] == 20000
    assert full["status"] == "published"
    assert set(STAGES) <= set(full["stages"])
    assert all(full["stages"][s] > 0 for s in STAGES)
    # Census (20,000 rows, its header aside) plus SEN2, GIAS, finance and the small sources.
    assert floor["rows"] == full["rows_read"] > 20_000
    assert floor["seconds"] > 0 and full["seconds"] > floor["seconds"]
    assert result["ratio"] == full["seconds"] / floor["seconds"] > 1
    # The generator's deliberate mistakes are quarantined, and only those.
    assert 0 < full["rows_quarantined"] < 20
    assert full["peak_rss_mib"] > 0 and floor["peak_rss_mib"] > 0
    table = (tmp_path / "bench.md").read_text()
    assert "| ratio full / floor |" in table
    assert "The pair with the median ratio of 2" in table
    # The timeline: every stage as an event inside the run, CPU time that only grows.
    trace = full["trace"]
    assert {stage for _, stage, _, _ in trace["events"]} == set(STAGES)
    assert all(0 <= a <= b <= full["seconds"] for _, _, a, b in trace["events"])
    assert [e[1] for e in trace["events"] if e[0] == "MainThread"][-3:] == [
        "quality gate", "publish", "board pack"]
    cpu = [c for _, _, c in trace["samples"]]
    assert len(cpu) > 10 and cpu == sorted(cpu) and cpu[-1] > cpu[0]
    assert "## Timeline of the full run" in table and "| MainThread | marts |" in table
    assert all(f"| {s} |" in table for s in STAGES)


def test_bench_refuses_fewer_than_one_pair():
    run = subprocess.run([sys.executable, "-m", "bench.national", "--repeat", "0"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "--repeat must be at least 1 (got 0)" in run.stderr
