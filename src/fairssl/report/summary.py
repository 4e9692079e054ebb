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
    varies_text,
)
from fairssl.report.formatting import fmt_ci
from fairssl.similarity.conditioned import REFERENCE_SETUP as CKA_REFERENCE


def _pct(v: float) -> str:
    """A share in whole percent, never ``-0%``."""
    r = round(100 * v)
    return f"{0 if r == 0 else r:.0f}%"


def _signed_pct(v: float) -> str:
    """A signed share in whole percent (``+28%``, ``-5%``), ``0%`` for anything that rounds to 0."""
    r = round(100 * v)
    return "0%" if r == 0 else f"{r:+.0f}%"


def _points(v: float) -> str:
    """AUROC points (x100) with a sign, never ``-0.0``."""
    r = round(100 * v, 1)
    return "0.0" if r == 0 else f"{r:+.1f}"


def _size_points(v: float) -> str:
    """A positive AUROC difference in points (x100), ``under 0.1`` when it rounds to 0."""
    r = round(100 * abs(v), 1)
    return "under 0.1" if r == 0 else f"{r:.1f}"


def _seeds_text(n: int) -> str:
    return "1 seed" if n == 1 else f"{n} seeds"


def _finite(*values: Any) -> bool:
    return all(np.isfinite(float(v)) for v in values)


def _float(row: Mapping[str, Any], key: str) -> float:
    """``row[key]`` as a float, NaN when absent, empty or not a number."""
    try:
        return float(row.get(key, np.nan))
    except (TypeError, ValueError):
        return float("nan")


def _level_text(level: float) -> str:
    """``95%``, ``99.17%``: a confidence level in percent, at most two decimals."""
    pct = 100 * level
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.2f}".rstrip("0").rstrip(".") + "%"


def _ci_label(level: float) -> str:
    return f"{_level_text(level)} CI " if np.isfinite(level) else ""


def _pd_bound(v: float) -> tuple[str, str]:
    """(size, direction) of one end of a relative PD change (> 0: lower PD)."""
    size = _pct(abs(v))
    return size, ("" if size == "0%" else "lower" if v > 0 else "higher")


def change_text(row: Mapping[str, Any], *, baseline_pd: float | None = None, prefix: str = "") -> str:
    """The PD change relative to the baseline with its interval at the level of its test.

    E.g. ``parity deviation 40% lower [99.17% CI 6% to 73% lower]``; ``higher`` when the setup's PD is
    larger, ``unchanged (0%)`` when the change rounds to 0% (never ``-0%``); with ``baseline_pd`` the two
    values lead (``parity deviation 0.183 vs 0.307, 40% lower [...]``). ``prefix`` (``"control_"``) reads
    the change against the random-init control instead.
    """
    imp = _float(row, f"{prefix}improvement")
    lo, hi = _float(row, f"{prefix}improvement_low"), _float(row, f"{prefix}improvement_high")
    level = _float(row, "pd_change_level") if not prefix else float("nan")
    values = ""
    if baseline_pd is not None and _finite(row.get("parity_deviation", np.nan), baseline_pd):
        values = f" {float(row['parity_deviation']):.3f} vs {float(baseline_pd):.3f},"
    if not np.isfinite(imp):
        return f"parity deviation{values} change unknown"
    unchanged = _pct(abs(imp)) == "0%"
    text = f"parity deviation{values} " + (
        "unchanged (0%)" if unchanged else f"{_pct(abs(imp))} {'lower' if imp > 0 else 'higher'}"
    )
    if _finite(lo, hi):
        # from the end nearest "no change" to the far end in the estimate's direction
        first, second = (
            (_pd_bound(lo), _pd_bound(hi)) if imp > 0 and not unchanged else (_pd_bound(hi), _pd_bound(lo))
        )
        if first[1] == second[1] and first[1]:
            ends = f"{first[0]} to {second[0]} {second[1]}"
        else:
            ends = " to ".join(" ".join(p for p in end if p) for end in (first, second))
        text += f" [{_ci_label(level)}{ends}]"
    return text


def auroc_text(row: Mapping[str, Any], *, prefix: str = "") -> str:
    """The AUROC change in points with its interval at the level of its test.

    "a cost" only when the corrected test says the setup is less accurate, "a gain" only when it says more
    accurate, "no distinguishable AUROC change" when the test does not reject; otherwise (one seed, not
    tested, no interval) the change alone. Points never read ``-0.0``.
    """
    d = _float(row, f"{prefix}auroc_change")
    lo, hi = _float(row, f"{prefix}auroc_change_low"), _float(row, f"{prefix}auroc_change_high")
    if not np.isfinite(d):
        return "with an unknown AUROC change"
    label = _ci_label(_float(row, "auroc_change_level")) if not prefix else ""
    verdict = "" if prefix else str(row.get("auroc_verdict", "") or "")
    if verdict == "less_accurate":  # the change and its interval are below 0: worded as a cost
        ci = f" [{label}{_size_points(hi)} to {_size_points(lo)}]" if _finite(lo, hi) else ""
        return f"at a cost of {_size_points(d)} AUROC points{ci}"
    if verdict == "more_accurate":
        ci = f" [{label}{_size_points(lo)} to {_size_points(hi)}]" if _finite(lo, hi) else ""
        return f"with a gain of {_size_points(d)} AUROC points{ci}"
    ci = f" [{label}{_points(lo)} to {_points(hi)}]" if _finite(lo, hi) else ""
    if verdict == "not_distinguishable":
        return f"with no distinguishable AUROC change ({_points(d)} points{ci})"
    return f"with an AUROC change of {_points(d)} points{ci}"


def _power(row: Mapping[str, Any]) -> str:
    power = _float(row, "power")
    return _pct(power) if np.isfinite(power) else "80%"


def power_text(row: Mapping[str, Any]) -> str:
    """What the study could have seen: the smallest relative PD change it detects with 80% power, and the
    seeds that would detect the target change (or why no number of seeds would)."""
    mde, target = _float(row, "mde_relative"), _float(row, "target_relative")
    n = _float(row, "n_pairs")
    parts = []
    if np.isfinite(mde):
        with_n = f"with {_seeds_text(int(n))}, " if np.isfinite(n) else ""
        beyond = " (more than any reduction can be)" if mde >= 1 else ""
        parts.append(
            f"{with_n}this study could detect a parity-deviation change of {_pct(mde)} or more with "
            f"{_power(row)} power{beyond}"
        )
    need, why = _float(row, "seeds_needed"), str(row.get("seeds_reason", "") or "")
    why = "" if why == "nan" else why
    tgt = f"a {_pct(target)} change" if np.isfinite(target) else "the target change"
    if np.isfinite(need):
        parts.append(
            f"about {int(need)} seeds would detect {tgt} with {'that' if parts else _power(row)} power"
        )
    elif why == "test_set_limits":
        parts.append(
            f"no number of seeds would detect {tgt} on this test set (test-set sampling alone is too noisy): "
            "use more test subjects or data replicates"
        )
    elif why == "one_seed":
        parts.append("with one seed the seeds needed cannot be estimated")
    elif why.startswith("more_than_"):
        parts.append(f"more than {why.removeprefix('more_than_')} seeds would be needed to detect {tgt}")
    if not parts:
        return ""
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _family_text(row: Mapping[str, Any]) -> str:
    """``Holm correction over 8 tests at alpha 0.05`` (the family's size, correction and alpha)."""
    m = _float(row, "family_size")
    corr = str(row.get("correction", "holm") or "holm")
    alpha = _float(row, "alpha")
    alpha_text = f" at alpha {alpha:g}" if np.isfinite(alpha) else ""
    tests = f"{int(m)} test{'' if int(m) == 1 else 's'}" if np.isfinite(m) else ""
    if corr == "none":
        return (
            f"no multiple-comparison correction ({tests}){alpha_text}"
            if tests
            else f"uncorrected{alpha_text}"
        )
    name = {"holm": "Holm", "bonferroni": "Bonferroni"}.get(corr, corr)
    return f"{name} correction" + (f" over {tests}" if tests else "") + alpha_text


def _p_text(p: float) -> str:
    """``, adjusted p = 0.012`` / ``, adjusted p < 0.001`` (empty for NaN)."""
    if not np.isfinite(p):
        return ""
    return ", adjusted p < 0.001" if p < 0.001 else f", adjusted p = {p:.2g}"


def _names_text(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def verdict_sentence(row: Mapping[str, Any], *, baseline: Mapping[str, Any] | None = None) -> str:
    """One setup's sentence, from its verdict (the evaluation's; this only words it).

    ``fairer`` / ``less_fair``: the corrected test rejects; ``not_distinguishable``: it does not (with the
    power beside it); ``at_chance``: no fairness verdict; ``one_seed``: no verdict, the interval covers test
    sampling only; ``not_tested``: outside the family (a random-init control); ``no_interval``: no interval.
    Percentages never read ``-0%``; "cost" appears only when the AUROC change is a corrected
    ``less_accurate``. ``baseline``: the supervised row, whose parity deviation is quoted beside the setup's.
    """
    setup, verdict = str(row["setup"]), str(row["verdict"])
    n_pairs = _float(row, "n_pairs")
    n = int(n_pairs) if np.isfinite(n_pairs) else 0
    base_pd = _float(baseline, "parity_deviation") if baseline is not None else None
    body = f"{change_text(row, baseline_pd=base_pd)}, {auroc_text(row)}; {_seeds_text(n)}"
    if verdict in ("fairer", "less_fair"):
        word = "fairer" if verdict == "fairer" else "less fair"
        return (
            f"Setup {setup} was {word} than supervised: {body}; {_family_text(row)}"
            f"{_p_text(_float(row, 'pd_change_p'))}."
        )
    if verdict == "not_distinguishable":
        power = power_text(row)
        return (
            f"Setup {setup} was not distinguishable from supervised in parity deviation: {body}; "
            f"{_family_text(row)}{_p_text(_float(row, 'pd_change_p'))}." + (f" {power}" if power else "")
        )
    if verdict == "at_chance":
        who = [s for s in str(row.get("verdict_reason", "")).partition(":")[2].split(",") if s] or [setup]
        names = _names_text([s if s == "supervised" else f"setup {s}" for s in who])
        which = (
            ("intervals", "include", "these models")
            if len(who) > 1
            else ("interval", "includes", "that model")
        )
        return (
            f"No fairness verdict for setup {setup}: the AUROC {which[0]} of {names} {which[1]} 0.5, so "
            f"{which[2]} may be no better than chance and a parity-deviation change says nothing about "
            "fairness."
        )
    if verdict == "one_seed":
        return (
            f"Setup {setup}: {body}. No verdict: with one seed per setup the interval covers test-set "
            "sampling only, not training randomness (runs that differ only in their seed differ too); run "
            "several seeds."
        )
    if verdict == "not_tested":
        return (
            f"Setup {setup}: {body}. Not tested: outside the study's family of tests (a random-init control "
            "shows the effect of freezing alone), so no verdict."
        )
    return (
        f"Setup {setup}: {body}. No verdict: the change has no interval (evaluation.n_boot = 0, or too few "
        "resamples of test subjects had a defined value)."
    )


def _matched_sentence(row: Mapping[str, Any]) -> str:
    """Fairness at equal accuracy: the setup against the supervised model degraded, group-blind, to the
    setup's AUROC (empty when the study has no matched reference for it)."""
    verdict = str(row.get("matched_verdict", "") or "")
    if verdict in ("", "nan"):
        return ""
    auroc = _float(row, "matched_auroc")
    at = (
        f" (the supervised model degraded without regard to groups to AUROC {auroc:.3f})"
        if np.isfinite(auroc)
        else ""
    )
    change = change_text(row, prefix="matched_")
    words = {
        "fairer": "fairer at equal accuracy",
        "less_fair": "less fair at equal accuracy",
        "not_distinguishable": "not distinguishable at equal accuracy",
    }
    if verdict in words:
        tail = "; corrected test" if verdict != "not_distinguishable" else ""
        setup = row["setup"]
        return f"Against supervised at equal AUROC{at}, setup {setup} was {words[verdict]} ({change}{tail})."
    return ""


def _control_sentence(row: Mapping[str, Any]) -> str:
    """What the setup's random-init control says (empty without a control verdict to word).

    The control ``random:<setup>`` freezes the same layers with random weights: a corrected difference
    against it is the effect of the pre-trained weights, beyond freezing alone.
    """
    control, verdict = row.get("control"), str(row.get("control_verdict", "") or "")
    if not isinstance(control, str) or not control or verdict in ("", "nan"):
        return ""
    setup, own = str(row["setup"]), str(row.get("verdict", ""))
    change = change_text(row, prefix="control_")
    if verdict == "fairer":
        why = (
            ", so pre-training, not freezing alone, accounts for at least part of its lower parity deviation"
            if own == "fairer"
            else ""
        )
        return (
            f"Setup {setup} was fairer than its random-init control {control} ({change}; corrected "
            f"test){why}."
        )
    if verdict == "less_fair":
        return (
            f"Setup {setup} was less fair than its random-init control {control} ({change}; corrected test)."
        )
    if verdict == "not_distinguishable":
        why = (
            ": freezing alone may explain its change against supervised"
            if own in ("fairer", "less_fair")
            else ""
        )
        return (
            f"Setup {setup} was not distinguishable from its random-init control {control} in parity "
            f"deviation ({change}){why}."
        )
    return ""


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
        Sentences: the setups by verdict; the AUROC range; the strongest label bias in the ground truth;
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
        if not finite.empty:
            top = finite.loc[finite["ratio"].idxmax()]
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
            points.append(text + ".")
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
    of its test; ``baseline`` for supervised; never ``-0``). Every number is the evaluation's
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
                imp += f" [{_whole(lo)}, {_whole(hi)}]"
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
