"""Benchmark: fairssl's vectorised bootstrap against fairlearn's MetricFrame bootstrap.

Both compute, for every group of every protected attribute and overall, the rates behind the fairness
metrics (selection rate, TPR, FPR, FNR, TNR, FDR, FOR, error rate) and the performance metrics (AUROC,
AUPRC, accuracy, balanced accuracy, F1) on B window resamples, with percentile intervals. fairlearn needs
one MetricFrame per attribute (a DataFrame of several attributes would make intersectional groups);
fairssl additionally derives all group-vs-reference differences/ratios, the fairlearn attribute-level
metrics and the parity deviation from the same resamples.

    python benchmarks/fairness.py                        # n = 20,000 windows, 4 attributes, B = 1,000
    python benchmarks/fairness.py --quick                # n = 2,000, B = 50
    python benchmarks/fairness.py --fairlearn-boot 1000  # fairlearn at full B too (about 30 min)

fairlearn's bootstrap is a Python loop of independent resamples, so its time is linear in B; by default it
is run with 25 resamples (plus once without) and extrapolated to B, which the output states.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from fairssl.evaluation import bootstrap_ci


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, np.ndarray]:
    """Labels, scores with group-dependent bias, 4 attributes and subject ids (10 windows per subject)."""
    rng = np.random.default_rng(seed)
    n_subjects = max(1, n // 10)
    subject = np.sort(rng.integers(0, n_subjects, n))
    per_subject = {
        "sex": rng.choice(["female", "male"], n_subjects),
        "age": rng.choice(["<45", "45-65", "65+"], n_subjects, p=[0.3, 0.4, 0.3]),
        "race": rng.choice(["white", "black", "asian", "hispanic"], n_subjects, p=[0.6, 0.2, 0.1, 0.1]),
        "insurance": rng.choice(["private", "medicare", "medicaid"], n_subjects, p=[0.5, 0.35, 0.15]),
    }
    frame = pd.DataFrame({k: v[subject] for k, v in per_subject.items()})
    y = (rng.random(n) < 0.3).astype(int)
    shift = np.where(frame["race"] == "black", -0.4, 0.0) + np.where(frame["age"] == "65+", 0.3, 0.0)
    score = 1 / (1 + np.exp(-(1.6 * (2 * y - 1) + shift + rng.normal(0, 1.2, n))))
    return y, score, frame, subject


def fairlearn_bootstrap(
    y: np.ndarray, score: np.ndarray, frame: pd.DataFrame, *, n_boot: int | None, threshold: float
) -> float:
    """Seconds for one fairlearn MetricFrame per attribute with n_boot resamples of equivalent metrics.

    ``n_boot=None`` times the point estimates only (fairlearn's fixed cost).
    """
    from fairlearn import metrics as flm

    def binarised(fn):
        return lambda y_true, y_score: fn(y_true, (y_score >= threshold).astype(int))

    def fdr(y_true, y_pred):
        return 1.0 - skm.precision_score(y_true, y_pred, zero_division=np.nan)

    def false_omission(y_true, y_pred):
        neg = y_pred == 0
        return float(np.mean(y_true[neg] == 1)) if neg.any() else np.nan

    metrics = {
        "selection_rate": binarised(flm.selection_rate),
        "tpr": binarised(flm.true_positive_rate),
        "fpr": binarised(flm.false_positive_rate),
        "fnr": binarised(flm.false_negative_rate),
        "tnr": binarised(flm.true_negative_rate),
        "fdr": binarised(fdr),
        "for": binarised(false_omission),
        "error_rate": binarised(lambda t, p: 1.0 - skm.accuracy_score(t, p)),
        "accuracy": binarised(skm.accuracy_score),
        "balanced_accuracy": binarised(skm.balanced_accuracy_score),
        "f1": binarised(skm.f1_score),
        "auroc": skm.roc_auc_score,
        "auprc": skm.average_precision_score,
    }
    start = time.perf_counter()
    for column in frame.columns:
        mf = flm.MetricFrame(
            metrics=metrics,
            y_true=y,
            y_pred=score,
            sensitive_features=frame[column],
            n_boot=n_boot,
            ci_quantiles=None if n_boot is None else [0.025, 0.975],
            random_state=0,
        )
        if n_boot is not None:
            mf.by_group_ci  # noqa: B018  (materialise the intervals)
            mf.difference_ci()
            mf.ratio_ci()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke size (n=2,000, B=50)")
    parser.add_argument("--n", type=int, default=None, help="windows (default 20,000)")
    parser.add_argument("--n-boot", type=int, default=None, help="bootstrap resamples (default 1,000)")
    parser.add_argument(
        "--fairlearn-boot",
        type=int,
        default=None,
        help="resamples actually run through fairlearn (default: 25, or 5 with --quick); fairlearn's "
        "cost is then extrapolated linearly to --n-boot from its fixed cost and per-resample cost. "
        "Pass the same value as --n-boot for a direct measurement (about 30 min at full size).",
    )
    args = parser.parse_args()
    n = args.n or (2_000 if args.quick else 20_000)
    n_boot = args.n_boot or (50 if args.quick else 1_000)
    fl_boot = min(n_boot, args.fairlearn_boot or (5 if args.quick else 25))
    y, score, frame, subject = make_data(n)
    print(f"n={n:,} windows, {frame.shape[1]} attributes, {subject.max() + 1:,} subjects, B={n_boot:,}")

    start = time.perf_counter()
    ours = bootstrap_ci(y, score, frame, n_boot=n_boot, min_group_size=30)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    bootstrap_ci(y, score, frame, clusters=subject, n_boot=n_boot, min_group_size=30)
    t_ours_clusters = time.perf_counter() - start
    print(f"fairssl bootstrap_ci, window resamples:   {t_ours:9.2f} s  ({len(ours):,} rows with intervals)")
    print(f"fairssl bootstrap_ci, subject resamples:  {t_ours_clusters:9.2f} s")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fixed = fairlearn_bootstrap(y, score, frame, n_boot=None, threshold=0.5)
        t_run = fairlearn_bootstrap(y, score, frame, n_boot=fl_boot, threshold=0.5)
    per_resample = max(t_run - t_fixed, 0.0) / fl_boot
    t_fl = t_run if fl_boot == n_boot else t_fixed + per_resample * n_boot
    print(f"fairlearn MetricFrame x {frame.shape[1]} attributes, point estimates only: {t_fixed:9.2f} s")
    print(
        f"fairlearn MetricFrame(n_boot={fl_boot:,}) x {frame.shape[1]} attributes: {t_run:9.2f} s "
        f"({per_resample:.3f} s per resample)"
    )
    how = "measured" if fl_boot == n_boot else "extrapolated linearly"
    print(f"fairlearn for B={n_boot:,} ({how}):  {t_fl:9.2f} s")
    print(f"speed-up (fairlearn / fairssl, window resamples): {t_fl / t_ours:8.1f}x")


if __name__ == "__main__":
    main()
