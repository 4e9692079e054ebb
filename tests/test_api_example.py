"""examples/api_example.py (DataFrame -> audit -> study -> plot) runs as a script and does what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "api_example.py"


@pytest.mark.slow
def test_the_api_example_runs_end_to_end(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "fairssl-runs" / "api-example"
    assert (run / "verdicts.png").stat().st_size > 1000 and (run / "report.html").is_file()
    assert "Label bias" in out.stdout or "Warnings:" in out.stdout  # the audit was printed
    comparison = pd.read_csv(run / "results" / "comparison.csv", dtype={"setup": str})
    assert set(comparison["setup"]) == {"supervised", "0", "3"}
