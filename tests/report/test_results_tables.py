"""Every table a real (tiny) study writes to ``results/`` is declared in :mod:`fairssl.results_schema` and
validates against its declaration, undeclared columns included (``strict``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fairssl.report.inputs import read_stored_results
from fairssl.results_schema import TABLES, check_result, table_for_file


def test_every_table_of_a_finished_study_is_declared_and_validates(tiny_run: Path) -> None:
    res = tiny_run / "results"
    files = sorted(p.name for p in res.iterdir() if p.suffix in (".csv", ".parquet"))
    undeclared = [f for f in files if table_for_file(f) is None]
    assert not undeclared, f"results/ holds tables no declaration names: {undeclared}"
    names = sorted({t.name for f in files if (t := table_for_file(f)) is not None})
    # what every study with similarity and probes on writes (replicate_* only with replicates)
    expected = set(TABLES) - {"replicate_setups", "replicate_changes", "replicate_comparison"}
    assert set(names) == expected
    for name in names:
        frame = check_result(res, name, strict=True)
        assert frame["variant"].eq("base").all(), name  # one variant: stacked under its own name
        if name in ("results", "summary", "comparison", "setups", "changes", "cka"):
            assert not frame.empty, name


def test_the_report_reads_typed_tables(tiny_run: Path) -> None:
    stored = read_stored_results(tiny_run)
    assert set(stored.comparison["setup"]) == {"supervised", "0", "2-first-last"}
    assert stored.summary["setup"].map(type).eq(str).all()
    assert stored.summary["seed"].dtype == np.int64
    assert stored.results["group"].map(type).eq(str).all()
    raw = pd.read_csv(tiny_run / "results" / "summary.csv")
    assert raw["auroc"].tolist() == stored.summary["auroc"].tolist()
