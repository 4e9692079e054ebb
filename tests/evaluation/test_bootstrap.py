"""Bootstrap: vectorised resamples equal explicit resampling; interval behaviour; paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.bootstrap import bootstrap_ci, multiplicities, resample_indices
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.paired import paired_bootstrap_difference
from fairssl.evaluation.parity import attribute_parity_deviation, parity_deviation
from fairssl.evaluation.performance import performance_table
from fairssl.evaluation.replicator import ModelReplicator


def _clustered(seed: int, n_subjects: int = 60, per_subject: int = 10, subject_sd: float = 1.5):
    """Windows nested in subjects; a subject effect makes a subject's windows correlated."""
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    sex = rng.choice(["f", "m"], n_subjects)[subject]
    age = rng.choice(["young", "mid", "old"], n_subjects, p=[0.4, 0.35, 0.25])[subject]
    effect = rng.normal(0, subject_sd, n_subjects)[subject]
    y = (rng.random(len(subject)) < 1 / (1 + np.exp(-effect))).astype(int)
    score = 1 / (1 + np.exp(-(effect + 1.0 * (2 * y - 1) + rng.normal(0, 1, len(subject)))))
    return y, score, pd.DataFrame({"sex": sex, "age": age}), subject


def test_multiplicities_count_the_draws() -> None:
    idx = resample_indices(7, n_boot=5, seed=3)
    mult = multiplicities(idx, 7)
    assert mult.shape == (5, 7) and (mult.sum(axis=1) == 7).all()
    for b in range(5):
        np.testing.assert_array_equal(mult[b], np.bincount(idx[b], minlength=7))


def test_resamples_do_not_depend_on_chunking() -> None:
    full = resample_indices(9, n_boot=6, seed=1)
    np.testing.assert_array_equal(full[4:], resample_indices(9, n_boot=2, seed=1, start=4))
    assert not np.array_equal(full, resample_indices(9, n_boot=6, seed=2))


@pytest.mark.parametrize("use_clusters", [True, False])
def test_vectorised_replicates_equal_tables_on_explicit_resamples(use_clusters: bool) -> None:
    y, s, frame, subject = _clustered(0, n_subjects=25, per_subject=6)
    reference = {"sex": "m", "age": "young"}  # fixed reference: explicit tables pick the same one
    units = subject if use_clusters else np.arange(len(y))
    n_units = units.max() + 1
    model = ModelReplicator(
        y,
        s,
        frame,
        units,
        n_units,
        threshold=0.5,
        reference=reference,
        min_group_size=0,
        include_missing=False,
    )
    idx = resample_indices(n_units, n_boot=4, seed=9)
    fair, pdev, perf = model.replicate(multiplicities(idx, n_units))
    for b in range(4):
        rows = np.concatenate([np.flatnonzero(units == u) for u in idx[b]])  # explicit resample
        yt, sc, fr = y[rows], s[rows], frame.iloc[rows].reset_index(drop=True)
        table = fairness_table(yt, (sc >= 0.5).astype(int), fr, reference=reference, min_group_size=0)
        np.testing.assert_allclose(fair[b], table["value"].to_numpy(), rtol=1e-10, atol=1e-12)
        assert pdev[b] == pytest.approx(parity_deviation(table), rel=1e-10)
        expected = performance_table(yt, sc, fr, min_group_size=0)["value"].to_numpy()
        np.testing.assert_allclose(perf[b], expected, rtol=1e-10, atol=1e-12)


def test_all_ones_multiplicity_reproduces_the_point_estimates() -> None:
    y, s, frame, subject = _clustered(1)
    model = ModelReplicator(
        y,
        s,
        frame,
        subject,
        subject.max() + 1,
        threshold=0.4,
        reference="majority",
        min_group_size=30,
        include_missing=False,
    )
    fair, pdev, perf = model.replicate(np.ones((1, subject.max() + 1)))
    np.testing.assert_allclose(fair[0], model.fairness["value"].to_numpy(), equal_nan=True)
    np.testing.assert_allclose(perf[0], model.performance["value"].to_numpy(), equal_nan=True)
    assert pdev[0] == pytest.approx(model.parity_estimate)


def test_table_layout_and_estimates() -> None:
    y, s, frame, subject = _clustered(2)
    out = bootstrap_ci(y, s, frame, clusters=subject, n_boot=50, min_group_size=30)
    fair = fairness_table(y, (s >= 0.5).astype(int), frame, min_group_size=30)
    perf = performance_table(y, s, frame, min_group_size=30)
    # summary rows: the pooled parity deviation first, then one per attribute (sex, age)
    kinds = ["fairness"] * len(fair) + ["summary"] * 3 + ["performance"] * len(perf)
    assert out["kind"].tolist() == kinds
    np.testing.assert_allclose(out[out["kind"] == "fairness"]["estimate"], fair["value"], equal_nan=True)
    np.testing.assert_allclose(out[out["kind"] == "performance"]["estimate"], perf["value"], equal_nan=True)
    summary = out[out["kind"] == "summary"]
    assert summary["attribute"].tolist() == ["all", "sex", "age"]
    assert (summary["metric"] == "parity_deviation").all() and (summary["group"] == "all").all()
    assert summary["estimate"].iloc[0] == pytest.approx(parity_deviation(fair))
    per_attribute = attribute_parity_deviation(fair)
    np.testing.assert_allclose(summary["estimate"].iloc[1:], per_attribute[["sex", "age"]].to_numpy())
    assert summary["estimate"].iloc[0] == pytest.approx(per_attribute.mean())  # attributes weigh equally
    assert summary["n_group"].tolist() == [len(y), len(y), len(y)]
    finite = out.dropna(subset=["ci_low"])
    assert (finite["ci_low"] <= finite["ci_high"]).all() and (out["n_valid"] <= 50).all()
    assert (out["estimate"].isna() <= (out["reason"] != "")).all()


def test_interval_contains_the_estimate() -> None:
    y, s, frame, subject = _clustered(3, n_subjects=120)
    out = bootstrap_ci(y, s, frame, clusters=subject, n_boot=200, min_group_size=30)
    rows = out[
        (out["kind"] == "performance")
        | out["metric"].isin(["statistical_parity_difference", "disparate_impact"])
    ]
    rows = rows.dropna(subset=["ci_low"])
    assert len(rows) > 20
    assert ((rows["ci_low"] <= rows["estimate"]) & (rows["estimate"] <= rows["ci_high"])).all()


def test_interval_width_shrinks_with_n() -> None:
    widths = []
    for n_subjects in (40, 640):
        y, s, frame, _ = _clustered(4, n_subjects=n_subjects, per_subject=2)
        out = bootstrap_ci(y, s, frame, n_boot=200, min_group_size=0)
        overall = out[(out["attribute"] == "overall") & (out["metric"] == "auroc")]
        widths.append((overall["ci_high"] - overall["ci_low"]).item())
    assert widths[1] < widths[0] / 2.5  # 16x the data: about 4x narrower


def test_cluster_resampling_is_wider_than_window_resampling_for_correlated_windows() -> None:
    y, s, frame, subject = _clustered(5, n_subjects=40, per_subject=25, subject_sd=2.0)
    by_subject = bootstrap_ci(y, s, frame, clusters=subject, n_boot=300, min_group_size=0)
    by_window = bootstrap_ci(y, s, frame, n_boot=300, min_group_size=0)
    width_subject = (by_subject["ci_high"] - by_subject["ci_low"]).to_numpy()
    width_window = (by_window["ci_high"] - by_window["ci_low"]).to_numpy()
    ok = np.isfinite(width_subject) & np.isfinite(width_window)
    assert np.median(width_subject[ok] / width_window[ok]) > 1.3  # about 1.6-1.9 across seeds


def test_same_seed_same_result_and_chunking_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    import fairssl.evaluation.bootstrap as bootstrap

    y, s, frame, subject = _clustered(6)
    a = bootstrap_ci(y, s, frame, clusters=subject, n_boot=30, seed=4)
    monkeypatch.setattr(bootstrap, "_CHUNK_ELEMENTS", 1)  # one resample per chunk
    b = bootstrap_ci(y, s, frame, clusters=subject, n_boot=30, seed=4)
    pd.testing.assert_frame_equal(a, b)


def test_undefined_in_most_resamples_gets_no_interval() -> None:
    y, s, frame, _ = _clustered(7, n_subjects=30, per_subject=4)
    y = y.copy()
    rare = np.flatnonzero(y == 1)[:1]  # a single positive window: most resamples lose it
    y[:] = 0
    y[rare] = 1
    out = bootstrap_ci(y, s, frame, n_boot=100, min_group_size=0, min_valid_fraction=0.9)
    overall = out[(out["attribute"] == "overall") & (out["metric"] == "auroc")]
    assert overall["reason"].item() == "undefined_in_most_resamples" and np.isnan(overall["ci_low"].item())


def test_paired_difference_of_a_model_with_itself_is_zero() -> None:
    y, s, frame, subject = _clustered(8)
    out = paired_bootstrap_difference(
        y, s, s, frame, clusters=subject, n_boot=50, min_group_size=10
    ).set_index("metric")
    for metric in (
        "auroc_difference",
        "auprc_difference",
        "parity_deviation_difference",
        "relative_improvement",
    ):
        assert out.loc[metric, "estimate"] == 0.0
        assert out.loc[metric, "ci_low"] == 0.0 and out.loc[metric, "ci_high"] == 0.0


def test_paired_difference_estimates_and_pairing() -> None:
    y, s, frame, subject = _clustered(9, n_subjects=100)
    rng = np.random.default_rng(0)
    worse = 1 / (1 + np.exp(-(np.log(s / (1 - s)) + rng.normal(0, 1.5, len(s)))))
    out = paired_bootstrap_difference(
        y, s, worse, frame, clusters=subject, n_boot=200, min_group_size=10
    ).set_index("metric")
    single_a = bootstrap_ci(y, s, frame, clusters=subject, n_boot=200, min_group_size=10)
    single_b = bootstrap_ci(y, worse, frame, clusters=subject, n_boot=200, min_group_size=10)
    auroc = [
        t[(t["attribute"] == "overall") & (t["metric"] == "auroc")]["estimate"].item()
        for t in (single_a, single_b)
    ]
    assert out.loc["auroc_difference", "estimate"] == pytest.approx(auroc[0] - auroc[1])
    pd_a, pd_b = (
        t[(t["metric"] == "parity_deviation") & (t["attribute"] == "all")]["estimate"].item()
        for t in (single_a, single_b)
    )
    assert out.loc["relative_improvement", "estimate"] == pytest.approx((pd_b - pd_a) / pd_b)
    # pairing: the paired interval of the difference is narrower than combining the two marginal intervals
    diff_ci = out.to_dict("index")["auroc_difference"]
    paired_width = diff_ci["ci_high"] - diff_ci["ci_low"]
    widths = [
        (
            t[(t["attribute"] == "overall") & (t["metric"] == "auroc")][["ci_low", "ci_high"]].diff(axis=1)
        ).to_numpy()[0, 1]
        for t in (single_a, single_b)
    ]
    assert paired_width < np.hypot(*widths)
    assert diff_ci["ci_low"] > 0  # the noisier model is clearly less accurate


def test_errors() -> None:
    y, s, frame, subject = _clustered(10, n_subjects=10, per_subject=3)
    with pytest.raises(ConfigError, match="n_boot must be a positive integer"):
        bootstrap_ci(y, s, frame, n_boot=0)
    with pytest.raises(ConfigError, match="confidence must lie strictly between 0 and 1"):
        bootstrap_ci(y, s, frame, confidence=95)
    with pytest.raises(ConfigError, match="min_valid_fraction must lie in"):
        bootstrap_ci(y, s, frame, min_valid_fraction=2.0)
    with pytest.raises(DataError, match="clusters has shape"):
        bootstrap_ci(y, s, frame, clusters=subject[:-1])
    with pytest.raises(DataError, match="clusters holds missing ids"):
        bootstrap_ci(y, s, frame, clusters=np.where(subject == 0, None, subject))
    with pytest.raises(DataError, match="supports binary scores"):
        bootstrap_ci(y, np.full((len(y), 3), 1 / 3), frame)
    with pytest.raises(ConfigError, match="min_group_size must be a non-negative integer"):
        bootstrap_ci(y, s, frame, min_group_size=-1)
    with pytest.raises(ConfigError, match="reference must be one of"):
        paired_bootstrap_difference(y, s, s, frame, reference="largest")
