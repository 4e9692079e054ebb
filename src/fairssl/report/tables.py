"""Tables of the report and its plain-language verdict, as pure functions of the stored result tables.

Inputs are the frames ``analyse`` writes under ``results/`` (``summary.csv``: one row per fine-tuning run;
``results.parquet``: one row per run x label x attribute x group x metric; ``cka_*.csv``) and the audit's
``dataset/groups.csv``. Nothing here trains, reads files or draws.

Two kinds of interval appear, and every table says which one it holds (``*_ci`` column):

- ``seeds``: Student-t interval of the mean over seeds (training randomness and test sampling together);
  used whenever at least two seeds have a value.
- ``bootstrap``: the percentile interval of one run's subject-level bootstrap on the test set (test
  sampling only; ``analyse`` stores it as ``*_low``/``*_high``); used when only one seed has a value.
- ``none``: one seed and no bootstrap (``evaluation.n_boot = 0``): no interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import SETUP_NAMES
from fairssl.evaluation.compare import t_interval
from fairssl.evaluation.fairness import PARITY_RATIOS, WORST_GROUP

SUPERVISED = "supervised"
VARIANT = "variant"
"""Column naming the grid variant of a row (``fairssl run`` with a ``[grid]``); several variants are
compared separately, never pooled."""
CONFIDENCE = 0.95
MAX_AUROC_DROP = 0.01
"""Default AUROC cost (1 point) a setup may have and still count as a good trade-off (the paper's ~1%)."""

FOUR_FIFTHS = 0.2
"""|1 - ratio| <= 0.2 is (about) the four-fifths band 0.8-1.25 of a ratio."""

VERDICTS = ("baseline", "fairer", "not_distinguishable", "less_fair", "no_interval", "no_baseline")
"""``verdict`` of :func:`setup_comparison`: the relative improvement's interval lies above 0 (fairer), below
0 (less fair), includes 0 (not distinguishable), is missing (no interval) or cannot be computed."""

COMPARISON_COLUMNS = [
    "setup",
    "n_seeds",
    "auroc",
    "auroc_low",
    "auroc_high",
    "auroc_ci",
    "parity_deviation",
    "pd_low",
    "pd_high",
    "pd_ci",
    "n_pairs",
    "auroc_change",
    "auroc_change_low",
    "auroc_change_high",
    "pd_change",
    "pd_change_low",
    "pd_change_high",
    "improvement",
    "improvement_low",
    "improvement_high",
    "improvement_ci",
    "verdict",
]


# ------------------------------------------------------------------------------------------------ helpers
def setup_order(setups: Iterable[Any]) -> list[str]:
    """Setups in order of the level of supervision (the paper's order), unknown names last, sorted."""
    names = {str(s) for s in setups}
    known = [s for s in SETUP_NAMES if s in names]
    return known + sorted(names - set(known))


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def _interval(
    values: np.ndarray, low: np.ndarray, high: np.ndarray, *, confidence: float
) -> tuple[float, float, float, str, int]:
    """(mean, low, high, source, n) of per-seed values (n,), falling back to one run's bootstrap interval.

    With >= 2 finite values: their mean and Student-t interval (``seeds``). With one: that value and its
    stored bootstrap interval (``bootstrap``; ``none`` when the interval is missing). With none: NaNs.
    """
    ok = np.isfinite(values)
    n = int(ok.sum())
    if n == 0:
        return np.nan, np.nan, np.nan, "none", 0
    if n == 1:
        i = int(np.flatnonzero(ok)[0])
        lo, hi = float(low[i]), float(high[i])
        source = "bootstrap" if np.isfinite(lo) and np.isfinite(hi) else "none"
        return float(values[i]), lo, hi, source, 1
    lo, hi = t_interval(values[ok], confidence=confidence)
    return float(values[ok].mean()), lo, hi, "seeds", n


def _verdict(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no_interval"
    if low > 0:
        return "fairer"
    if high < 0:
        return "less_fair"
    return "not_distinguishable"


def variant_names(frame: pd.DataFrame | None) -> list[str]:
    """The grid variants of a results table (its ``variant`` column, in order of appearance); [] if none."""
    if frame is None or frame.empty or VARIANT not in frame.columns:
        return []
    return list(dict.fromkeys(frame[VARIANT].astype(str)))


def split_variants(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """``[(variant, rows)]`` per grid variant; one ``(name or None, frame)`` without several variants."""
    names = variant_names(frame)
    if len(names) <= 1:
        return [(names[0] if names else None, frame)]
    col = frame[VARIANT].astype(str)
    return [(name, frame[col == name]) for name in names]


# ------------------------------------------------------------------------------------- setup comparison
def setup_comparison(summary: pd.DataFrame, *, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per setup: AUROC, parity deviation and the change against supervised, with intervals.

    Args:
        summary: ``results/summary.csv`` (columns setup, seed, auroc[, auroc_low, auroc_high],
            parity_deviation[, pd_low, pd_high, improvement, auroc_difference_diff[_low/_high],
            parity_deviation_difference_diff[_low/_high], relative_improvement_diff[_low/_high]]).
        confidence: level of the across-seed Student-t intervals.

    Returns:
        DataFrame with :data:`COMPARISON_COLUMNS`, setups in :func:`setup_order`. Per setup: the mean over
        seeds of AUROC and parity deviation (PD, ideal 0, higher is less fair) with their intervals. For a
        setup other than supervised, over the seeds both have (``n_pairs``): ``auroc_change`` = mean of
        AUROC_setup - AUROC_supervised (> 0: more accurate), ``pd_change`` = mean of PD_setup - PD_sup
        (< 0: fairer) and ``improvement`` = (mean PD_sup - mean PD_setup) / mean PD_sup (> 0: fairer; 0.28
        = 28% lower PD; consistent with the two means shown beside it). Intervals are across-seed t
        intervals of the paired differences with >= 2 pairs (the improvement's is the PD difference's
        divided by mean PD_sup, treating the baseline mean as fixed), else the run's paired bootstrap
        interval (see the module docstring; ``improvement_ci`` names the source). Intervals are clipped
        to the quantity's range (AUROC [0, 1], PD >= 0, AUROC change [-1, 1], improvement <= 1).
        ``verdict``: see :data:`VERDICTS`.
    """
    if summary is None or summary.empty or "setup" not in summary.columns:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    parts = split_variants(summary)
    if len(parts) > 1:
        frames = [
            setup_comparison(rows, confidence=confidence).assign(**{VARIANT: name}) for name, rows in parts
        ]
        out = pd.concat(frames, ignore_index=True)
        return out[[VARIANT, *COMPARISON_COLUMNS]]
    data = summary.copy()
    data["setup"] = data["setup"].astype(str)
    if "seed" not in data.columns:
        data["seed"] = 0
    data = data.sort_values(["setup", "seed"], kind="stable")  # sums in one order: invariant to row order
    sup = data[data["setup"] == SUPERVISED].drop_duplicates("seed").set_index("seed")
    rows = []
    for setup in setup_order(data["setup"].unique()):
        own = data[data["setup"] == setup].drop_duplicates("seed")
        auroc = _interval(
            _values(own, "auroc"),
            _values(own, "auroc_low"),
            _values(own, "auroc_high"),
            confidence=confidence,
        )
        pdev = _interval(
            _values(own, "parity_deviation"),
            _values(own, "pd_low"),
            _values(own, "pd_high"),
            confidence=confidence,
        )
        auroc = (auroc[0], *np.clip(auroc[1:3], 0.0, 1.0), *auroc[3:])
        pdev = (pdev[0], *np.clip(pdev[1:3], 0.0, None), *pdev[3:])
        row: dict[str, Any] = {
            "setup": setup,
            "n_seeds": int(own["seed"].nunique()),
            "auroc": auroc[0],
            "auroc_low": auroc[1],
            "auroc_high": auroc[2],
            "auroc_ci": auroc[3],
            "parity_deviation": pdev[0],
            "pd_low": pdev[1],
            "pd_high": pdev[2],
            "pd_ci": pdev[3],
        }
        if setup == SUPERVISED:
            row.update(n_pairs=0, improvement_ci="none", verdict="baseline")
        elif sup.empty:
            row.update(n_pairs=0, improvement_ci="none", verdict="no_baseline")
        else:
            paired = own[own["seed"].isin(sup.index)]
            base = sup.loc[paired["seed"].to_numpy()]
            pd_own, pd_sup = _values(paired, "parity_deviation"), _values(base, "parity_deviation")
            auroc_d = _values(paired, "auroc") - _values(base, "auroc")
            pd_d = pd_own - pd_sup
            ach = _interval(
                auroc_d,
                _values(paired, "auroc_difference_diff_low"),
                _values(paired, "auroc_difference_diff_high"),
                confidence=confidence,
            )
            pch = _interval(
                pd_d,
                _values(paired, "parity_deviation_difference_diff_low"),
                _values(paired, "parity_deviation_difference_diff_high"),
                confidence=confidence,
            )
            ok = np.isfinite(pd_d)
            mean_sup = float(pd_sup[ok].mean()) if ok.any() else np.nan
            if pch[4] == 1:  # one pair: the run's paired bootstrap of the relative improvement itself
                i = int(np.flatnonzero(ok)[0])
                rel_v = float(-pd_d[i] / pd_sup[i]) if pd_sup[i] != 0 else np.nan
                lo_v = float(_values(paired, "relative_improvement_diff_low")[i])
                hi_v = float(_values(paired, "relative_improvement_diff_high")[i])
                source = "bootstrap" if np.isfinite(lo_v) and np.isfinite(hi_v) else "none"
                imp = (rel_v, lo_v, hi_v, source, 1)
            elif pch[4] >= 2 and mean_sup > 0:  # ratio of means; t interval of the paired differences
                imp = (-pch[0] / mean_sup, -pch[2] / mean_sup, -pch[1] / mean_sup, "seeds", pch[4])
            else:
                imp = (np.nan, np.nan, np.nan, "none", pch[4])
            ach = (ach[0], *np.clip(ach[1:3], -1.0, 1.0), *ach[3:])  # AUROC differences lie in [-1, 1]
            imp = (imp[0], *np.clip(imp[1:3], None, 1.0), *imp[3:])  # PD >= 0: at most 100% lower
            row.update(
                n_pairs=imp[4],
                auroc_change=ach[0],
                auroc_change_low=ach[1],
                auroc_change_high=ach[2],
                pd_change=pch[0],
                pd_change_low=pch[1],
                pd_change_high=pch[2],
                improvement=imp[0],
                improvement_low=imp[1],
                improvement_high=imp[2],
                improvement_ci=imp[3],
                verdict="no_baseline" if imp[4] == 0 else _verdict(imp[1], imp[2]),
            )
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COMPARISON_COLUMNS)


def best_tradeoff(comparison: pd.DataFrame, *, max_auroc_drop: float = MAX_AUROC_DROP) -> str | None:
    """The SSL setup with the best fairness-performance trade-off, or None when none can be compared.

    Among setups other than supervised with a finite ``improvement``, those whose mean AUROC change is at
    least ``-max_auroc_drop`` are eligible (all of them when none is); the one with the largest mean
    relative improvement wins (ties: the smaller AUROC cost, then the name).
    """
    if comparison.empty:
        return None
    ssl = comparison[(comparison["setup"] != SUPERVISED) & np.isfinite(_values(comparison, "improvement"))]
    if ssl.empty:
        return None
    change = _values(ssl, "auroc_change")
    eligible = ssl[np.nan_to_num(change, nan=-np.inf) >= -max_auroc_drop - 1e-12]
    pool = eligible if not eligible.empty else ssl
    ranked = pool.assign(
        _imp=_values(pool, "improvement"), _auc=np.nan_to_num(_values(pool, "auroc_change"), nan=-np.inf)
    ).sort_values(["_imp", "_auc", "setup"], ascending=[False, False, True], kind="stable")
    return str(ranked.iloc[0]["setup"])


# ------------------------------------------------------------------------------------------- formatting
def fmt_ci(value: float, low: float, high: float, *, digits: int = 3) -> str:
    """``0.704 [0.626, 0.783]``; the value alone when the interval is missing; ``n/a`` for NaN."""
    if not np.isfinite(value):
        return "n/a"
    if np.isfinite(low) and np.isfinite(high):
        return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{value:.{digits}f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _pct_ci(low: float, high: float) -> str:
    return f"[95% CI {100 * low:.0f}% to {100 * high:.0f}%]"


def _points(v: float) -> str:
    return f"{100 * v:+.1f}"


def _by_setup(comp: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(r["setup"]): {str(k): v for k, v in r.items()} for r in comp.to_dict("records")}


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
    by_setup = _by_setup(comp)
    sup = by_setup[SUPERVISED]
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
    row = by_setup[best]
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
    change = _values(comp[comp["setup"] != SUPERVISED], "auroc_change")
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
        sup = _by_setup(comp)[SUPERVISED]
        ssl = comp[(comp["setup"] != SUPERVISED) & np.isfinite(_values(comp, "auroc"))]
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
        di = _values(lb, "disparate_impact")
        ok = np.isfinite(di) & (di > 0)
        if ok.any():
            dev = np.where(ok, np.abs(np.log(np.where(ok, di, 1.0))), -1.0)
            r = lb.iloc[int(np.argmax(dev))]
            band = "outside" if not 0.8 <= float(r["disparate_impact"]) <= 1.25 else "inside"
            ref = f" vs '{r['reference']}'" if "reference" in r and pd.notna(r["reference"]) else ""
            points.append(
                f"Label bias before any model: P(y=1) of {r['attribute']} group '{r['group']}' is "
                f"{float(r['prevalence']):.3f}, disparate impact {float(r['disparate_impact']):.2f}{ref} "
                f"({band} the four-fifths band 0.8-1.25)."
            )
    if ratios is not None and not ratios.empty and "ratio" in ratios:
        per_setup = ratios.drop_duplicates("setup")
        finite = per_setup[np.isfinite(_values(per_setup, "ratio"))]
        if not finite.empty:
            top = finite.loc[finite["ratio"].idxmax()]
            largest, smallest = (
                _varies_text(top["largest_gap_attribute"]),
                _varies_text(top["smallest_gap_attribute"]),
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


# -------------------------------------------------------------------------------- tables from results
_UNIT_INTERVAL = frozenset({"auroc", "auprc", "accuracy", "balanced_accuracy", "f1"})


def metric_range(metric: str) -> tuple[float, float]:
    """The range a metric's value (and so its interval) can take: [0, 1] for performance metrics,
    [0, inf) for ratios and parity deviation, [-1, 1] for differences of rates."""
    if metric in _UNIT_INTERVAL:
        return 0.0, 1.0
    if metric == "parity_deviation" or metric.endswith("_ratio") or metric == "disparate_impact":
        return 0.0, np.inf
    if metric.endswith("_difference"):
        return -1.0, 1.0
    return -np.inf, np.inf


def _collapse(rows: pd.DataFrame, keys: list[str], *, confidence: float) -> pd.DataFrame:
    """Per ``keys``: mean estimate over seeds and its interval (t over seeds, else the run's bootstrap).

    Vectorised over groups: with n >= 2 finite estimates, mean -/+ t_{(1+c)/2, n-1} sd / sqrt(n); with
    n = 1 the stored interval of that run; intervals clipped to :func:`metric_range` when ``metric`` is a
    key.
    """
    cols = [
        *keys,
        "n_group",
        "n_reference",
        "n_seeds",
        "n_runs",
        "estimate",
        "ci_low",
        "ci_high",
        "ci",
        "reason",
    ]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    from scipy import stats

    data = rows[keys].copy()
    est = _values(rows, "estimate")
    ok = np.isfinite(est)
    data["_est"] = np.where(ok, est, np.nan)
    data["_ok"] = ok.astype(np.int64)
    data["_lo1"] = np.where(ok, _values(rows, "ci_low"), np.nan)
    data["_hi1"] = np.where(ok, _values(rows, "ci_high"), np.nan)
    data["_ng"] = _values(rows, "n_group")
    data["_nr"] = _values(rows, "n_reference")
    data["_reason"] = rows["reason"].fillna("").astype(str).to_numpy() if "reason" in rows else ""
    g = data.groupby(keys, sort=False, dropna=False)
    agg = g.agg(
        n_group=("_ng", "max"),
        n_reference=("_nr", "max"),
        n_seeds=("_ok", "sum"),
        n_runs=("_ok", "size"),
        estimate=("_est", "mean"),
        sd=("_est", "std"),
        lo1=("_lo1", "first"),
        hi1=("_hi1", "first"),
        reason=("_reason", lambda r: ";".join(sorted({x for x in r if x}))),
    ).reset_index()
    n = agg["n_seeds"].to_numpy(dtype=np.float64)
    mean = agg["estimate"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * agg["sd"].to_numpy() / np.sqrt(n)
    multi = n >= 2
    lo = np.where(multi, mean - half, np.where(n == 1, agg["lo1"], np.nan))
    hi = np.where(multi, mean + half, np.where(n == 1, agg["hi1"], np.nan))
    if "metric" in keys:
        ranges = np.array([metric_range(str(m)) for m in agg["metric"]]).reshape(-1, 2)  # (groups, 2)
        lo = np.clip(lo, ranges[:, 0], ranges[:, 1])
        hi = np.clip(hi, ranges[:, 0], ranges[:, 1])
    agg["ci_low"], agg["ci_high"] = lo, hi
    single_ok = (n == 1) & np.isfinite(lo) & np.isfinite(hi)
    agg["ci"] = np.where(multi, "seeds", np.where(single_ok, "bootstrap", "none"))
    agg["n_group"] = agg["n_group"].fillna(-1).astype(np.int64)
    agg["n_reference"] = agg["n_reference"].fillna(-1).astype(np.int64)
    agg["n_seeds"] = agg["n_seeds"].astype(np.int64)
    return agg[cols]


def _consensus(values: pd.Series) -> str:
    """The value all seeds agree on, else ``"a / b (varies)"`` listing them by frequency."""
    counts = values.astype(str).value_counts(sort=True)
    if len(counts) == 1:
        return str(counts.index[0])
    return " / ".join(str(v) for v in counts.index) + " (varies)"


def _varies_text(value: Any) -> str:
    """``"race / sex (varies)"`` -> ``"race or sex, depending on the seed"``; other values unchanged."""
    text = str(value)
    if text.endswith(" (varies)"):
        return text.removesuffix(" (varies)").replace(" / ", " or ") + ", depending on the seed"
    return text


def _label(results: pd.DataFrame, label: str) -> pd.DataFrame:
    if results is None or results.empty:
        return pd.DataFrame()
    if "label" in results.columns:
        results = results[results["label"] == label]
    return results


def metric_table(
    results: pd.DataFrame, *, label: str = "recorded", confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Every metric of ``results.parquet`` for one label set, collapsed over seeds.

    One row per setup x kind x attribute x group x reference group x metric with the group sizes
    (``n_group``, ``n_reference``: test windows; for performance rows ``n_reference`` is the positives),
    ``n_seeds`` with a value, ``n_runs``, the mean ``estimate``, its interval (``ci``: seeds | bootstrap |
    none, see the module docstring) and every reason code seen (``;``-joined: why a value is missing).
    Setups in level-of-supervision order; within a setup the stored row order.
    """
    rows = _label(results, label)
    if rows.empty:
        return pd.DataFrame()
    keys = ["setup", "kind", "attribute", "group", "reference_group", "metric"]
    keys = ([VARIANT] if len(variant_names(rows)) > 1 else []) + [k for k in keys if k in rows.columns]
    table = _collapse(rows.assign(setup=rows["setup"].astype(str)), keys, confidence=confidence)
    order = {s: i for i, s in enumerate(setup_order(table["setup"].unique()))}
    return table.sort_values("setup", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def group_auroc_table(
    results: pd.DataFrame, *, label: str = "recorded", metric: str = "auroc", confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """AUROC (or another performance metric) per setup x attribute x group, mean over seeds with interval.

    Includes the ``overall`` row (attribute ``overall``). Columns as in :func:`metric_table`.
    """
    rows = _label(results, label)
    if rows.empty:
        return pd.DataFrame()
    rows = rows[(rows["metric"] == metric) & (rows.get("kind", "performance") == "performance")]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(setup=rows["setup"].astype(str))
    return _collapse(rows, ["setup", "attribute", "group", "metric"], confidence=confidence)


def auroc_gap_table(
    results: pd.DataFrame, *, label: str = "recorded", confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Per setup x attribute: AUROC of the best group minus that of the worst (>= 0; 0 is ideal).

    Computed per run over the groups whose AUROC is defined (>= 2 of them), then averaged over seeds with
    a t interval (``n_seeds`` >= 2); columns setup, attribute, n_seeds, gap, gap_low, gap_high, best_group,
    worst_group (``a / b (varies)`` when the seeds disagree).
    """
    rows = _label(results, label)
    if rows.empty:
        return pd.DataFrame()
    rows = rows[
        (rows["metric"] == "auroc")
        & ~rows["attribute"].isin(["overall", "all"])
        & np.isfinite(_values(rows, "estimate"))
    ]
    per_run = []
    for (setup, seed, attribute), grp in rows.groupby(["setup", "seed", "attribute"], sort=False):
        if len(grp) < 2:
            continue
        ordered = grp.sort_values(["estimate", "group"], ascending=[False, True])
        per_run.append(
            {
                "setup": str(setup),
                "seed": seed,
                "attribute": attribute,
                "gap": float(ordered["estimate"].iloc[0] - ordered["estimate"].iloc[-1]),
                "best_group": ordered["group"].iloc[0],
                "worst_group": ordered["group"].iloc[-1],
            }
        )
    cols = ["setup", "attribute", "n_seeds", "gap", "gap_low", "gap_high", "best_group", "worst_group"]
    if not per_run:
        return pd.DataFrame(columns=cols)
    runs = pd.DataFrame(per_run)
    out = []
    for (setup, attribute), grp in runs.groupby(["setup", "attribute"], sort=False):
        gaps = grp["gap"].to_numpy(dtype=float)
        lo, hi = t_interval(gaps, confidence=confidence)
        lo, hi = max(lo, 0.0), min(hi, 1.0)  # a gap of AUROCs lies in [0, 1]
        out.append(
            {
                "setup": setup,
                "attribute": attribute,
                "n_seeds": len(gaps),
                "gap": float(gaps.mean()),
                "gap_low": lo,
                "gap_high": hi,
                "best_group": _consensus(grp["best_group"]),
                "worst_group": _consensus(grp["worst_group"]),
            }
        )
    return pd.DataFrame(out, columns=cols)


def parity_cells(results: pd.DataFrame, *, label: str = "recorded") -> pd.DataFrame:
    """The cells pooled by parity deviation: |1 - ratio| per setup x attribute x group x ratio.

    Rows whose metric is one of the six :data:`~fairssl.evaluation.fairness.PARITY_RATIOS` (not the
    ``worst`` rows), averaged over seeds (NaN values left out); columns setup, attribute, group, metric,
    deviation, n_seeds. Their mean per setup is (close to) the setup's parity deviation.
    """
    rows = _label(results, label)
    if rows.empty:
        return pd.DataFrame(columns=["setup", "attribute", "group", "metric", "deviation", "n_seeds"])
    rows = rows[rows["metric"].isin(PARITY_RATIOS) & (rows["group"] != WORST_GROUP)]
    rows = rows.assign(deviation=np.abs(1.0 - _values(rows, "estimate")), setup=rows["setup"].astype(str))
    rows = rows[np.isfinite(rows["deviation"])]
    g = rows.groupby(["setup", "attribute", "group", "metric"], sort=False)["deviation"]
    return pd.DataFrame({"deviation": g.mean(), "n_seeds": g.count()}).reset_index()


def frozen_level(setup: str, *, layer_names: Sequence[str] = ("conv1", "conv2", "conv3")) -> float:
    """Number of frozen encoder layers of a named setup (NaN for supervised and unknown names)."""
    from fairssl.errors import FairsslError
    from fairssl.finetune.setups import get_setup

    if setup == SUPERVISED:
        return float("nan")
    try:
        return float(get_setup(str(setup), list(layer_names)).n_frozen)
    except FairsslError:
        return float("nan")


def supervision_table(
    comparison: pd.DataFrame,
    gaps: pd.DataFrame,
    *,
    layer_names: Sequence[str] = ("conv1", "conv2", "conv3"),
) -> pd.DataFrame:
    """Per setup: level of supervision (supervised, or n frozen layers), AUROC, parity deviation, AUROC gaps.

    ``comparison`` is :func:`setup_comparison`'s output, ``gaps`` :func:`auroc_gap_table`'s. Columns
    setup, level (``supervised`` or the number of frozen layers as text), frozen (float, NaN for
    supervised), auroc[_low/_high], parity_deviation, pd_low, pd_high and one ``gap_<attribute>`` column
    per attribute. Setups whose level is unknown (custom names) are left out.
    """
    if comparison.empty:
        return pd.DataFrame()
    out = comparison[["setup", "auroc", "auroc_low", "auroc_high", "parity_deviation", "pd_low", "pd_high"]]
    out = out.copy()
    out["frozen"] = [frozen_level(s, layer_names=layer_names) for s in out["setup"]]
    keep = (out["setup"] == SUPERVISED) | np.isfinite(out["frozen"])
    out = out[keep].copy()
    out.insert(
        1,
        "level",
        [
            SUPERVISED if s == SUPERVISED else f"{f:.0f}"
            for s, f in zip(out["setup"], out["frozen"], strict=True)
        ],
    )
    if gaps is not None and not gaps.empty:
        wide = gaps.pivot_table(index="setup", columns="attribute", values="gap", aggfunc="mean")
        wide.columns = [f"gap_{c}" for c in wide.columns]
        out = out.merge(wide, left_on="setup", right_index=True, how="left")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- stage 4
def cka_mean(cka: pd.DataFrame) -> pd.DataFrame:
    """``cka.csv`` averaged over seeds: setup, layer_a (supervised), layer_b (SSL), cka, n_seeds."""
    if cka is None or cka.empty:
        return pd.DataFrame(columns=["setup", "layer_a", "layer_b", "cka", "n_seeds"])
    g = cka.assign(setup=cka["setup"].astype(str)).groupby(["setup", "layer_a", "layer_b"], sort=False)["cka"]
    return pd.DataFrame({"cka": g.mean(), "n_seeds": g.count()}).reset_index()


def best_worst_table(best_worst: pd.DataFrame) -> pd.DataFrame:
    """``cka_best_worst.csv`` averaged over seeds, per setup x attribute x layer pair.

    Columns setup, attribute, best_group, worst_group (``a / b (varies)`` when seeds disagree), layer_a,
    layer_b, diff (mean of CKA_best - CKA_worst), perm_diff_bound (mean permutation bound), exceeds (|diff| >
    bound of the means), exceeds_share (share of seeds whose own |diff| exceeded their bound), n_seeds.
    """
    cols = [
        "setup",
        "attribute",
        "best_group",
        "worst_group",
        "layer_a",
        "layer_b",
        "diff",
        "perm_diff_bound",
        "exceeds",
        "exceeds_share",
        "n_seeds",
    ]
    if best_worst is None or best_worst.empty:
        return pd.DataFrame(columns=cols)
    data = best_worst.assign(setup=best_worst["setup"].astype(str))
    data = data.assign(exceeds=data["exceeds"].astype(str).str.lower().isin(["true", "1"]))
    rows = []
    for (setup, attribute, la, lb), grp in data.groupby(
        ["setup", "attribute", "layer_a", "layer_b"], sort=False
    ):
        diff = float(grp["diff"].mean())
        bound = float(grp["perm_diff_bound"].mean())
        rows.append(
            {
                "setup": setup,
                "attribute": attribute,
                "best_group": _consensus(grp["best_group"]),
                "worst_group": _consensus(grp["worst_group"]),
                "layer_a": la,
                "layer_b": lb,
                "diff": diff,
                "perm_diff_bound": bound,
                "exceeds": bool(np.isfinite(bound) and abs(diff) > bound),
                "exceeds_share": float(grp["exceeds"].mean()),
                "n_seeds": int(grp["seed"].nunique()) if "seed" in grp else len(grp),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def dissimilarity_table(ratio: pd.DataFrame) -> pd.DataFrame:
    """``cka_ratio.csv`` averaged over seeds: per setup x attribute the AUROC gap G and dissimilarity D.

    Columns setup, attribute, best_group, worst_group, perf_gap, dissimilarity, n_exceeding (mean layer
    pairs beyond the permutation bound), n_layer_pairs, ratio (mean over seeds of D(largest G) / D(smallest
    G)), spearman (mean), largest_gap_attribute, smallest_gap_attribute (``(varies)`` as above), n_seeds.
    """
    cols = [
        "setup",
        "attribute",
        "best_group",
        "worst_group",
        "perf_gap",
        "dissimilarity",
        "n_exceeding",
        "n_layer_pairs",
        "ratio",
        "spearman",
        "largest_gap_attribute",
        "smallest_gap_attribute",
        "n_seeds",
    ]
    if ratio is None or ratio.empty:
        return pd.DataFrame(columns=cols)
    data = ratio.assign(setup=ratio["setup"].astype(str))
    if "seed" not in data:
        data = data.assign(seed=0)
    rows = []
    for setup, sub in data.groupby("setup", sort=False):
        per_seed = []
        for _, s in sub.groupby("seed"):
            by_gap = s.sort_values(["perf_gap", "attribute"], ascending=[False, True])
            per_seed.append((by_gap["attribute"].iloc[0], by_gap["attribute"].iloc[-1]))
        largest = _consensus(pd.Series([p[0] for p in per_seed]))
        smallest = _consensus(pd.Series([p[1] for p in per_seed]))
        seed_level = sub.drop_duplicates("seed")
        ratio_v = _values(seed_level, "ratio")
        spear = _values(seed_level, "spearman")
        for attribute, grp in sub.groupby("attribute", sort=False):
            rows.append(
                {
                    "setup": setup,
                    "attribute": attribute,
                    "best_group": _consensus(grp["best_group"]),
                    "worst_group": _consensus(grp["worst_group"]),
                    "perf_gap": float(grp["perf_gap"].mean()),
                    "dissimilarity": float(grp["dissimilarity"].mean()),
                    "n_exceeding": float(grp["n_exceeding"].mean()),
                    "n_layer_pairs": int(grp["n_layer_pairs"].max()),
                    "ratio": float(np.nanmean(ratio_v)) if np.isfinite(ratio_v).any() else np.nan,
                    "spearman": float(np.nanmean(spear)) if np.isfinite(spear).any() else np.nan,
                    "largest_gap_attribute": largest,
                    "smallest_gap_attribute": smallest,
                    "n_seeds": int(grp["seed"].nunique()),
                }
            )
    out = pd.DataFrame(rows, columns=cols)
    order = {s: i for i, s in enumerate(setup_order(out["setup"].unique()))}
    return out.sort_values(
        ["setup", "perf_gap"], key=lambda s: s.map(order) if s.name == "setup" else -s, kind="stable"
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- stage 1
def label_bias_table(groups: pd.DataFrame, *, references: pd.DataFrame | None = None) -> pd.DataFrame:
    """The audit's label bias per attribute x group (all windows) with the test split's counts beside.

    Columns attribute, group, reference, is_reference, windows, share, subjects, prevalence,
    mean_difference (P(y=1|g) - P(y=1|ref), ideal 0), disparate_impact (ratio, ideal 1; outside 0.8-1.25
    fails the four-fifths rule), test_windows, test_positives, test_negatives.
    """
    if groups is None or groups.empty:
        return pd.DataFrame()
    split = groups["split"] if "split" in groups else pd.Series("all", index=groups.index)
    base = groups[split == "all"].copy()
    if base.empty:
        base = groups.copy()
    test = groups[split == "test"].set_index(["attribute", "group"])
    keep = [
        c
        for c in [
            "attribute",
            "group",
            "is_reference",
            "windows",
            "share",
            "subjects",
            "prevalence",
            "mean_difference",
            "disparate_impact",
        ]
        if c in base.columns
    ]
    out = base[keep].reset_index(drop=True)
    if "is_reference" in out:
        out["is_reference"] = out["is_reference"].astype(str).str.lower().isin(["true", "1"])
    if references is not None and not references.empty:
        out = out.merge(references, on="attribute", how="left")
    elif "is_reference" in out:
        refs = out[out["is_reference"]].groupby("attribute")["group"].first()
        out["reference"] = out["attribute"].map(refs)
    for col, src in (
        ("test_windows", "windows"),
        ("test_positives", "positives"),
        ("test_negatives", "negatives"),
    ):
        if src in test.columns:
            out[col] = [
                test[src].get((a, g), np.nan) for a, g in zip(out["attribute"], out["group"], strict=True)
            ]
    front = ["attribute", "group", "reference"] if "reference" in out else ["attribute", "group"]
    return out[front + [c for c in out.columns if c not in front]]


def split_table(sizes: pd.DataFrame, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """The audit's split sizes with a ``split`` column (recovered from ``groups`` for older run folders)."""
    if sizes is None or sizes.empty:
        return pd.DataFrame()
    if "split" in sizes.columns:
        return sizes.reset_index(drop=True)
    names: list[str] = []
    if groups is not None and "split" in groups:
        names = list(dict.fromkeys(groups["split"].astype(str)))
    if len(names) != len(sizes):
        names = [f"row {i}" for i in range(len(sizes))]
    return sizes.reset_index(drop=True).assign(split=names)[["split", *sizes.columns]]
