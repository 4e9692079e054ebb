"""The report's sentence on a setup's dissimilarity ratio against its permutation null (never a bare
ratio when a null was computed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairssl.report.conventions import to_float


def _ratio_text(value: float) -> str:
    return "undefined (0 / 0)" if np.isnan(value) else ("infinite" if np.isinf(value) else f"{value:.1f}")


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"= {value:.2g}"


def ratio_null_sentence(row: Any, *, alpha: float = 0.05) -> str:
    """One sentence on a setup's dissimilarity ratio against its permutation null.

    ``row``: a row of :func:`~fairssl.report.cka_tables.dissimilarity_table` (``setup``, ``ratio``,
    ``ratio_null_median``, ``ratio_null_q95``, ``ratio_p``, ``ratio_p_holm``, ``ratio_n_permutations``,
    ``n_seeds``). The verdict rests on the Holm-adjusted p (over the setups with a null) at ``alpha``, e.g.
    "Setup 3: D ratio 3.1 (null median 2.2, 95th percentile 6.8; permutation p = 0.35, Holm-adjusted over
    setups 1; 19 subject permutations, mean over 3 seeds): not beyond what random subject groupings give."
    Without a null (p NaN) it says so instead of printing a bare ratio as a finding.
    """
    setup, ratio = str(row["setup"]), to_float(row["ratio"])
    p, p_holm = to_float(row.get("ratio_p")), to_float(row.get("ratio_p_holm"))
    seeds = to_float(row.get("n_seeds"))
    over = f"mean over {int(seeds)} seeds" if np.isfinite(seeds) and seeds > 1 else ""
    if np.isnan(p):
        return (
            f"Setup {setup}: D ratio {_ratio_text(ratio)}{f' ({over})' if over else ''}, without a "
            "permutation null (similarity.n_permutations = 0, an undefined ratio or a run from before the "
            "null): it cannot be told apart from what random subject groupings give."
        )
    m = int(to_float(row.get("ratio_n_permutations")))
    holm = f", Holm-adjusted over setups {p_holm:.2g}" if np.isfinite(p_holm) else ""
    decisive = p_holm if np.isfinite(p_holm) else p
    verdict = (
        f"beyond what random subject groupings give (adjusted p <= {alpha:g})"
        if decisive <= alpha
        else "not beyond what random subject groupings give"
    )
    return (
        f"Setup {setup}: D ratio {_ratio_text(ratio)} (null median "
        f"{_ratio_text(to_float(row['ratio_null_median']))}, 95th percentile "
        f"{_ratio_text(to_float(row['ratio_null_q95']))}; permutation p {_p(p)}{holm}; {m} subject "
        f"permutations{f', {over}' if over else ''}): {verdict}."
    )


__all__ = ["ratio_null_sentence"]
