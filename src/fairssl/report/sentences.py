"""The report's sentences about one setup: its change, AUROC, power, verdict, matched references, control.

Each function words one row of ``results/comparison.csv`` (the evaluation's numbers and verdicts,
:mod:`fairssl.evaluation.inference`); nothing here computes an interval or a test. Percentages never
read ``-0%``; "cost" appears only when the AUROC change is a corrected ``less_accurate``; counts read
"seeds", or "replicates" for rows pooled over data replicates. :mod:`~fairssl.report.summary` composes
them into the headline and the summary points.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fairssl.report.relative_interval import unusable_relative


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


def _unit(row: Mapping[str, Any] | None) -> str:
    """``seed``, or ``replicate`` for a row pooled over data replicates (its counts are replicates)."""
    reps = _float(row, "replicates") if row is not None else np.nan
    return "replicate" if np.isfinite(reps) and reps > 1 else "seed"


def _seeds_text(n: int, row: Mapping[str, Any] | None = None) -> str:
    unit = _unit(row)
    return f"1 {unit}" if n == 1 else f"{n} {unit}s"


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


def change_text(
    row: Mapping[str, Any],
    *,
    baseline_pd: float | None = None,
    baseline_low: float | None = None,
    prefix: str = "",
) -> str:
    """The PD change relative to the baseline with its interval at the level of its test.

    E.g. ``parity deviation 40% lower [99.17% CI 6% to 73% lower]``; ``higher`` when the setup's PD is
    larger, ``unchanged (0%)`` when the change rounds to 0% (never ``-0%``); with ``baseline_pd`` the two
    values lead (``parity deviation 0.183 vs 0.307, 40% lower [...]``). ``prefix`` (``"control_"``) reads
    the change against the random-init control instead. When the relative interval cannot be read
    (:func:`unusable_relative`: a bound beyond 1000%, or ``baseline_low``, the lower end of the baseline's
    PD interval, at or below 0) it reads ``[no usable relative interval (a bound is beyond 1000%); PD
    change -0.021, 99.17% CI -0.310 to +0.120]``: the absolute change and its interval, from
    ``<prefix>pd_change[_low/_high]``.
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
    why = unusable_relative(lo, hi, baseline_low=baseline_low) if _finite(lo, hi) else ""
    if why:
        d = _float(row, f"{prefix}pd_change")
        d_lo, d_hi = _float(row, f"{prefix}pd_change_low"), _float(row, f"{prefix}pd_change_high")
        absolute = f"; PD change {d:+.3f}" if np.isfinite(d) else ""
        if absolute and _finite(d_lo, d_hi):
            absolute += f", {_ci_label(level)}{d_lo:+.3f} to {d_hi:+.3f}"
        return text + f" [no usable relative interval ({why}){absolute}]"
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
        with_n = f"with {_seeds_text(int(n), row)}, " if np.isfinite(n) else ""
        beyond = " (more than any reduction can be)" if mde >= 1 else ""
        parts.append(
            f"{with_n}this study could detect a parity-deviation change of {_pct(mde)} or more with "
            f"{_power(row)} power{beyond}"
        )
    need, why = _float(row, "seeds_needed"), str(row.get("seeds_reason", "") or "")
    why = "" if why == "nan" else why
    tgt = f"a {_pct(target)} change" if np.isfinite(target) else "the target change"
    unit = _unit(row)
    if np.isfinite(need):
        parts.append(
            f"about {int(need)} {unit}s would detect {tgt} with {'that' if parts else _power(row)} power"
        )
    elif why == "test_set_limits":
        parts.append(
            f"no number of seeds would detect {tgt} on this test set (test-set sampling alone is too noisy): "
            "use more test subjects or data replicates"
        )
    elif why == "one_seed":
        parts.append(f"with one {unit} the {unit}s needed cannot be estimated")
    elif why.startswith("more_than_"):
        parts.append(f"more than {why.removeprefix('more_than_')} {unit}s would be needed to detect {tgt}")
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


WIDE_INTERVAL_AUROC = 0.6
"""An AUROC estimate at or above this, whose interval still includes 0.5, is read as a wide interval (the
sentences say so) rather than left as "may be no better than chance" alone; it is not evidence that the
model beats chance."""


def _wide_interval(row: Mapping[str, Any]) -> str:
    """`` Its AUROC estimate ... is above 0.5, but ...`` when the setup's own AUROC interval includes 0.5
    while its estimate is at least :data:`WIDE_INTERVAL_AUROC` (few seeds: t on n - 1 df)."""
    auroc, low, n = _float(row, "auroc"), _float(row, "auroc_low"), _float(row, "n_seeds")
    if not (np.isfinite(auroc) and auroc >= WIDE_INTERVAL_AUROC and np.isfinite(low) and low <= 0.5):
        return ""  # only the setup's own wide interval is explained here
    count = f"with {_seeds_text(int(n), row)} (t on {int(n) - 1} df) " if np.isfinite(n) and n >= 2 else ""
    return (
        f" Its AUROC estimate ({auroc:.3f}) is above 0.5, but {count}the interval is too wide to show the "
        "model beats chance; more seeds (or replicates) would narrow it."
    )


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
    base_low = _float(baseline, "pd_low") if baseline is not None else None
    change = change_text(row, baseline_pd=base_pd, baseline_low=base_low)
    body = f"{change}, {auroc_text(row)}; {_seeds_text(n, row)}"
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
        text = (
            f"No fairness verdict for setup {setup}: the AUROC {which[0]} of {names} {which[1]} 0.5, so "
            f"{which[2]} may be no better than chance and a parity-deviation change says nothing about "
            "fairness."
        )
        return text + _wide_interval(row)
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


CHECKPOINT_TOLERANCE = 0.01
"""Validation AUROC gap (SSL - checkpoint, mean over seeds) beyond which the sentence no longer says
"trained to the same validation AUROC": the trajectory never came closer (e.g. the SSL model is less
accurate than the supervised model after its first epoch)."""

CHECKPOINT_WORDS = {
    "not_tested": "shown, not tested: outside the family",
    "one_seed": "no verdict with one seed",
    "at_chance": "no verdict: a model is at chance",
    "no_interval": "no interval",
}
"""How :func:`checkpoint_sentence` words ``checkpoint_verdict`` (the trained reference is never in the
family, so it never reads "fairer")."""


def checkpoint_sentence(row: Mapping[str, Any]) -> str:
    """The setup against the supervised model's own validation-matched checkpoint (empty without one).

    E.g. "Against the supervised model's own epoch-4 checkpoint, trained to the same validation AUROC
    (0.812 vs 0.809; test AUROC 0.801 vs 0.795), setup 0 had PD change -0.021 [-0.050 to +0.010] (parity
    deviation 12% lower [...]); shown, not tested: outside the family." The PD change is setup - checkpoint
    (< 0: the setup is fairer) with its interval at 1 - alpha.
    """
    verdict = str(row.get("checkpoint_verdict", "") or "")
    d = _float(row, "checkpoint_pd_change")
    if verdict in ("", "nan") or not np.isfinite(d):
        return ""
    epochs = [e.strip() for e in str(row.get("checkpoint_epochs", "") or "").split(",") if e.strip()]
    epochs = [] if epochs == ["nan"] else epochs
    if len(set(epochs)) == 1:
        which = f"epoch-{epochs[0]} checkpoint"
    elif epochs:
        which = f"checkpoints (epochs {', '.join(epochs)}, one per seed)"
    else:
        which = "checkpoint"
    aurocs = []
    v_ssl, v_ck = _float(row, "checkpoint_val_auroc_ssl"), _float(row, "checkpoint_val_auroc")
    matched = "trained to the same validation AUROC"
    if _finite(v_ssl, v_ck):
        aurocs.append(f"{v_ssl:.3f} vs {v_ck:.3f}")
        if abs(v_ssl - v_ck) > CHECKPOINT_TOLERANCE:
            matched = "the closest its training came to the setup's validation AUROC"
    t_ssl, t_ck = _float(row, "auroc"), _float(row, "checkpoint_auroc")
    if _finite(t_ssl, t_ck):
        aurocs.append(f"test AUROC {t_ssl:.3f} vs {t_ck:.3f}")
    at = f" ({'; '.join(aurocs)})" if aurocs else ""
    lo, hi = _float(row, "checkpoint_pd_change_low"), _float(row, "checkpoint_pd_change_high")
    ci = f" [{lo:+.3f} to {hi:+.3f}]" if _finite(lo, hi) else ""
    tail = CHECKPOINT_WORDS.get(verdict, verdict.replace("_", " "))
    return (
        f"Against the supervised model's own {which}, {matched}{at}, setup "
        f"{row['setup']} had PD change {d:+.3f}{ci} ({change_text(row, prefix='checkpoint_')}); {tail}."
    )


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
