"""benchmarks/bench_gpu.py end to end at its smallest settings (slow: minutes on a loaded 2-core CPU)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_gpu_tiny_runs_every_case_and_finds_fast_equal_to_eager(tmp_path):
    out = tmp_path / "gpu.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gpu.py"), "--tiny", "--frames", "1",
                    "--warmup", "1", "--repeats", "1", "--warmup-generate", "0", "--reference-steps", "2",
                    "--budget-seconds", "3600", "--out", str(out)], check=True, cwd=REPO)
    report = json.loads(out.read_text())
    assert report["equivalence"]["pass"] and report["equivalence"]["one_shot_latent_rel_error"] == 0.0
    ids = {row["id"] for row in report["results"]}
    assert {"md-ddim2-cfg/eager", "md-lcm4/eager", "ours-oneshot-lcm4/fast", "ours-stream-r5-s5/eager"} <= ids
    assert all(row["captures_while_timed"] == 0 for row in report["results"])
    assert out.with_suffix(".md").read_text().startswith("# bench_gpu")
