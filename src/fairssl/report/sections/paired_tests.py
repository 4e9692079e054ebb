"""Every paired change of one metric (``results/changes.csv``) as a report table.

One row per (setup, baseline, quantity): the paired change (setup - baseline, same seed and same resample
of test subjects) with its interval at the level of its test, the relative change for parity deviation,
the raw and family-adjusted p, whether it is in the family, and the verdict. Shown in the performance
(AUROC) and parity (parity deviation, per attribute) sections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.report.conventions import records, to_float
from fairssl.report.formatting import DASH
from fairssl.report.html_table import Cell, ci_cell, verdict_cell


def paired_tests_view(changes: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``changes.csv`` rows whose quantity is ``metric`` or ``metric:<attribute>``."""
    scale = 100 if metric == "auroc" else 1
    digits = 1 if metric == "auroc" else 3
    unit = " (points)" if metric == "auroc" else ""
    quantity = changes["quantity"].astype(str)
    rows = []
    for r in records(changes[(quantity == metric) | quantity.str.startswith(metric + ":")]):
        rel = to_float(r.get("relative"))
        level = to_float(r.get("level"))
        rows.append(
            {
                "setup": str(r["setup"]),
                "against": str(r.get("baseline", "")),
                "quantity": str(r["quantity"]),
                "pairs (seeds)": r.get("n_pairs"),
                f"change{unit} [CI]": ci_cell(
                    r.get("estimate"), r.get("ci_low"), r.get("ci_high"), digits=digits, scale=scale
                ),
                "CI level": f"{100 * level:.2f}%" if np.isfinite(level) else DASH,
                "relative (> 0 better)": Cell(f"{100 * rel:+.0f}%", rel) if np.isfinite(rel) else Cell(DASH),
                "p": to_float(r.get("p_value")),
                "p (adjusted)": to_float(r.get("p_adjusted")),
                "verdict": verdict_cell(r.get("verdict", "")),
                "covers": "" if pd.isna(r.get("sources")) else str(r.get("sources")),
            }
        )
    return pd.DataFrame(rows)
