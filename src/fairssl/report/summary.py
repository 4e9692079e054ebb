"""The report's plain-language verdict: one headline sentence, a few points and the compact CLI table.

Answers the paper's question from ``results/summary.csv`` alone: which SSL setup gave the best fairness-
performance trade-off against the supervised baseline, by how much (relative parity-deviation
improvement and AUROC change, with 95% intervals) and how certain that is (verdict, number of seeds).
The numbers are :func:`~fairssl.report.comparison.setup_comparison`'s; the chosen setup is
:func:`~fairssl.report.comparison.best_tradeoff`'s. The headline and the table are also printed at the end
of ``fairssl run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.report.comparison import MAX_AUROC_DROP, VERDICTS, best_tradeoff, setup_comparison
from fairssl.report.conventions import (
    SUPERVISED,
    VARIANT,
    by_setup,
    in_four_fifths_band,
    numeric_column,
    split_variants,
    varies_text,
)
from fairssl.report.formatting import fmt_ci


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _pct_ci(low: float, high: float) -> str:
    return f"[95% CI {100 * low:.0f}% to {100 * high:.0f}%]"


def _points(v: float) -> str:
    return f"{100 * v:+.1f}"


def _change_text(row: Mapping[str, Any]) -> str:
    """The change text, e.g. reduced parity deviation by 28% [95% CI 12% to 41%]; CI follows the verb."""
    imp, lo, hi = float(row["improvement"]), float(row["improvement_low"]), float(row["improvement_high"])
    has_ci = np.isfinite(lo) and np.isfinite(hi)
    if imp >= 0:
        text = f"reduced parity deviation by {_pct(imp)}"
        return text + (f" {_pct_ci(lo, hi)}" if has_ci else "")
    text = f"increased parity deviation by {_pct(-imp)}"
    return text + (f" {_pct_ci(-hi, -lo)}" if has_ci else "")


def _auroc_text(row: Mapping[str, Any]) -> str:
    d, lo, hi = float(row["auroc_change"]), float(row["auroc_change_low"]), float(row["auroc_change_high"])
    if not np.isfinite(d):
        return "an unknown AUROC change"
    text = f"{_points(d)} AUROC points"
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{_points(lo)} to {_points(hi)}]"
    return text


def _seeds_text(n: int) -> str:
    return "1 seed" if n == 1 else f"{n} seeds"


def headline(summary: pd.DataFrame, *, max_auroc_drop: float = MAX_AUROC_DROP) -> str:
    """The report's plain-language answer: which setup gave the best trade-off, by how much, how certain.

    e.g. ``Setup 2-first-last reduced parity deviation by 28% [95% CI 12% to 41%] relative to supervised
    (0.160 vs 0.225) at -0.9 AUROC points [-2.1 to +0.3], 5 seeds.`` followed, where they apply, by: the
    interval includes 0 (not distinguishable from supervised); no SSL setup was fairer (SSL made fairness
    worse); every setup cost more than ``max_auroc_drop`` AUROC; only one seed was run (the interval covers
    test-set resampling only); no interval at all. The setup is :func:`best_tradeoff`'s choice; the numbers
    are :func:`setup_comparison`'s.
    """
    parts = split_variants(summary) if summary is not None and not summary.empty else [(None, summary)]
    if len(parts) > 1:
        return " ".join(f"[{name}] {headline(rows, max_auroc_drop=max_auroc_drop)}" for name, rows in parts)
    comp = setup_comparison(summary)
    if comp.empty:
        return "No fine-tuning run has results yet: run `fairssl run` to produce them."
    setups = list(comp["setup"])
    if SUPERVISED not in setups:
        return (
            f"No supervised baseline in the results (setups: {', '.join(setups)}), so the fairness "
            "improvement of SSL cannot be computed: add 'supervised' to finetune.setups and run again."
        )
    rows_by_setup = by_setup(comp)
    sup = rows_by_setup[SUPERVISED]
    if len(setups) == 1:
        return (
            f"Only the supervised baseline was run (AUROC {fmt_ci(sup['auroc'], np.nan, np.nan)}, parity "
            f"deviation {fmt_ci(sup['parity_deviation'], np.nan, np.nan)}): add SSL setups to "
            "finetune.setups to compare."
        )
    best = best_tradeoff(comp, max_auroc_drop=max_auroc_drop)
    if best is None:
        return (
            "No SSL setup shares a seed with the supervised baseline (or parity deviation is undefined), "
            "so no improvement can be computed: run the same seeds for every setup."
        )
    row = rows_by_setup[best]
    n_pairs = int(row["n_pairs"])
    verdict = str(row["verdict"])
    any_fairer = bool((comp["verdict"] == "fairer").any())
    all_worse = bool(
        (comp.loc[comp["setup"] != SUPERVISED, "improvement"].dropna() < 0).all()
        and comp["improvement"].notna().any()
    )
    lead = f"Setup {best}" if not all_worse else f"No SSL setup was fairer than supervised: the best, {best},"
    sentence = (
        f"{lead} {_change_text(row)} relative to supervised ({row['parity_deviation']:.3f} vs "
        f"{sup['parity_deviation']:.3f}) at {_auroc_text(row)}, {_seeds_text(n_pairs)}"
    )
    if verdict == "not_distinguishable":
        sentence += ": not distinguishable from supervised (the interval includes 0)."
    elif verdict == "less_fair":
        sentence += ": SSL made fairness worse here."
    else:
        sentence += "."
    others = [s for s in comp.loc[comp["verdict"] == "fairer", "setup"] if s != best]
    if verdict != "fairer" and others:
        sentence += f" Setup(s) {', '.join(others)} were distinguishably fairer, but at a larger AUROC cost."
    elif all_worse and verdict != "less_fair":
        sentence += " Every SSL setup had a higher parity deviation than supervised (point estimates)."
    elif verdict == "not_distinguishable" and not any_fairer:
        sentence += " No SSL setup was distinguishably fairer."
    change = numeric_column(comp[comp["setup"] != SUPERVISED], "auroc_change")
    if np.isfinite(change).any() and not (change >= -max_auroc_drop - 1e-12).any():
        pts = 100 * max_auroc_drop
        sentence += f" Every SSL setup cost more than {pts:g} AUROC point{'' if pts == 1 else 's'}."
    if n_pairs == 1:
        if row["improvement_ci"] == "bootstrap":
            sentence += (
                " Only one seed was run, so the interval covers test-set resampling only, not training "
                "randomness: run more seeds for a firm answer."
            )
        else:
            sentence += (
                " Only one seed was run and no bootstrap (evaluation.n_boot = 0), so there is no confidence "
                "interval: run more seeds."
            )
    return sentence


def summary_points(
    summary: pd.DataFrame,
    *,
    label_bias: pd.DataFrame | None = None,
    ratios: pd.DataFrame | None = None,
    warnings: Sequence[str] = (),
    max_auroc_drop: float = MAX_AUROC_DROP,
) -> list[str]:
    """Short plain-language points shown under the headline.

    Args:
        summary: ``results/summary.csv``.
        label_bias: :func:`label_bias_table`'s output (rows of the ``all`` split), or None.
        ratios: :func:`dissimilarity_table`'s output, or None.
        warnings: the audit's warnings.

    Returns:
        Sentences: the setups by verdict; the AUROC range; the strongest label bias in the ground truth;
        the representation dissimilarity ratio; caveats (few seeds, audit warnings).
    """
    points: list[str] = []
    by_variant = split_variants(summary) if summary is not None and not summary.empty else []
    if len(by_variant) > 1:
        for name, rows in by_variant:
            first = summary_points(rows, max_auroc_drop=max_auroc_drop)
            points += [f"[{name}] {first[0]}"] if first else []
        return points + summary_points(pd.DataFrame(), label_bias=label_bias, warnings=warnings)
    comp = setup_comparison(summary)
    if not comp.empty and SUPERVISED in set(comp["setup"]):
        groups = {v: list(comp.loc[comp["verdict"] == v, "setup"]) for v in VERDICTS}
        parts = []
        if groups["fairer"]:
            parts.append(f"fairer than supervised (interval above 0): {', '.join(groups['fairer'])}")
        if groups["not_distinguishable"]:
            parts.append(f"not distinguishable: {', '.join(groups['not_distinguishable'])}")
        if groups["less_fair"]:
            parts.append(f"less fair: {', '.join(groups['less_fair'])}")
        if groups["no_interval"]:
            parts.append(f"no interval (one seed, no bootstrap): {', '.join(groups['no_interval'])}")
        if parts:
            points.append("Parity deviation by setup — " + "; ".join(parts) + ".")
        sup = by_setup(comp)[SUPERVISED]
        ssl = comp[(comp["setup"] != SUPERVISED) & np.isfinite(numeric_column(comp, "auroc"))]
        if not ssl.empty:
            ordered = ssl.sort_values("auroc", kind="stable").to_dict("records")
            lo, hi = ordered[0], ordered[-1]
            points.append(
                f"Test AUROC: supervised {fmt_ci(sup['auroc'], sup['auroc_low'], sup['auroc_high'])}; "
                f"SSL setups from {lo['auroc']:.3f} ({lo['setup']}) to {hi['auroc']:.3f} ({hi['setup']})."
            )
    elif not comp.empty:
        points.append("No supervised baseline: setups are shown without improvements.")
    if label_bias is not None and not label_bias.empty and "disparate_impact" in label_bias:
        lb = (
            label_bias[~label_bias["is_reference"].astype(bool)]
            if "is_reference" in label_bias
            else label_bias
        )
        di = numeric_column(lb, "disparate_impact")
        ok = np.isfinite(di) & (di > 0)
        if ok.any():
            dev = np.where(ok, np.abs(np.log(np.where(ok, di, 1.0))), -1.0)
            r = lb.iloc[int(np.argmax(dev))]
            band = "inside" if in_four_fifths_band(float(r["disparate_impact"])) else "outside"
            ref = f" vs '{r['reference']}'" if "reference" in r and pd.notna(r["reference"]) else ""
            points.append(
                f"Label bias before any model: P(y=1) of {r['attribute']} group '{r['group']}' is "
                f"{float(r['prevalence']):.3f}, disparate impact {float(r['disparate_impact']):.2f}{ref} "
                f"({band} the four-fifths band 0.8-1.25)."
            )
    if ratios is not None and not ratios.empty and "ratio" in ratios:
        per_setup = ratios.drop_duplicates("setup")
        finite = per_setup[np.isfinite(numeric_column(per_setup, "ratio"))]
        if not finite.empty:
            top = finite.loc[finite["ratio"].idxmax()]
            largest, smallest = (
                varies_text(top["largest_gap_attribute"]),
                varies_text(top["smallest_gap_attribute"]),
            )
            points.append(
                f"Where it lives: the attribute with the largest AUROC gap ({largest}) has "
                f"{float(top['ratio']):.1f}x the best-vs-worst representation dissimilarity of the one with "
                f"the smallest gap ({smallest}) in setup {top['setup']} (mean over seeds; the paper "
                "reports up to 13x)."
            )
    if not comp.empty:
        n = int(comp["n_seeds"].max())
        if n == 1:
            points.append(
                "Caveat: one seed per setup; intervals reflect test-set resampling only. Use several seeds "
                "(e.g. seeds = [0, 1, 2, 3, 4]) before drawing conclusions."
            )
        elif n < 5:
            points.append(f"Caveat: {n} seeds per setup; across-seed intervals are wide with so few runs.")
    if warnings:
        points.append(
            f"The dataset audit raised {len(warnings)} warning(s) (small groups, missing values...): see "
            "the audit section."
        )
    return points


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The compact per-setup table printed at the end of ``fairssl run``: text cells with intervals.

    Columns: setup, seeds, ``AUROC [95% CI]``, ``parity deviation [95% CI]`` and ``PD improvement vs
    supervised`` (relative, ``+28% [12, 41]`` in %: > 0 is fairer; ``baseline`` for supervised). Intervals as
    in :func:`setup_comparison` (across seeds, or one run's bootstrap).
    """
    by_variant = split_variants(summary) if summary is not None and not summary.empty else []
    if len(by_variant) > 1:
        per = [summary_table(rows).assign(**{VARIANT: name}) for name, rows in by_variant]
        out = pd.concat(per, ignore_index=True)
        return out[[VARIANT, *[c for c in out.columns if c != VARIANT]]]
    comp = setup_comparison(summary)
    rows = []
    for _, r in comp.iterrows():
        if r["setup"] == SUPERVISED:
            imp = "baseline"
        elif not np.isfinite(r["improvement"]):
            imp = "n/a"
        else:
            imp = f"{100 * r['improvement']:+.0f}%"
            if np.isfinite(r["improvement_low"]) and np.isfinite(r["improvement_high"]):
                imp += f" [{100 * r['improvement_low']:.0f}, {100 * r['improvement_high']:.0f}]"
        rows.append(
            {
                "setup": r["setup"],
                "seeds": int(r["n_seeds"]),
                "AUROC [95% CI]": fmt_ci(r["auroc"], r["auroc_low"], r["auroc_high"]),
                "parity deviation [95% CI]": fmt_ci(r["parity_deviation"], r["pd_low"], r["pd_high"]),
                "PD improvement vs supervised": imp,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "setup",
            "seeds",
            "AUROC [95% CI]",
            "parity deviation [95% CI]",
            "PD improvement vs supervised",
        ],
    )
