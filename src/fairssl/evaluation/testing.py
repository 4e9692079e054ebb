"""One testing policy: family-wise correction, the matching interval levels, and power.

A study declares one family of hypotheses (default: every SSL setup x {parity deviation, AUROC} against
the supervised baseline), one correction and one ``alpha``. Every hypothesis gets

- an adjusted p value (:func:`adjust_pvalues`), and
- the confidence level of its interval (:func:`corrected_levels`), chosen so that the interval excludes 0
  exactly when the corrected test rejects. A verdict is printed only then, so interval and verdict never
  disagree.

Holm's levels ("step-down intervals"): sort the m finite p values, p_(1) <= ... <= p_(m). Step k tests
p_(k) against alpha / (m - k + 1) and Holm stops at the first step k* that does not reject. A hypothesis
decided at step k < k* gets level 1 - alpha / (m - k + 1); every hypothesis from k* on gets the level of
step k*, 1 - alpha / (m - k* + 1). Rejected ones therefore have intervals that exclude 0, the others
intervals that include it (their p is at least p_(k*)). Bonferroni: 1 - alpha / m for all; ``none``:
1 - alpha.

Power (:func:`minimum_detectable`, :func:`seeds_needed`) uses the same components as the intervals: the
test-sampling variance V_test (bootstrap over test subjects) and the across-seed variance s^2 of a paired
difference, Var(mean over n seeds) = V_test + s^2 / n.

The plain across-seed interval of a mean (:func:`t_interval`) is the Student-t interval.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fairssl.errors import ConfigError

CORRECTIONS = ("holm", "bonferroni", "none")


def _check(alpha: float, method: str) -> None:
    if method not in CORRECTIONS:
        raise ConfigError(f"correction must be one of {', '.join(CORRECTIONS)}; got {method!r}")
    if not 0 < float(alpha) < 1:
        raise ConfigError(f"alpha must lie strictly between 0 and 1 (e.g. 0.05); got {alpha!r}")


def adjust_pvalues(p_values: np.ndarray, *, method: str = "holm") -> np.ndarray:
    """Family-wise correction of (m,) p values; NaN entries are left out of the family and stay NaN.

    ``holm``: sorted p_(1) <= ... <= p_(m), adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j));
    ``bonferroni``: min(1, m p); ``none``: unchanged.
    """
    if method not in CORRECTIONS:
        raise ConfigError(f"correction must be one of {', '.join(CORRECTIONS)}; got {method!r}")
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0 or method == "none":
        out[valid] = p[valid]
        return out
    if method == "bonferroni":
        out[valid] = np.minimum(1.0, m * p[valid])
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])  # (m,) (m - j + 1) p_(j), j = 1..m
    out[order] = np.maximum.accumulate(scaled)
    return out


def corrected_levels(p_values: np.ndarray, *, alpha: float = 0.05, method: str = "holm") -> np.ndarray:
    """Confidence level (m,) of each hypothesis' interval under the family's correction.

    NaN p values (untestable hypotheses) are left out of the family and get level ``1 - alpha`` (their
    interval is shown, no verdict rests on it). See the module docstring for Holm's step-down levels.
    The interval at this level excludes 0 exactly when the adjusted p is below ``alpha`` (for an interval
    and p value from the same test).
    """
    _check(alpha, method)
    p = np.asarray(p_values, dtype=np.float64)
    levels = np.full(p.shape, 1.0 - alpha)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0 or method == "none":
        return levels
    if method == "bonferroni":
        levels[valid] = 1.0 - alpha / m
        return levels
    order = valid[np.argsort(p[valid], kind="stable")]
    step_alpha = alpha / (m - np.arange(m))  # (m,) alpha / (m - k + 1), k = 1..m
    fails = np.flatnonzero(p[order] >= step_alpha)
    stop = int(fails[0]) if fails.size else m  # k* - 1 (0-based); m when every step rejects
    level_by_rank = 1.0 - step_alpha
    if stop < m:
        level_by_rank[stop:] = 1.0 - step_alpha[stop]
    levels[order] = level_by_rank
    return levels


def critical_value(level: float | np.ndarray, df: float | np.ndarray) -> np.ndarray:
    """Two-sided critical value t_{(1 + level) / 2, df} (normal where df is infinite)."""
    lv = np.asarray(level, dtype=np.float64)
    d = np.asarray(df, dtype=np.float64)
    q = 0.5 + lv / 2
    return np.where(np.isinf(d), stats.norm.ppf(q), stats.t.ppf(q, np.where(np.isinf(d), 1.0, d)))


def t_interval(values: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of (n,) values, NaN if n < 2.

    mean -/+ t_{(1+c)/2, n-1} * sd / sqrt(n) with sd the sample standard deviation (ddof 1).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


def minimum_detectable(
    se: np.ndarray, df: np.ndarray, level: np.ndarray, *, power: float = 0.8
) -> np.ndarray:
    """Smallest true difference detected with probability ``power`` by a two-sided test at ``level``.

    MDE = (t_{(1 + level)/2, df} + t_{power, df}) * SE (the usual normal-approximation formula with t
    quantiles; the far tail is ignored). Same units as the difference; NaN where SE is.
    """
    if not 0 < power < 1:
        raise ConfigError(f"power must lie strictly between 0 and 1 (e.g. 0.8); got {power!r}")
    d = np.asarray(df, dtype=np.float64)
    beta_q = np.where(np.isinf(d), stats.norm.ppf(power), stats.t.ppf(power, np.where(np.isinf(d), 1.0, d)))
    return (critical_value(level, d) + beta_q) * np.asarray(se, dtype=np.float64)


def seeds_needed(
    effect: np.ndarray,
    var_test: np.ndarray,
    var_seeds: np.ndarray,
    level: np.ndarray,
    *,
    power: float = 0.8,
    max_seeds: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeds n that would detect a true difference ``effect`` with probability ``power``.

    Smallest n with (t_{(1+level)/2, n-1} + t_{power, n-1}) sqrt(V_test + s^2 / n) <= |effect|: the
    interval the study would then compute (t on n - 1 df, :func:`minimum_detectable`), V_test held at
    its value for this test set. With few seeds the t quantiles are large, so even seeds that never
    disagree (s^2 = 0) need enough of them for the critical value to shrink. Returns (n float (m,),
    reason (m,) object): NaN with ``one_seed`` (s^2 unknown), ``unknown`` (the target effect or V_test
    is undefined), ``test_set_limits`` (test-set sampling alone is too noisy: no number of seeds
    suffices; more test subjects or data replicates are needed) or ``more_than_<max_seeds>``.
    """
    eff = np.abs(np.asarray(effect, dtype=np.float64))
    vt = np.asarray(var_test, dtype=np.float64)
    vs = np.asarray(var_seeds, dtype=np.float64)
    lev = np.broadcast_to(np.asarray(level, dtype=np.float64), eff.shape)
    z = stats.norm.ppf(0.5 + lev / 2) + stats.norm.ppf(power)
    room = (eff / z) ** 2 - vt  # (m,) the across-seed variance the mean may still carry (n -> inf)
    n = np.full(eff.shape, np.nan)
    reason = np.full(eff.shape, "", dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.ceil(np.where(vs > 0, vs / room, 1.0))  # the normal-quantile answer: a lower bound
    unknown = ~np.isfinite(vs)
    no_effect = ~unknown & ~np.isfinite(room)  # the target or V_test is unknown: nothing to say
    blocked = ~unknown & np.isfinite(room) & ~(room > 0)
    feasible = ~unknown & ~no_effect & ~blocked & np.isfinite(need)
    trial = np.where(feasible, np.clip(need, 2.0, max_seeds + 1.0), np.nan)
    for _ in range(max_seeds):  # t quantiles shrink as n grows: step up until the test would detect it
        df = np.where(feasible, trial - 1.0, 1.0)
        crit = stats.t.ppf(0.5 + lev / 2, df) + stats.t.ppf(power, df)
        short = (
            feasible & (trial <= max_seeds) & (crit * np.sqrt(vt + vs / np.where(feasible, trial, 1.0)) > eff)
        )
        if not short.any():
            break
        trial = np.where(short, trial + 1.0, trial)
    big = feasible & (trial > max_seeds)
    ok = feasible & ~big
    n[ok] = trial[ok]
    reason[unknown] = "one_seed"
    reason[no_effect] = "unknown"
    reason[blocked] = "test_set_limits"
    reason[big] = f"more_than_{max_seeds}"
    return n, reason
