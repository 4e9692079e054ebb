"""Who gets the credit for a setup's parity-deviation change: freezing, or the pre-trained weights.

An SSL setup differs from the supervised baseline in two ways at once: some layers are frozen, and the
frozen (or starting) weights come from pre-training. Its random-init control ``random:<setup>`` freezes
the same layers with random weights, so the two corrected verdicts of ``results/comparison.csv`` split
the change (:mod:`fairssl.evaluation.verdicts`: ``verdict`` against supervised, ``control_verdict``
against the control; both in the study's family):

================================  ===============================  =========================================
against supervised (``verdict``)  against the control               statement
================================  ===============================  =========================================
fairer / less fair                same direction                    attributed to pre-training
fairer / less fair                opposite direction                attributed to freezing (pre-training
                                                                    pulled the other way)
fairer / less fair                not distinguishable, and the      attributed to freezing (at least part
                                  control interval excludes the     of the change; pre-training added no
                                  whole change                      detectable difference)
fairer / less fair                not distinguishable, interval     undecided between freezing and
                                  still holds the whole change      pre-training (not settled)
not distinguishable               fairer / less fair                nothing to attribute against supervised
not distinguishable               not distinguishable               nothing attributed
at chance (either comparison)     --                                nothing attributed: a model may be at
                                                                    chance
one seed / no interval / no       --                                nothing said (empty string)
control in the study
================================  ===============================  =========================================

Nothing here computes an interval or a test: :func:`attribution_sentence` only words the two verdicts,
with the changes and intervals beside them. "Not distinguishable" is never worded as "equal": beside it
stand the control change's interval (the pre-training effects the data still allow) and, when the table
has it, ``control_mde_relative`` (the smallest relative change against the control the study detects with
its power).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fairssl.report.sentences import _float, _pct, _seeds_text, change_text

SIGNIFICANT = ("fairer", "less_fair")
"""The verdicts of a corrected test that rejects."""

_WORD = {"fairer": "fairer", "less_fair": "less fair"}


def _verdict(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key, "")
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _own(row: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> str:
    """``fairer than supervised (parity deviation 40% lower [...])``-style clause against supervised."""
    verdict = _verdict(row, "verdict")
    base_pd = _float(baseline, "parity_deviation") if baseline is not None else None
    base_low = _float(baseline, "pd_low") if baseline is not None else None
    change = change_text(row, baseline_pd=base_pd, baseline_low=base_low)
    if verdict in SIGNIFICANT:
        return f"{_WORD[verdict]} than supervised ({change}; corrected test)"
    return f"not distinguishable from supervised ({change})"


def _against_control(row: Mapping[str, Any], control_row: Mapping[str, Any] | None) -> str:
    """The change against the control, e.g. ``parity deviation 5% lower [20% higher to 25% lower]``."""
    low = _float(control_row, "pd_low") if control_row is not None else None
    return change_text(row, prefix="control_", baseline_low=low)


def _control_alone(control: str, control_row: Mapping[str, Any] | None) -> str:
    """`` (random:3 itself against supervised: parity deviation 30% lower [...]; shown, not tested)``."""
    if control_row is None or not np.isfinite(_float(control_row, "improvement")):
        return ""
    return f" ({control} itself against supervised: {change_text(control_row)}; shown, not tested)"


def _excludes_whole_change(row: Mapping[str, Any]) -> bool | None:
    """Whether the control interval rules out a pre-training effect as large as the whole change.

    The change against supervised is d = (setup - control) + (control - supervised). When d lies outside
    the interval of setup - control, pre-training cannot account for all of d, so freezing accounts for
    part of it (at the control comparison's corrected level); when d lies inside, the split is open.
    None when d or the interval is missing.
    """
    d = _float(row, "pd_change")
    lo, hi = _float(row, "control_pd_change_low"), _float(row, "control_pd_change_high")
    if not (np.isfinite(d) and np.isfinite(lo) and np.isfinite(hi)):
        return None
    return not lo <= d <= hi


def _whole_change(row: Mapping[str, Any]) -> str:
    """``the control interval (lo to hi) excludes/still includes ... the whole change (d)``."""
    d = _float(row, "pd_change")
    lo, hi = _float(row, "control_pd_change_low"), _float(row, "control_pd_change_high")
    if _excludes_whole_change(row):
        return (
            f"the control interval ({lo:+.3f} to {hi:+.3f}) excludes a pre-training effect as large as the "
            f"whole change ({d:+.3f}), so freezing accounts for part of it"
        )
    if _excludes_whole_change(row) is None:
        return "the control comparison has no interval to tell how the change splits"
    return (
        f"the control interval ({lo:+.3f} to {hi:+.3f}) still includes a pre-training effect as large as "
        f"the whole change ({d:+.3f}), so how the change splits between freezing and pre-training is not "
        "settled"
    )


def _detectable(row: Mapping[str, Any]) -> str:
    """What the control comparison could have detected, when the table carries it."""
    mde, n = _float(row, "control_mde_relative"), _float(row, "n_pairs")
    if not np.isfinite(mde):
        return (
            "; its interval above is the range of pre-training effects these data still allow, and "
            "not distinguishable does not mean equal"
        )
    power = _float(row, "power")
    with_n = f"with {_seeds_text(int(n), row)}, " if np.isfinite(n) else ""
    power_text = _pct(power) if np.isfinite(power) else "80%"
    return (
        f"; {with_n}the comparison with the control could detect a parity-deviation change of {_pct(mde)} "
        f"or more with {power_text} power, so a smaller pre-training effect may remain"
    )


def attribution_sentence(
    row: Mapping[str, Any],
    *,
    baseline: Mapping[str, Any] | None = None,
    control_row: Mapping[str, Any] | None = None,
) -> str:
    """One SSL setup's attribution of its parity-deviation change (see the module's table).

    Args:
        row: the setup's ``comparison.csv`` row (``verdict``, ``improvement*``, ``control``,
            ``control_verdict``, ``control_improvement*``, optional ``control_mde_relative``).
        baseline: the supervised row (its parity deviation and interval are quoted; its ``pd_low`` tells
            whether the relative interval is usable).
        control_row: the ``random:<setup>`` row (its own change against supervised is quoted, shown and
            not tested; its ``pd_low`` checks the relative interval against the control).

    Returns:
        A sentence that starts with ``Attributed to pre-training``, ``Attributed to freezing``,
        ``Undecided between freezing and pre-training``, ``Nothing attributed`` or ``Nothing to
        attribute``; empty without a control verdict (no ``random:<setup>`` in the study) or without
        tested verdicts (one seed, no interval).
    """
    setup = str(row["setup"])
    own, ctl = _verdict(row, "verdict"), _verdict(row, "control_verdict")
    control = row.get("control")
    has_control = isinstance(control, str) and bool(control) and ctl not in ("", "nan")
    if not has_control:
        return ""  # nothing to split the change with (setup 0 freezes nothing: random:0 is supervised)
    if own == "at_chance" or ctl == "at_chance":
        return (
            f"Nothing attributed for setup {setup}: the AUROC interval of setup {setup}, of its control "
            f"{control} or of supervised includes 0.5, so a parity-deviation change is credited neither to "
            "freezing nor to pre-training."
        )
    control = str(control)
    if own not in (*SIGNIFICANT, "not_distinguishable") or ctl not in (*SIGNIFICANT, "not_distinguishable"):
        return ""  # one seed, no interval: no verdicts to attribute
    vs_control = _against_control(row, control_row)
    alone = _control_alone(control, control_row)
    if own in SIGNIFICANT and ctl == own:
        return (
            f"Attributed to pre-training: setup {setup} was {_own(row, baseline)} and {_WORD[ctl]} than its "
            f"random-init control {control} ({vs_control}; corrected test), so the pre-trained weights, not "
            f"freezing alone, account for at least part of the change{alone}."
        )
    if own in SIGNIFICANT and ctl in SIGNIFICANT:
        return (
            f"Attributed to freezing: setup {setup} was {_own(row, baseline)} but {_WORD[ctl]} than its "
            f"random-init control {control} ({vs_control}; corrected test): the frozen random encoder moved "
            f"parity deviation further in the same direction, so freezing, not pre-training, accounts for "
            f"the change, and pre-training pulled the other way{alone}."
        )
    if own in SIGNIFICANT:
        lead = (
            "Attributed to freezing"
            if _excludes_whole_change(row)
            else "Undecided between freezing and pre-training"
        )
        return (
            f"{lead}: setup {setup} was {_own(row, baseline)}, and not distinguishable from its random-init "
            f"control {control} ({vs_control}){alone}; pre-training added no difference this study could "
            f"detect{_detectable(row)}. Beside that, {_whole_change(row)}."
        )
    if ctl in SIGNIFICANT:
        return (
            f"Nothing to attribute against supervised: setup {setup} was {_own(row, baseline)}, though "
            f"{_WORD[ctl]} than its random-init control {control} ({vs_control}; corrected test): the "
            "pre-trained weights changed parity deviation against a frozen random encoder, but the study "
            f"detected no net change against supervised{alone}."
        )
    return (
        f"Nothing attributed for setup {setup}: it was {_own(row, baseline)} and not distinguishable from "
        f"its random-init control {control} ({vs_control}), so no change is credited to freezing or to "
        "pre-training."
    )


__all__ = ["SIGNIFICANT", "attribution_sentence"]
