"""The report's plain-language verdict: one headline sentence, a few points and the compact CLI table.

Answers the paper's question from ``results/comparison.csv`` alone: which SSL setup gave the best
fairness-performance trade-off against the supervised baseline, by how much (relative parity-deviation
change and AUROC change, with intervals at the corrected level) and what the family's corrected test
decided (the verdict), with the study's power beside every null. Every number and verdict is the
evaluation's (:mod:`fairssl.evaluation.inference`); this module only words them. The chosen setup is
:func:`~fairssl.report.comparison.best_tradeoff`'s. The headline and the table are also printed at the end
of ``fairssl run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.report.attribution import attribution_sentence
from fairssl.report.caveats import audit_caveat, seed_caveat
from fairssl.report.comparison import MAX_AUROC_DROP, VERDICTS, best_tradeoff, setup_comparison
from fairssl.report.conventions import (
    SUPERVISED,
    VARIANT,
    by_setup,
    in_four_fifths_band,
    numeric_column,
    records,
    split_variants,
    study_alpha,
    varies_text,
)
from fairssl.report.formatting import fmt_ci
from fairssl.report.relative_interval import supervised_pd_low, unusable_relative
from fairssl.report.sentences import (  # the sentence functions are re-exported (used by tests, CLI)
    _control_sentence,
    _family_text,
    _finite,
    _float,
    _level_text,
    _matched_sentence,
    _names_text,
    _signed_pct,
    _size_points,
    auroc_text,
    change_text,
    power_text,
    verdict_sentence,
)
from fairssl.report.similarity_sentences import ratio_null_sentence
from fairssl.similarity.conditioned import REFERENCE_SETUP as CKA_REFERENCE


def headline(comparison: pd.DataFrame, *, max_auroc_drop: float = MAX_AUROC_DROP) -> str:
    """The report's plain-language answer: the SSL setup with the best trade-off and its verdict sentence
    (:func:`verdict_sentence`), then which other setups were fairer or less fair under the same corrected
    test, and what its random-init control says.
    """
    parts = (
        split_variants(comparison)
        if comparison is not None and not comparison.empty
        else [(None, comparison)]
    )
    if len(parts) > 1:
        return " ".join(f"[{name}] {headline(rows, max_auroc_drop=max_auroc_drop)}" for name, rows in parts)
    comp = setup_comparison(comparison)
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
        auroc = fmt_ci(sup["auroc"], sup["auroc_low"], sup["auroc_high"])
        pdev = fmt_ci(sup["parity_deviation"], sup["pd_low"], sup["pd_high"])
        return (
            f"Only the supervised baseline was run (AUROC {auroc}, parity deviation {pdev}): add SSL setups "
            "to finetune.setups to compare."
        )
    ssl = comp[comp["kind"].astype(str) == "ssl"]
    if ssl.empty:
        return (
            f"Only random-init controls were run beside supervised ({', '.join(setups[1:])}): add the "
            "pre-trained setups they control to finetune.setups."
        )
    best = best_tradeoff(comp, max_auroc_drop=max_auroc_drop)
    if best is None and not np.isfinite(numeric_column(comp, "parity_deviation")).any():
        return (
            "Parity deviation is undefined for every setup: every group comparison fell below "
            "evaluation.min_group_size, min_subjects or min_positives on the test set, or rests on zero "
            "events (the all-metrics table gives each reason). Lower those minimums, evaluate fewer or "
            "coarser attributes, or use more test subjects; AUROC is reported above."
        )
    if best is None:
        return (
            "No SSL setup shares a seed with the supervised baseline (or parity deviation is undefined), "
            "so no improvement can be computed: run the same seeds for every setup."
        )
    row = rows_by_setup[best]
    sentence = verdict_sentence(row, baseline=sup)
    change = numeric_column(ssl, "auroc_change")
    if (
        np.isfinite(change).any()
        and not (np.nan_to_num(change, nan=-np.inf) >= -max_auroc_drop - 1e-12).any()
    ):
        sentence += (
            f" Every SSL setup's mean AUROC change was below -{_size_points(max_auroc_drop)} points (the "
            "trade-off's tolerance), so the setup with the largest parity-deviation reduction is shown."
        )
    verdicts = ssl["verdict"].astype(str)
    for verdict, word in (("fairer", "fairer"), ("less_fair", "less fair")):
        others = [s for s in ssl.loc[verdicts == verdict, "setup"] if s != best]
        if others:
            lead = f"Also {word}" if str(row["verdict"]) == verdict else word.capitalize()
            sentence += f" {lead} than supervised under the same corrected test: {', '.join(others)}."
    if (verdicts == "not_distinguishable").any() and not verdicts.isin(["fairer", "less_fair"]).any():
        sentence += " No SSL setup was distinguishably fairer or less fair."
    extra = [t for t in (_matched_sentence(row), _control_sentence(row)) if t]
    return " ".join([sentence, *extra])


def _coverage_text(row: Mapping[str, Any]) -> str:
    """``Intervals cover test subjects, fine-tuning seeds (3) and pre-training seeds; they do not cover the
    data split (one test set).`` from the evaluation's ``sources`` / ``not_covered`` (``;``-separated)."""
    covered = [p.strip() for p in str(row.get("sources", "") or "").split(";") if p.strip()]
    missed = [p.strip() for p in str(row.get("not_covered", "") or "").split(";") if p.strip()]
    text = f"Intervals cover {_names_text(covered)}" if covered else ""
    if missed:
        text += ("; they do not cover " if text else "Intervals do not cover ") + _names_text(missed)
    return text + "." if text else ""


def attribution_points(comparison: pd.DataFrame) -> list[str]:
    """One :func:`~fairssl.report.attribution.attribution_sentence` per SSL setup (study order) that has
    one: its change against supervised credited to freezing or to pre-training, from the two verdicts."""
    comp = setup_comparison(comparison)
    if comp.empty or SUPERVISED not in set(comp["setup"]):
        return []
    rows = by_setup(comp)
    out = []
    for row in records(comp[comp["kind"].astype(str) == "ssl"]):
        control = row.get("control")
        control_row = rows.get(control) if isinstance(control, str) else None
        text = attribution_sentence(row, baseline=rows[SUPERVISED], control_row=control_row)
        if text:
            out.append(text)
    return out


def summary_points(
    comparison: pd.DataFrame,
    *,
    label_bias: pd.DataFrame | None = None,
    ratios: pd.DataFrame | None = None,
    warnings: Sequence[str] = (),
    max_auroc_drop: float = MAX_AUROC_DROP,
    caveats: bool = True,
) -> list[str]:
    """Short plain-language points shown under the headline.

    Args:
        comparison: ``results/comparison.csv`` (the evaluation's per-setup verdicts).
        label_bias: :func:`label_bias_table`'s output (rows of the ``all`` split), or None.
        ratios: :func:`dissimilarity_table`'s output, or None.
        warnings: the audit's warnings.
        caveats: append the few-seeds and audit-warning caveats (:mod:`~fairssl.report.caveats`); the
            report passes False and shows :func:`~fairssl.report.caveats.report_caveats` instead.

    Returns:
        Sentences: the setups by verdict; the AUROC range; for each SSL setup with a random-init control
        (or a verdict at chance), who gets the credit for its change (:func:`attribution_points`); the
        strongest label bias in the ground truth;
        the representation dissimilarity ratio; caveats (few seeds, audit warnings).
    """
    points: list[str] = []
    by_variant = split_variants(comparison) if comparison is not None and not comparison.empty else []
    if len(by_variant) > 1:
        for name, rows in by_variant:
            first = summary_points(rows, max_auroc_drop=max_auroc_drop)
            points += [f"[{name}] {first[0]}"] if first else []
        return points + summary_points(
            pd.DataFrame(), label_bias=label_bias, warnings=warnings, caveats=caveats
        )
    comp = setup_comparison(comparison)
    if not comp.empty and SUPERVISED in set(comp["setup"]):
        groups = {v: list(comp.loc[comp["verdict"] == v, "setup"]) for v in VERDICTS}
        words = {
            "fairer": "fairer than supervised (corrected test)",
            "not_distinguishable": "not distinguishable from supervised",
            "less_fair": "less fair than supervised (corrected test)",
            "at_chance": "no verdict, a model possibly at chance (an AUROC interval includes 0.5)",
            "one_seed": "no verdict, one seed (intervals cover test sampling only)",
            "not_tested": "random-init controls (the effect of freezing alone, not tested)",
            "no_interval": "no verdict, no interval (no resamples of test subjects)",
        }
        parts = [f"{words[v]}: {', '.join(groups[v])}" for v in words if groups[v]]
        if parts:
            points.append("Parity deviation by setup — " + "; ".join(parts) + ".")
        lead = comp[comp["kind"].astype(str) == "ssl"].head(1)
        if not lead.empty:
            top = {str(k): v for k, v in lead.iloc[0].to_dict().items()}
            tested = _float(top, "family_size") > 0
            verdicts = (
                f"Verdicts: {_family_text(top)}; every interval of a change is at the level of the corrected "
                "test that decides its verdict, so interval and verdict agree. "
                if tested
                else "No change was tested (one seed per setup or no intervals), so there are no verdicts. "
            )
            points.append(verdicts + _coverage_text(top))
        sup = by_setup(comp)[SUPERVISED]
        ssl = comp[(comp["kind"].astype(str) == "ssl") & np.isfinite(numeric_column(comp, "auroc"))]
        if not ssl.empty:
            ordered = ssl.sort_values("auroc", kind="stable").to_dict("records")
            lo, hi = ordered[0], ordered[-1]
            span = (
                f"SSL setup {lo['setup']} {fmt_ci(lo['auroc'], lo['auroc_low'], lo['auroc_high'])}"
                if len(ordered) == 1
                else f"SSL setups from {lo['auroc']:.3f} ({lo['setup']}) to {hi['auroc']:.3f} ({hi['setup']})"
            )
            points.append(
                f"Test AUROC: supervised {fmt_ci(sup['auroc'], sup['auroc_low'], sup['auroc_high'])}; {span}."
            )
        points += attribution_points(comp)
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
        per_setup = per_setup[~per_setup["setup"].astype(str).str.startswith("random:")]  # controls
        is_ref = per_setup["setup"].astype(str) == CKA_REFERENCE
        reference = per_setup[is_ref & np.isfinite(numeric_column(per_setup, "ratio"))]
        per_setup = per_setup[~is_ref]
        if not comp.empty:  # no "where it lives" for a model at chance
            chance = set(comp.loc[comp["verdict"] == "at_chance", "setup"].astype(str))
            per_setup = per_setup[~per_setup["setup"].astype(str).isin(chance)]
        finite = per_setup[np.isfinite(numeric_column(per_setup, "ratio"))]
        p_rank = numeric_column(finite, "ratio_p_holm") if "ratio_p_holm" in finite else np.array([])
        if not finite.empty:
            # with a null, the setup whose ratio is least explained by random groupings (smallest adjusted
            # p), not the largest ratio: picking the maximum would select the noisiest estimate
            top = (
                finite.iloc[int(np.nanargmin(p_rank))]
                if np.isfinite(p_rank).any()
                else finite.loc[finite["ratio"].idxmax()]
            )
            largest, smallest = (
                varies_text(top["largest_gap_attribute"]),
                varies_text(top["smallest_gap_attribute"]),
            )
            text = (
                f"Where it lives: the attribute with the largest AUROC gap ({largest}) has "
                f"{float(top['ratio']):.1f}x the best-vs-worst representation dissimilarity of the one with "
                f"the smallest gap ({smallest}) in setup {top['setup']} (mean over seeds; the paper "
                "reports up to 13x)"
            )
            if not reference.empty:
                ref_ratio = float(reference["ratio"].iloc[0])
                text += f"; two supervised models that differ only by seed give {ref_ratio:.1f}x"
                if float(top["ratio"]) <= ref_ratio:
                    text += ", so the pattern does not exceed its reference level and says nothing about SSL"
            else:
                text += "; no supervised-vs-supervised reference (it needs two supervised seeds)"
            points.append(text + ". " + ratio_null_sentence(top, alpha=study_alpha(comp)))
    if caveats:
        points += [c for c in (seed_caveat(comp), audit_caveat(warnings)) if c]
    return points


IMPROVEMENT = "PD improvement vs supervised [corrected CI]"
"""The compact table's improvement column: its interval is at the level of the family's corrected test."""


def _whole(v: float) -> str:
    """A share in signed whole percent without the sign of ``+`` or ``-0``: ``12``, ``-5``, ``0``."""
    r = round(100 * v)
    return f"{0 if r == 0 else r:.0f}"


def summary_table(comparison: pd.DataFrame, *, _level: str | None = None) -> pd.DataFrame:
    """The compact per-setup table printed at the end of ``fairssl run``: text cells with intervals.

    Columns: setup, seeds, ``AUROC [95% CI]``, ``parity deviation [95% CI]`` (the level is 1 - alpha of
    the study; ``[CI]`` when a grid's variants use different alphas) and ``PD improvement vs supervised
    [corrected CI]`` (relative, ``+28% [12, 41]`` in %: > 0 is fairer, its interval at the corrected level
    of its test; ``baseline`` for supervised; never ``-0``; ``[no usable relative interval]`` when a bound
    is beyond 1000% or supervised's PD interval reaches 0). Every number is the evaluation's
    (``results/comparison.csv``).
    """
    if _level is None:
        alpha = numeric_column(comparison, "alpha") if comparison is not None else np.array([])
        alphas = {float(a) for a in alpha[np.isfinite(alpha)]}
        _level = "CI" if len(alphas) > 1 else f"{_level_text(1 - (alphas.pop() if alphas else 0.05))} CI"
    by_variant = split_variants(comparison) if comparison is not None and not comparison.empty else []
    if len(by_variant) > 1:
        per = [summary_table(rows, _level=_level).assign(**{VARIANT: name}) for name, rows in by_variant]
        out = pd.concat(per, ignore_index=True)
        return out[[VARIANT, *[c for c in out.columns if c != VARIANT]]]
    comp = setup_comparison(comparison)
    auroc_col, pd_col = f"AUROC [{_level}]", f"parity deviation [{_level}]"
    baseline_low = supervised_pd_low(comp)
    rows = []
    for r in records(comp):
        imp_value = _float(r, "improvement")
        if r["setup"] == SUPERVISED:
            imp = "baseline"
        elif not np.isfinite(imp_value):
            imp = "n/a"
        else:
            imp = _signed_pct(imp_value)
            lo, hi = _float(r, "improvement_low"), _float(r, "improvement_high")
            if _finite(lo, hi):
                unusable = unusable_relative(lo, hi, baseline_low=baseline_low)
                imp += " [no usable relative interval]" if unusable else f" [{_whole(lo)}, {_whole(hi)}]"
        n = _float(r, "n_seeds")
        rows.append(
            {
                "setup": r["setup"],
                "seeds": int(n) if np.isfinite(n) else 0,
                auroc_col: fmt_ci(r["auroc"], r["auroc_low"], r["auroc_high"]),
                pd_col: fmt_ci(r["parity_deviation"], r["pd_low"], r["pd_high"]),
                IMPROVEMENT: imp,
            }
        )
    return pd.DataFrame(
        rows, columns=["setup", "seeds", auroc_col, pd_col, "PD improvement vs supervised [corrected CI]"]
    )


__all__ = [
    "IMPROVEMENT",
    "attribution_points",
    "auroc_text",
    "change_text",
    "headline",
    "power_text",
    "summary_points",
    "summary_table",
    "verdict_sentence",
]
