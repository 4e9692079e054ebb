"""Study-level inference: per-setup values, paired changes against a baseline, tests, verdicts, power.

The one place where seeds and test subjects are aggregated into intervals and verdicts; the report only
formats what :func:`study_inference` returns.

Design. K fine-tuned models (setup x seed) are scored on one test set and resampled together
(:func:`~fairssl.evaluation.resampling.resample_models`: B shared resamples of test subjects). For a setup
with n seeds, let v_s be seed s's plug-in value and v*_{s,b} its value under resample b. A paired change
against the baseline uses d_s = v_s(setup) - v_s(baseline) over the seeds both have, and its draws
d*_{s,b} (same seed, same resample: paired). Each gets an interval from its variance components
(:mod:`~fairssl.evaluation.components`: test sampling V_test from the shared draws plus training
randomness s^2/n from the seeds, t with n - 1 df); one setup's values are centred on the
bootstrap bias-corrected mean, changes on the plug-in mean; the reported ``estimate`` is the plug-in mean.

Sources covered: test subjects always; fine-tuning seeds when n >= 2 (with one seed s^2 is unknown and the
interval says it covers test sampling only); pre-training seeds when each seed has its own encoder (with
``pretrain.seed`` set, every seed shares one encoder and its randomness is not covered). The across-seed
spread on one test set also holds part of the test-sampling noise, which is then counted twice: the
intervals are slightly conservative (coverage checked by simulation in the tests).

Comparisons: each SSL setup against the baseline, against its accuracy-matched reference
``matched:<setup>`` (the baseline degraded to the setup's AUROC, :mod:`~fairssl.evaluation.matching`) and
against its random-init control ``random:<setup>`` when the study has them, and against its trained
reference ``checkpoint:<setup>`` (the supervised model's own validation-matched epoch) when the supervised
runs stored their training trajectory: shown beside the matched one, never in the family.

Family: every (setup, metric) of ``family_metrics`` against the baseline, PD against the matched
reference, both against the control; p values and interval levels
from :mod:`~fairssl.evaluation.testing` (Holm by default). Verdicts (:data:`VERDICTS`) rest on the
corrected test; a setup whose AUROC interval includes 0.5, or whose baseline's does, gets no fairness
verdict (``at_chance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.components import Components, components
from fairssl.evaluation.matching import CHECKPOINT_PREFIX, MATCHED_PREFIX
from fairssl.evaluation.resampling import ModelDraws
from fairssl.evaluation.testing import (
    adjust_pvalues,
    corrected_levels,
    minimum_detectable,
    seeds_needed,
)

VERDICTS = (
    "fairer",
    "less_fair",
    "more_accurate",
    "less_accurate",
    "not_distinguishable",
    "at_chance",
    "one_seed",
    "not_tested",
    "no_interval",
)
"""Verdict of a change against the baseline: the corrected test rejects with the change in the better
(``fairer`` / ``more_accurate``) or worse direction; it does not reject (``not_distinguishable``); no
fairness verdict because a model is at chance (``at_chance``); no verdict with one seed per setup, since
the interval covers test sampling only and two models that differ only by seed differ on one test set
(``one_seed``); a quantity outside the declared family (``not_tested``: interval at ``1 - alpha``, no
verdict); no interval (``no_interval``)."""

LOWER_IS_BETTER = ("parity_deviation",)
RANGES = {"auroc": (0.0, 1.0)}


def _lower_is_better(quantity: str) -> bool:
    return quantity.split(":")[0] in LOWER_IS_BETTER


@dataclass(frozen=True)
class InferenceSettings:
    """The study's testing policy (``evaluation.*`` of the config)."""

    baseline: str = "supervised"
    alpha: float = 0.05
    correction: str = "holm"
    family_metrics: tuple[str, ...] = ("parity_deviation", "auroc")
    power: float = 0.8
    target_pd_change: float = 0.15
    """Relative PD change (0.15 = 15%) for which the seeds needed are reported."""
    target_auroc_change: float = 0.01
    """AUROC change (0.01 = 1 point) for which the seeds needed are reported."""
    pretraining_shared: bool = False
    """True when every seed's SSL setups share one encoder (``pretrain.seed`` set)."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must lie strictly between 0 and 1 (e.g. 0.05); got {self.alpha!r}")
        if not 0 < self.power < 1:
            raise ConfigError(f"power must lie strictly between 0 and 1 (e.g. 0.8); got {self.power!r}")


@dataclass(frozen=True)
class StudyDraws:
    """Which setup and seed each of the K resampled models is."""

    setups: tuple[str, ...]
    seeds: tuple[int, ...]
    draws: ModelDraws

    def __post_init__(self) -> None:
        k = self.draws.values.shape[0]
        if len(self.setups) != k or len(self.seeds) != k:
            raise DataError(
                f"{k} models were resampled but {len(self.setups)} setups / {len(self.seeds)} seeds given"
            )
        if len(set(zip(self.setups, self.seeds, strict=True))) != k:
            raise DataError("two models share a (setup, seed); give one model per setup and seed")

    def index(self, setup: str) -> dict[int, int]:
        """seed -> model index of ``setup``."""
        return {s: i for i, (su, s) in enumerate(zip(self.setups, self.seeds, strict=True)) if su == setup}


def _sources(n: int, *, ssl: bool, settings: InferenceSettings) -> str:
    parts = ["test subjects"]
    if n >= 2:
        parts.append(f"fine-tuning seeds ({n})")
        if ssl and not settings.pretraining_shared:
            parts.append("pre-training seeds")
    return "; ".join(parts)


def _not_covered(n: int, *, ssl: bool, settings: InferenceSettings) -> str:
    parts = []
    if n < 2:
        parts.append("training randomness (one seed)")
    elif ssl and settings.pretraining_shared:
        parts.append("pre-training randomness (one shared encoder)")
    parts.append("the data split (one test set)")
    return "; ".join(parts)


@dataclass
class StudyInference:
    """What :func:`study_inference` returns: long tables, one row per (setup, quantity).

    Attributes:
        estimates: per setup and quantity: n_seeds, estimate (plug-in mean over seeds), bias, estimate_bc
            (bias-corrected: the interval's centre), se, se_test, sd_seeds, df, ci_low, ci_high (at
            ``1 - alpha``), sources, not_covered.
        changes: per non-baseline setup and quantity, paired against the baseline: the same columns plus
            baseline, baseline_estimate, relative (the change relative to the baseline, signed so > 0 is
            better), relative_low/high, p_value, p_adjusted, level (its corrected confidence level),
            in_family, verdict, reason, mde (minimum detectable change at 80% power and this level),
            mde_relative, target, seeds_needed, seeds_reason.
        runs: per model (setup, seed) and quantity: the plug-in value and its test-sampling interval.
        family: the family's description (metrics, members, correction, alpha).
    """

    estimates: pd.DataFrame
    changes: pd.DataFrame
    runs: pd.DataFrame
    family: dict[str, object] = field(default_factory=dict)


def _clip(quantity: str, lo: float, hi: float, *, change: bool) -> tuple[float, float]:
    name = quantity.split(":")[0]
    if change:
        bounds = (-1.0, 1.0) if name == "auroc" else (-np.inf, np.inf)
    else:
        bounds = RANGES.get(name, (0.0, np.inf))
    return float(np.clip(lo, *bounds)), float(np.clip(hi, *bounds))


def component_row(comp: Components, level: float, quantity: str, *, change: bool) -> dict[str, object]:
    """``estimate`` is the plug-in mean over seeds (what the models scored); the interval is centred on
    the bias-corrected ``estimate_bc`` (a basic-bootstrap-style correction), so it may sit off-centre."""
    lo, hi = comp.interval(level) if np.isfinite(comp.se) else (np.nan, np.nan)
    if np.isfinite(lo):
        lo, hi = _clip(quantity, lo, hi, change=change)
    return {
        "n_seeds": comp.n,
        "estimate": comp.mean,
        "bias": comp.bias,
        "estimate_bc": comp.estimate,
        "se": comp.se,
        "se_test": float(np.sqrt(comp.var_test)),
        "sd_seeds": float(np.sqrt(comp.var_seeds)) if np.isfinite(comp.var_seeds) else np.nan,
        "df": comp.df,
        "ci_low": lo,
        "ci_high": hi,
    }


def ordered(setups: Sequence[str], baseline: str) -> list[str]:
    unique = list(dict.fromkeys(setups))
    return ([baseline] if baseline in unique else []) + [s for s in unique if s != baseline]


def study_inference(study: StudyDraws, settings: InferenceSettings | None = None) -> StudyInference:
    """Per-setup values, paired changes against ``settings.baseline``, corrected tests, verdicts, power.

    Args:
        study: the K models' plug-in values and shared test-subject draws, with their setups and seeds.
        settings: the testing policy (:class:`InferenceSettings`).

    Returns:
        :class:`StudyInference` (see its attributes; the formulas are in the module docstring).
    """
    cfg = settings or InferenceSettings()
    draws = study.draws
    confidence = 1.0 - cfg.alpha
    setups = ordered(study.setups, cfg.baseline)
    plan = comparisons(setups, cfg)
    est_rows, run_rows = [], []
    comps: dict[tuple[str, str], Components] = {}
    for setup in setups:
        idx = study.index(setup)
        models = [idx[s] for s in sorted(idx)]
        ssl = setup != cfg.baseline
        for q, quantity in enumerate(draws.quantities):
            comp = components(draws.values[models, q], draws.draws[:, models, q])
            comps[(setup, quantity)] = comp
            est_rows.append(
                {
                    "setup": setup,
                    "quantity": quantity,
                    **component_row(comp, confidence, quantity, change=False),
                    "sources": _sources(comp.n, ssl=ssl, settings=cfg),
                    "not_covered": _not_covered(comp.n, ssl=ssl, settings=cfg),
                }
            )
            for seed, k in sorted(idx.items()):
                one = components(draws.values[[k], q], draws.draws[:, [k], q])
                run_rows.append(
                    {
                        "setup": setup,
                        "seed": seed,
                        "quantity": quantity,
                        **component_row(one, confidence, quantity, change=False),
                    }
                )
    estimates = pd.DataFrame(est_rows)
    runs = pd.DataFrame(run_rows)
    changes = _changes(study, cfg, plan, comps)
    family = {
        "baseline": cfg.baseline,
        "metrics": list(cfg.family_metrics),
        "members": int((changes["in_family"] & np.isfinite(changes["p_value"])).sum()) if len(changes) else 0,
        "declared": int(changes["in_family"].sum()) if not changes.empty else 0,
        "correction": cfg.correction,
        "alpha": cfg.alpha,
        "power": cfg.power,
        "n_resamples": int(draws.draws.shape[0]),
        "n_test_subjects": int(draws.n_subjects),
    }
    return StudyInference(estimates=estimates, changes=changes, runs=runs, family=family)


def _at_chance(comp: Components | None, alpha: float) -> bool:
    """True when the AUROC interval at ``1 - alpha`` includes 0.5 (or AUROC is unknown)."""
    if comp is None or not np.isfinite(comp.se) or not np.isfinite(comp.estimate):
        return True  # an unknown AUROC cannot show the model is better than chance
    lo, hi = comp.interval(1.0 - alpha)
    return bool(lo <= 0.5 <= hi)


CONTROL_PREFIX = "random:"
"""Setups named ``random:<setup>`` are random-init controls of ``<setup>``."""


def comparisons(setups: list[str], cfg: InferenceSettings) -> list[tuple[str, str, tuple[str, ...]]]:
    """(setup, baseline, family metrics) triples: every SSL setup against the baseline (PD and AUROC in
    the family), against its accuracy-matched supervised reference (PD in the family: AUROC is equal by
    construction) and against its random-init control (both in the family); every control against the
    baseline (the effect of freezing alone: shown, not in the family); every SSL setup against its trained
    reference ``checkpoint:<setup>`` (shown, not in the family: the family and its correction are those of
    a study without it, and the degraded ``matched:`` reference stays the headline's)."""
    present = set(setups)
    family = tuple(cfg.family_metrics)
    pd_only = tuple(m for m in family if m != "auroc")
    out: list[tuple[str, str, tuple[str, ...]]] = []
    references = (CONTROL_PREFIX, MATCHED_PREFIX, CHECKPOINT_PREFIX)
    ssl = [s for s in setups if s != cfg.baseline and not s.startswith(references)]
    if cfg.baseline in present:
        out += [(s, cfg.baseline, family) for s in ssl]
        out += [(s, cfg.baseline, ()) for s in setups if s.startswith(CONTROL_PREFIX)]
    out += [(s, MATCHED_PREFIX + s, pd_only) for s in ssl if MATCHED_PREFIX + s in present]
    out += [(s, CONTROL_PREFIX + s, family) for s in ssl if CONTROL_PREFIX + s in present]
    out += [(s, CHECKPOINT_PREFIX + s, ()) for s in ssl if CHECKPOINT_PREFIX + s in present]
    return out


def _changes(
    study: StudyDraws,
    cfg: InferenceSettings,
    plan: list[tuple[str, str, tuple[str, ...]]],
    comps: dict[tuple[str, str], Components],
) -> pd.DataFrame:
    draws = study.draws
    rows = []
    for setup, baseline, family_metrics in plan:
        base = study.index(baseline)
        own = study.index(setup)
        seeds = sorted(set(own) & set(base))
        a, b = [own[s] for s in seeds], [base[s] for s in seeds]
        for q, quantity in enumerate(draws.quantities):
            diff = draws.values[a, q] - draws.values[b, q]  # (n,) paired by seed
            diff_draws = draws.draws[:, a, q] - draws.draws[:, b, q]  # (B, n) paired by resample
            comp = components(diff, diff_draws, bias_correct=False)
            base_comp = components(draws.values[b, q], draws.draws[:, b, q])
            rows.append(
                {
                    "setup": setup,
                    "baseline": baseline,
                    "quantity": quantity,
                    "_comp": comp,
                    "baseline_estimate": base_comp.mean,
                    "p_value": comp.p_value() if comp.n >= 1 else np.nan,
                    "in_family": quantity in family_metrics and comp.n >= 2,
                    "sources": _sources(comp.n, ssl=True, settings=cfg),
                    "not_covered": _not_covered(comp.n, ssl=True, settings=cfg),
                }
            )
    return finish_changes(rows, comps, cfg)


def finish_changes(
    rows: list[dict[str, Any]], comps: dict[tuple[str, str], Components], cfg: InferenceSettings
) -> pd.DataFrame:
    """Corrected tests, intervals, relative changes, verdicts and power of change rows.

    Each row holds setup, baseline, quantity, ``_comp`` (the change's :class:`Components`),
    baseline_estimate, p_value, in_family, sources and not_covered; ``comps`` holds each setup's own
    components per quantity (for the chance guard). Shared by one study's inference and the pooling of
    replicates (:mod:`~fairssl.evaluation.pooling`), so both apply the same policy.
    """
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    fam = frame["in_family"].to_numpy(dtype=bool) & np.isfinite(frame["p_value"].to_numpy(dtype=float))
    p_fam = np.where(fam, frame["p_value"].to_numpy(dtype=float), np.nan)
    frame["p_adjusted"] = adjust_pvalues(p_fam, method=cfg.correction)
    frame["level"] = corrected_levels(p_fam, alpha=cfg.alpha, method=cfg.correction)
    out_rows = []
    for rec in frame.to_dict("records"):
        change: Components = rec.pop("_comp")
        quantity = str(rec["quantity"])
        level = float(rec["level"])
        row: dict[str, Any] = {
            **{str(k): v for k, v in rec.items()},
            **component_row(change, level, quantity, change=True),
        }
        row["n_pairs"] = row.pop("n_seeds")
        lower = _lower_is_better(quantity)
        base_est = float(rec["baseline_estimate"])
        if lower and np.isfinite(base_est) and base_est > 0:  # relative PD change, > 0 = lower PD = fairer
            row["relative"] = -row["estimate"] / base_est
            row["relative_low"] = -row["ci_high"] / base_est
            row["relative_high"] = min(1.0, -row["ci_low"] / base_est)  # PD >= 0: at most 100% lower
        else:
            row["relative"] = row["relative_low"] = row["relative_high"] = np.nan
        row["verdict"], row["reason"] = _verdict(row, comps, cfg, lower=lower)
        mde = float(
            minimum_detectable(np.array(change.se), np.array(change.df), np.array(level), power=cfg.power)
        )
        row["mde"] = mde
        row["mde_relative"] = mde / base_est if lower and base_est > 0 else np.nan
        target = cfg.target_pd_change * base_est if lower else cfg.target_auroc_change
        row["target"] = target
        n_need, why = seeds_needed(
            np.array([target]),
            np.array([change.var_test]),
            np.array([change.var_seeds]),
            np.array([level]),
            power=cfg.power,
        )
        row["seeds_needed"], row["seeds_reason"] = float(n_need[0]), str(why[0])
        out_rows.append(row)
    return pd.DataFrame(out_rows)


def _verdict(
    row: dict[str, object], comps: dict[tuple[str, str], Components], cfg: InferenceSettings, *, lower: bool
) -> tuple[str, str]:
    """(verdict, reason) of one change row (see :data:`VERDICTS`)."""
    lo, hi = float(row["ci_low"]), float(row["ci_high"])  # type: ignore[arg-type]
    p_adj = float(row["p_adjusted"])  # type: ignore[arg-type]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "no_interval", "no_interval"
    if lower:
        pair = (str(row["setup"]), str(row["baseline"]))
        chance = [s for s in pair if _at_chance(comps.get((s, "auroc")), cfg.alpha)]
        if chance:
            return "at_chance", "auroc_interval_includes_0.5:" + ",".join(chance)
    if int(row["n_pairs"]) < 2:  # type: ignore[call-overload]
        return "one_seed", "one_seed"
    if not row["in_family"]:
        return "not_tested", "not_in_family"
    if not np.isfinite(p_adj):
        return "no_interval", "untestable"
    rejects = p_adj < cfg.alpha and (lo > 0 or hi < 0)
    if not rejects:
        return "not_distinguishable", ""
    better = hi < 0 if lower else lo > 0
    if lower:
        return ("fairer" if better else "less_fair"), ""
    return ("more_accurate" if better else "less_accurate"), ""
