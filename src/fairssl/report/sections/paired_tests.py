"""The paired test against supervised (``results/tests.csv``) as a report table, for one metric.

Seeds are the pairs: mean paired difference with its 95% interval, relative improvement, Wilcoxon
signed-rank p and the Holm-adjusted p over the setups. Shown in the performance (AUROC) and parity
(parity deviation) sections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.report.conventions import records, to_float
from fairssl.report.formatting import DASH
from fairssl.report.html_table import Cell, ci_cell


def paired_tests_view(tests: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``tests.csv`` rows of one metric: paired differences across seeds, Wilcoxon p and Holm-adjusted p."""
    scale = 100 if metric == "auroc" else 1
    digits = 1 if metric == "auroc" else 3
    unit = " (points)" if metric == "auroc" else ""
    rows = []
    for r in records(tests[tests["metric"] == metric]):
        rel = to_float(r.get("relative_improvement"))
        rows.append(
            {
                "setup": str(r["setup"]),
                "pairs (seeds)": r.get("n_pairs"),
                f"mean difference vs supervised{unit} [95% CI]": ci_cell(
                    r.get("mean_difference"),
                    r.get("diff_ci_low"),
                    r.get("diff_ci_high"),
                    digits=digits,
                    scale=scale,
                ),
                "relative improvement": Cell(f"{100 * rel:+.0f}%", rel) if np.isfinite(rel) else Cell(DASH),
                "p (Wilcoxon)": to_float(r.get("p_value")),
                "p (Holm)": to_float(r.get("p_adjusted")),
                "note": "" if pd.isna(r.get("reason")) else str(r.get("reason")),
            }
        )
    return pd.DataFrame(rows)
