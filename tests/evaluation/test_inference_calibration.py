"""Calibration of study-level inference by simulation (the CI-sized version of
``benchmarks/inference_calibration.py``, whose data-generating process and exact truth it reuses).

Each study: a test set of subjects drawn from a known DGP, n seeds of two arms (each seed adds its own
training noise), B shared resamples of test subjects through the real fairness code
(:func:`~fairssl.evaluation.resampling.resample_models`), then
:func:`~fairssl.evaluation.inference.study_inference`. The truth (population values averaged over the
training noise) is computed exactly, not simulated. Every random number comes from fixed seeds, so the
tests are deterministic; the Monte-Carlo allowances below say how often they would fail by chance if the
inference were exactly calibrated.

Two designs, both with 100 test subjects of 10 windows and B = 100:

- null (R_NULL studies): two arms that differ only by seed, 3 seeds, training noise tau = 0.2. Type-I
  error of the verdicts (with 2 and 3 seeds), coverage with seeds (true changes 0), no verdict with 1 seed.
- effect (R_EFFECT studies): ``ssl`` is less discriminating and less biased than ``supervised`` (lower
  AUROC, lower PD); one seed and no training noise (tau = 0), so test sampling is the only source of
  variation and the one-seed interval, which covers test sampling, should cover the truth.

And the interval formula alone (:func:`~fairssl.evaluation.inference.components` on synthetic per-seed
values and draws): type-I error of the change test under the null.

Known failures are ``xfail(strict=True)`` with the measured numbers in their reasons; the full grid of
designs is in ``benchmarks/inference_calibration.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.evaluation.inference import InferenceSettings, StudyDraws, components, study_inference

NON_NULL = {"fairer", "less_fair", "more_accurate", "less_accurate"}
N_BOOT = 100
N_SUBJECTS = 100
WINDOWS = 10
R_NULL = 80
R_EFFECT = 300


def _load_benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "inference_calibration.py"
    spec = importlib.util.spec_from_file_location("inference_calibration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ic = _load_benchmark()
NULL = ic.Design(n_seeds=3, tau=0.2, n_subjects=N_SUBJECTS, windows=WINDOWS, effect=False, n_boot=N_BOOT)
EFFECT = ic.Design(n_seeds=1, tau=0.0, n_subjects=N_SUBJECTS, windows=WINDOWS, effect=True, n_boot=N_BOOT)


def _studies(design: object, reps: int, master_seed: int) -> list[StudyDraws]:
    return [
        ic.simulate_study(design, np.random.default_rng([master_seed, r]), boot_seed=r) for r in range(reps)
    ]


@pytest.fixture(scope="module")
def null_studies() -> list[StudyDraws]:
    return _studies(NULL, R_NULL, master_seed=11)


@pytest.fixture(scope="module")
def null_records(null_studies: list[StudyDraws]) -> pd.DataFrame:
    truths = ic.design_truths(NULL)
    return pd.DataFrame([ic.evaluate(study, truths) for study in null_studies])


@pytest.fixture(scope="module")
def effect_records() -> pd.DataFrame:
    truths = ic.design_truths(EFFECT)
    return pd.DataFrame([ic.evaluate(study, truths) for study in _studies(EFFECT, R_EFFECT, master_seed=12)])


def _band(reps: int) -> tuple[int, int]:
    """Two-sided 99% binomial band of the covered count when the true coverage is 95%."""
    return int(stats.binom.ppf(0.005, reps, 0.95)), int(stats.binom.isf(0.005, reps, 0.95))


def _check_coverage(records: pd.DataFrame, key: str) -> None:
    """Covered count of the 95% intervals (correction none) within Monte-Carlo error of 95%.

    Lower bound: the 0.5% quantile of Binomial(R, 0.95) (R = 80: 70, R = 300: 275, i.e. 0.875 and 0.917):
    an exactly calibrated interval fails it with probability < 0.5%. Upper bound: the intervals are
    conservative by design (the across-seed spread on one test set re-counts part of the test-sampling
    noise, and with 3 seeds the t quantile has 2 df: null AUROC changes cover ~0.99), acceptable up to
    ~0.995. A count cannot tell 0.995 from 1 with R <= 300 (at most 1.5 expected misses), so the upper
    check is on width instead: the mean SE over the across-study SD of the interval's centre must be
    <= 1.5 (a normal interval 1.5x too wide covers 99.7%); the SD of R >= 80 estimates is known to
    about +/- 8%, so an honest interval (ratio ~1) is far from failing.
    """
    reps = len(records)
    covered = int(records[f"cover_{key}"].sum())
    low = _band(reps)[0]
    assert covered >= low, f"{key}: coverage {covered / reps:.3f} < {low / reps:.3f}"
    if f"se_{key}" in records:
        ratio = records[f"se_{key}"].mean() / records[f"est_{key}"].std(ddof=1)
        assert ratio <= 1.5, f"{key}: intervals {ratio:.2f}x as wide as the estimates' spread"


# ----------------------------------------------------------------------------------------- null design
@pytest.mark.slow
@pytest.mark.parametrize("n_seeds", [2, 3])
def test_null_design_type_one_error(null_studies: list[StudyDraws], n_seeds: int) -> None:
    """Share of null studies with any non-null verdict (family: ssl x {PD, AUROC}, Holm, alpha 0.05).

    Allowance: the test fails when more than k_max of R studies reject, k_max the 99% quantile of
    Binomial(R, 0.05): if the true family-wise error were exactly 5%, it would fail with probability
    < 1% (R = 80: k_max = 9, a share of 0.11).
    """
    rejections = 0
    for study in null_studies:
        changes = study_inference(ic.first_seeds(study, n_seeds)).changes
        assert changes["in_family"].astype(bool).sum() == 2  # ssl vs supervised: PD and AUROC
        rejections += int(changes["verdict"].isin(NON_NULL).any())
    k_max = int(stats.binom.ppf(0.99, R_NULL, 0.05))
    assert stats.binom.sf(k_max, R_NULL, 0.05) < 0.01
    assert rejections <= k_max, f"{rejections} of {R_NULL} null studies gave a verdict"


@pytest.mark.slow
@pytest.mark.parametrize("key", ["pd", "pd_change", "auroc_change"])
def test_null_design_coverage_with_seeds(null_records: pd.DataFrame, key: str) -> None:
    """With 3 seeds (the SE's across-seed part and its n - 1 df at work): 95% intervals of the supervised PD
    and of the (zero) PD and AUROC changes hold the truth (see :func:`_check_coverage`)."""
    _check_coverage(null_records, key)


# --------------------------------------------------------------------------------------- effect design


@pytest.mark.slow
@pytest.mark.parametrize("key", ["pd", "pd_change", "auroc_change"])
def test_effect_design_coverage(effect_records: pd.DataFrame, key: str) -> None:
    """Non-null effect, test sampling the only source of variation: 95% intervals of the supervised PD,
    the PD change and the AUROC change (ssl - supervised) hold the exact truth (see
    :func:`_check_coverage`)."""
    _check_coverage(effect_records, key)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known limitation, documented: per-attribute parity-deviation intervals of one setup "
    "under-cover: ~0.87 for parity_deviation:group (a real disparity) and ~0.89 for parity_deviation:age "
    "(no disparity: truth 0, on PD's kink) in the effect design (400 studies); the bias-corrected centre "
    "spreads more than the bootstrap SE. They are descriptive (not in the tested family); the pooled PD "
    "covers",
)
def test_effect_design_coverage_per_attribute(effect_records: pd.DataFrame) -> None:
    for attribute in ("group", "age"):
        _check_coverage(effect_records, f"pd_{attribute}")


@pytest.mark.slow
def test_effect_is_real(effect_records: pd.DataFrame) -> None:
    """The design is not vacuous: the AUROC drop is far outside its test-sampling interval (so a one-seed
    verdict, were one given, would be 'less accurate' in nearly every study)."""
    z = effect_records["est_auroc_change"] / effect_records["se_auroc_change"]
    assert (z < -3).mean() > 0.9


# --------------------------------------------------------------------------------------------- one seed
@pytest.mark.slow
def test_one_seed_never_gives_a_verdict(null_studies: list[StudyDraws], effect_records: pd.DataFrame) -> None:
    """With one seed per setup the interval covers test sampling only, and two models that differ only by
    seed differ on one test set: no verdict, under any correction, whether the effect is null or not."""
    assert effect_records["any_verdict_all_rows"].sum() == 0  # one-seed studies with a real effect
    for settings in (InferenceSettings(), InferenceSettings(correction="none")):
        for study in null_studies:
            changes = study_inference(ic.first_seeds(study, 1), settings).changes
            assert not changes["verdict"].isin(NON_NULL).any()
            assert set(changes["verdict"]) <= {"one_seed", "at_chance", "no_interval"}
            assert not changes["in_family"].astype(bool).any()


# ----------------------------------------------------------------------------- the interval formula alone


@pytest.mark.parametrize(
    ("n_seeds", "ratio"),
    [(2, 0.25), (2, 8.0), (5, 2.0), (3, 0.5)],
)
def test_change_test_holds_alpha_under_the_null(n_seeds: int, ratio: float) -> None:
    """The interval formula alone (:func:`components`), on a null paired change: per seed
    d_s = e_s + g (e_s ~ N(0, 1) training noise, g ~ N(0, V) the test set's shared effect) and resample
    draws d_s + sqrt(V) h_b (h centred, unit variance: V_test = V exactly, no bias), V = ratio / n.
    Type-I error of p < 0.05 over 4,000 studies; allowance: the 99% quantile of Binomial(4000, 0.05)
    (0.058). With df = n - 1 alpha holds for every ratio (Welch-Satterthwaite df gave ~11% at 2 seeds and
    ratio 0.25)."""
    rng = np.random.default_rng(31)
    reps, n_boot = 4000, 40
    v = ratio / n_seeds
    rejections = 0
    for _ in range(reps):
        values = rng.normal(0.0, 1.0, n_seeds) + rng.normal(0.0, np.sqrt(v))
        h = rng.standard_normal(n_boot)
        h = (h - h.mean()) / h.std(ddof=1)
        comp = components(values, values[None, :] + np.sqrt(v) * h[:, None])
        assert comp.var_test == pytest.approx(v) and comp.bias == pytest.approx(0.0, abs=1e-12)
        rejections += comp.p_value() < 0.05
    k_max = int(stats.binom.ppf(0.99, reps, 0.05))
    assert rejections <= k_max, f"type-I error {rejections / reps:.3f} (allowance {k_max / reps:.3f})"


def test_truth_is_exact_for_the_null_attribute_and_the_null_change() -> None:
    """The oracle itself: the null attribute's truth is exactly 0 and identical arms share one truth."""
    null = ic.design_truths(NULL)
    assert null["supervised"] == null["ssl"]
    t = null["supervised"]
    assert t["parity_deviation:age"] == 0.0
    assert t["parity_deviation"] == pytest.approx(t["parity_deviation:group"] / 2)
    effect = ic.design_truths(EFFECT)
    assert effect["ssl"]["auroc"] < effect["supervised"]["auroc"]
    assert effect["ssl"]["parity_deviation"] < effect["supervised"]["parity_deviation"]
