"""Representation probes: planted group signal recovered, null at chance, subject-disjoint folds, oracles
against scikit-learn, group-specific vs pooled task probes, relation to conditioned CKA, errors."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairssl.data.simulate import simulate
from fairssl.errors import ConfigError, DataError
from fairssl.similarity import probe_fit
from fairssl.similarity.conditioned import best_worst_difference, conditioned_cka, summarise_conditioned
from fairssl.similarity.probes import (
    MAX_ITER,
    PROBE_COLUMNS,
    TASK_PROBE_COLUMNS,
    demographic_probe,
    group_task_probe,
    out_of_fold_proba,
    relate_to_cka,
    subject_folds,
)

NO_BIAS = {"offset": 0.0, "noise": 0.0}
SPO2_BIAS = {"attribute": "race", "group": "black", "channel": "spo2", "offset": 3.0, "noise": 0.0}


def _features(X: np.ndarray) -> np.ndarray:
    """Window summary "activations" without torch: per-channel mean, std, max, min, last value (N, 5C)."""
    return np.concatenate([X.mean(2), X.std(2), X.max(2), X.min(2), X[:, :, -1]], axis=1)


def _row(table: pd.DataFrame, **where: Any) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for col, value in where.items():
        mask &= (table[col] == value).to_numpy()
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


def _reference_probe(C: float = 1.0, n_components: int | None = None) -> Any:
    """An independently built probe with the documented settings."""
    steps: list[Any] = [StandardScaler()]
    if n_components is not None:
        steps.append(PCA(n_components=n_components, random_state=0))
    # converged tightly: the estimand is the optimum, which the default Newton solver reaches and lbfgs at
    # its default tol=1e-4 stops about 1e-3 short of (the sklearn solver: test_probe_solver.py)
    steps.append(LogisticRegression(C=C, class_weight="balanced", tol=1e-10, max_iter=100 * MAX_ITER))
    return make_pipeline(*steps)


def _cv(folds: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in np.unique(folds)]


def _small(seed: int = 0, n_subjects: int = 60, windows: int = 3, k: int = 3) -> tuple[np.ndarray, ...]:
    """Synthetic (features, labels, subject ids): label per subject, weak signal in feature 0."""
    rng = np.random.default_rng(seed)
    subj_label = rng.integers(0, k, size=n_subjects)
    subjects = np.repeat(np.array([f"p{i:03d}" for i in range(n_subjects)]), windows)
    labels = np.repeat(subj_label, windows)
    X = rng.normal(size=(n_subjects * windows, 4))
    X[:, 0] += 0.8 * labels
    return X, labels.astype(np.int64), subjects


@pytest.fixture(scope="module")
def biased() -> Any:
    return simulate(seed=0, n_subjects=400, windows_per_subject=4, measurement_bias=SPO2_BIAS)


@pytest.fixture(scope="module")
def unbiased() -> Any:
    return simulate(seed=1, n_subjects=400, windows_per_subject=4, measurement_bias=NO_BIAS)


def _random_attribute(subjects: np.ndarray, groups: list[str], seed: int) -> np.ndarray:
    uniq = np.unique(subjects)
    assigned = dict(zip(uniq, np.random.default_rng(seed).choice(groups, size=len(uniq)), strict=True))
    return np.array([assigned[s] for s in subjects], dtype=object)


# ---------------------------------------------------------------------------------------------- (a), (b)
def test_measurement_bias_makes_race_recoverable(biased: Any) -> None:
    sf = biased.attributes[["race"]].assign(black=np.where(biased.attributes["race"] == "black", "yes", "no"))
    out = demographic_probe({"features": _features(biased.X)}, sf, subjects=biased.subject, n_boot=50)
    assert list(out.columns) == PROBE_COLUMNS
    race_ba = _row(out, attribute="race", metric="balanced_accuracy")
    race_auc = _row(out, attribute="race", metric="auroc")
    assert race_ba["n_groups"] == 5 and race_ba["chance"] == pytest.approx(0.2)
    assert race_auc["chance"] == 0.5
    assert race_ba["above_chance"] and race_ba["ci_low"] > 0.2
    assert race_auc["above_chance"] and race_auc["ci_low"] > 0.5
    # black vs rest: the offset of 3 (about 6 baseline SDs) is read out almost perfectly
    black = _row(out, attribute="black", metric="auroc")
    assert black["estimate"] > 0.97 and black["ci_low"] > 0.9


def test_measurement_bias_passes_the_permutation_test(biased: Any) -> None:
    sf = pd.DataFrame({"black": np.where(biased.attributes["race"] == "black", "yes", "no")})
    acts = {"means": biased.X.mean(axis=2)}
    out = demographic_probe(acts, sf, subjects=biased.subject, n_boot=10, n_permutations=19)
    for metric in ("balanced_accuracy", "auroc"):
        assert _row(out, metric=metric)["p_value"] == pytest.approx(1 / 20)  # beats every permutation


def test_without_bias_black_is_not_recoverable(unbiased: Any) -> None:
    sf = pd.DataFrame({"black": np.where(unbiased.attributes["race"] == "black", "yes", "no")})
    out = demographic_probe({"features": _features(unbiased.X)}, sf, subjects=unbiased.subject, n_boot=50)
    for metric in ("balanced_accuracy", "auroc"):
        row = _row(out, attribute="black", metric=metric)
        assert not row["above_chance"]


def test_random_attribute_stays_at_chance(unbiased: Any) -> None:
    sf = pd.DataFrame(
        {
            "coin2": _random_attribute(unbiased.subject, ["a", "b"], seed=11),
            "coin3": _random_attribute(unbiased.subject, ["a", "b", "c"], seed=12),
        }
    )
    out = demographic_probe(
        {"features": _features(unbiased.X)}, sf, subjects=unbiased.subject, n_boot=50, n_permutations=19
    )
    for attribute, k in (("coin2", 2), ("coin3", 3)):
        for metric, chance in (("balanced_accuracy", 1.0 / k), ("auroc", 0.5)):
            row = _row(out, attribute=attribute, metric=metric)
            assert row["chance"] == pytest.approx(chance)
            # not above chance: with permutations the flag needs the permutation test too; the interval is
            # not asserted to cover chance: it ignores refitting variability and under-covers (module
            # docstring), so on some data a coin-flip attribute's lower bound lands just above chance
            assert not row["above_chance"]
            assert abs(row["estimate"] - chance) < 0.05
            assert row["p_value"] > 0.05  # not significant at the 5% level
        acc = _row(out, attribute=attribute, metric="accuracy")
        shares = pd.Series(sf[attribute]).value_counts(normalize=True)
        assert acc["chance"] == pytest.approx(shares.max())  # majority share, counted independently


# ---------------------------------------------------------------------------------------------- (c) folds
def _folds_oracle(subjects: np.ndarray, strata: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """The documented rule, written as a plain loop over subjects."""
    by_subject: dict[str, list[str]] = {}
    for s, t in zip(subjects.astype(str), strata.astype(str), strict=True):
        by_subject.setdefault(s, []).append(t)
    modal = {s: min(set(ts), key=lambda t: (-ts.count(t), t)) for s, ts in by_subject.items()}
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    position = 0
    for stratum in sorted(set(modal.values())):
        members = sorted(s for s in modal if modal[s] == stratum)
        for idx in rng.permutation(len(members)):
            fold_of[members[idx]] = position % n_splits
            position += 1
    return np.array([fold_of[s] for s in subjects.astype(str)])


def test_subject_folds_keep_each_subject_in_one_fold() -> None:
    rng = np.random.default_rng(0)
    subjects = rng.choice([f"s{i}" for i in range(50)], size=400)
    strata = rng.integers(0, 3, size=400)  # varies within subjects: the modal stratum counts
    folds = subject_folds(subjects, strata, n_splits=5, seed=4)
    np.testing.assert_array_equal(folds, _folds_oracle(subjects, strata, 5, 4))
    assert folds.dtype == np.int64 and set(folds.tolist()) == set(range(5))
    assert (pd.Series(folds).groupby(subjects).nunique() == 1).all()
    # the assignment depends on subjects and strata, not on row order
    perm = rng.permutation(400)
    np.testing.assert_array_equal(
        subject_folds(subjects[perm], strata[perm], n_splits=5, seed=4), folds[perm]
    )


def test_subject_folds_balance_strata_across_folds() -> None:
    rng = np.random.default_rng(1)
    n_subj = 103
    stratum_of = rng.choice(["a", "b", "c", "d"], p=[0.6, 0.25, 0.1, 0.05], size=n_subj)
    windows = rng.integers(1, 6, size=n_subj)
    subjects = np.repeat(np.arange(n_subj), windows)
    strata = np.repeat(stratum_of, windows)
    folds = subject_folds(subjects, strata, n_splits=5, seed=2)
    subject_fold = pd.Series(folds).groupby(subjects).first()
    per_stratum = pd.crosstab(stratum_of, subject_fold.to_numpy())  # subjects per (stratum, fold)
    assert (per_stratum.max(axis=1) - per_stratum.min(axis=1) <= 1).all()
    sizes = subject_fold.value_counts()
    assert sizes.max() - sizes.min() <= 1
    np.testing.assert_array_equal(folds, _folds_oracle(subjects, strata, 5, 2))
    assert not np.array_equal(folds, subject_folds(subjects, strata, n_splits=5, seed=3))


def test_probes_never_train_and_test_on_the_same_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    X, labels, subjects = _small(n_subjects=40)
    codes = np.unique(subjects, return_inverse=True)[1].astype(float)
    acts = {"ids": np.column_stack([codes, X])}  # column 0 carries the subject id into every fit
    overlaps: list[int] = []
    original = probe_fit._logistic_proba  # every fit ends here; column 0 is standardised (no PCA), so
    # equal prepared values still mean the same subject

    def spy(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, *args: Any, **kw: Any) -> Any:
        overlaps.append(len(set(X_train[:, 0]) & set(X_test[:, 0])))
        return original(X_train, y_train, X_test, *args, **kw)

    monkeypatch.setattr(probe_fit, "_logistic_proba", spy)
    sf = pd.DataFrame({"g": np.array(["a", "b", "c"])[labels]})
    demographic_probe(acts, sf, subjects=subjects, min_group_size=5, n_boot=5)
    n_demo = len(overlaps)
    y = (X[:, 1] > 0).astype(int)
    group_task_probe(acts, y, sf, subjects=subjects, min_group_size=5, n_boot=5)
    assert n_demo == 5 and len(overlaps) == 5 + 5 * (1 + 3)  # pooled + one probe per group, per fold
    assert max(overlaps) == 0


# ---------------------------------------------------------------------------------------------- oracles
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("n_components", [None, 2])
def test_out_of_fold_proba_matches_cross_val_predict(k: int, n_components: int | None) -> None:
    X, labels, subjects = _small(seed=k, k=k)
    proba, folds = out_of_fold_proba(
        X, labels, subjects=subjects, n_splits=4, seed=3, max_features=n_components
    )
    np.testing.assert_array_equal(folds, _folds_oracle(subjects, labels, 4, 3))
    expected = cross_val_predict(
        _reference_probe(n_components=n_components), X, labels, cv=_cv(folds), method="predict_proba"
    )
    # binomial fits are Newton-exact; multinomial L-BFGS stops at 1e-6 of sklearn's gradient scale
    np.testing.assert_allclose(proba, expected, atol=1e-6 if k == 2 else 1e-5)


def test_estimates_and_intervals_match_a_loop_over_resamples() -> None:
    X, labels, subjects = _small(seed=5, k=3)
    sf = pd.DataFrame({"g": np.array(["x", "y", "z"])[labels]})
    n_boot, seed = 30, 2
    out = demographic_probe(
        {"l": X}, sf, subjects=subjects, n_splits=4, min_group_size=5, n_boot=n_boot, seed=seed
    )
    proba, _ = out_of_fold_proba(X, labels, subjects=subjects, n_splits=4, seed=seed)
    pred = proba.argmax(axis=1)

    def metrics(w: np.ndarray | None) -> list[float]:
        return [
            balanced_accuracy_score(labels, pred, sample_weight=w),
            roc_auc_score(labels, proba, multi_class="ovr", average="macro", sample_weight=w),
            accuracy_score(labels, pred, sample_weight=w),
        ]

    uniq, unit = np.unique(subjects, return_inverse=True)  # resampling units in sorted subject order
    reps = []
    for b in range(n_boot):
        draw = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,))).integers(
            0, len(uniq), len(uniq)
        )
        counts = np.bincount(draw, minlength=len(uniq)).astype(float)
        reps.append(metrics(counts[unit]))
    lo, hi = np.quantile(np.array(reps), [0.025, 0.975], axis=0)
    for j, (metric, value) in enumerate(
        zip(("balanced_accuracy", "auroc", "accuracy"), metrics(None), strict=True)
    ):
        row = _row(out, metric=metric)
        assert row["estimate"] == pytest.approx(value, abs=1e-9)
        assert row["ci_low"] == pytest.approx(lo[j], abs=1e-9)
        assert row["ci_high"] == pytest.approx(hi[j], abs=1e-9)


def test_permutation_p_value_matches_an_independent_loop() -> None:
    X, labels, subjects = _small(seed=6, k=2, n_subjects=40)
    X[:, 0] += 0.5 * labels  # a moderate signal, so the p-value is neither 1 nor minimal by construction
    sf = pd.DataFrame({"g": np.array(["x", "y"])[labels]})
    n_perm, seed = 6, 5
    out = demographic_probe(
        {"l": X},
        sf,
        subjects=subjects,
        n_splits=4,
        min_group_size=5,
        n_boot=5,
        seed=seed,
        n_permutations=n_perm,
    )
    uniq, unit = np.unique(subjects, return_inverse=True)
    subject_label = labels[np.unique(unit, return_index=True)[1]]  # labels are constant per subject

    def auc_ba(lab: np.ndarray) -> tuple[float, float]:
        cv = _cv(_folds_oracle(subjects, lab, 4, seed))
        proba = cross_val_predict(_reference_probe(), X, lab, cv=cv, method="predict_proba")
        return roc_auc_score(lab, proba[:, 1]), balanced_accuracy_score(lab, proba.argmax(axis=1))

    observed = auc_ba(labels)
    null = [
        auc_ba(subject_label[np.random.default_rng([seed, 7919, r]).permutation(len(uniq))][unit])
        for r in range(n_perm)
    ]
    for j, metric in enumerate(("auroc", "balanced_accuracy")):
        expected = (1 + sum(v[j] >= observed[j] - 1e-12 for v in null)) / (1 + n_perm)
        assert _row(out, metric=metric)["p_value"] == pytest.approx(expected)


def test_group_task_probe_matches_an_independent_implementation() -> None:
    rng = np.random.default_rng(7)
    X, _, subjects = _small(seed=7, n_subjects=80, windows=3)
    group = _random_attribute(subjects, ["a", "b"], seed=3)
    y = np.where(group == "a", X[:, 1] + rng.normal(size=len(X)) > 0, X[:, 2] - X[:, 1] > 0).astype(int)
    out = group_task_probe(
        {"l": X}, y, pd.DataFrame({"g": group}), subjects=subjects, n_splits=4, n_boot=10, seed=1
    )
    assert list(out.columns) == TASK_PROBE_COLUMNS
    strata = (group == "b").astype(int) * 2 + y
    pooled, own = np.zeros(len(y)), np.zeros(len(y))
    for train, test in _cv(_folds_oracle(subjects, strata, 4, 1)):
        pooled[test] = _reference_probe().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        for g in ("a", "b"):
            tr, te = train[group[train] == g], test[group[test] == g]
            own[te] = _reference_probe().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    for g in ("a", "b"):
        m = group == g
        auc_own, auc_pool = roc_auc_score(y[m], own[m]), roc_auc_score(y[m], pooled[m])
        assert _row(out, group=g, metric="auroc_group_probe")["estimate"] == pytest.approx(auc_own, abs=1e-6)
        assert _row(out, group=g, metric="auroc_pooled_probe")["estimate"] == pytest.approx(
            auc_pool, abs=1e-6
        )
        gap = _row(out, group=g, metric="gap")
        assert gap["estimate"] == pytest.approx(auc_own - auc_pool, abs=1e-6)
        assert gap["n"] == m.sum() and gap["n_pos"] == y[m].sum() and gap["reference"] == 0.0


@pytest.mark.parametrize("group_pca", ["own", "pooled"])
def test_group_task_probe_with_pca_matches_an_independent_implementation(group_pca: str) -> None:
    rng = np.random.default_rng(8)
    X, _, subjects = _small(seed=8, n_subjects=80, windows=3)
    X = np.column_stack([X, rng.normal(size=(len(X), 4))])  # 8 features, reduced to 3 components
    group = _random_attribute(subjects, ["a", "b"], seed=4)
    y = np.where(group == "a", X[:, 1] + X[:, 4] > 0, X[:, 2] - X[:, 1] > 0).astype(int)
    out = group_task_probe(
        {"l": X},
        y,
        pd.DataFrame({"g": group}),
        subjects=subjects,
        n_splits=4,
        n_boot=10,
        seed=0,
        max_features=3,
        group_pca=group_pca,
    )
    assert out.attrs["reduced_layers"] == {"l": 8}
    strata = (group == "b").astype(int) * 2 + y
    pooled, own = np.zeros(len(y)), np.zeros(len(y))
    for train, test in _cv(_folds_oracle(subjects, strata, 4, 0)):
        pooled[test] = _reference_probe(n_components=3).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        prep = make_pipeline(StandardScaler(), PCA(n_components=3, random_state=0))
        Z_train, Z_test = prep.fit_transform(X[train]), prep.transform(X[test])  # the pooled fold's PCA
        for g in ("a", "b"):
            tr, te = group[train] == g, group[test] == g
            if group_pca == "own":  # the group's own standardisation and PCA on its raw training windows
                probe = _reference_probe(n_components=3).fit(X[train][tr], y[train][tr])
                own[test[te]] = probe.predict_proba(X[test][te])[:, 1]
            else:  # the pooled fold's components, standardised on the group's training windows
                probe = _reference_probe().fit(Z_train[tr], y[train][tr])
                own[test[te]] = probe.predict_proba(Z_test[te])[:, 1]
    for g in ("a", "b"):
        m = group == g
        assert _row(out, group=g, metric="auroc_pooled_probe")["estimate"] == pytest.approx(
            roc_auc_score(y[m], pooled[m]), abs=1e-6
        )
        assert _row(out, group=g, metric="auroc_group_probe")["estimate"] == pytest.approx(
            roc_auc_score(y[m], own[m]), abs=1e-6
        )


def test_group_pca_makes_no_difference_without_pca() -> None:
    X, labels, subjects = _small(seed=4, k=2, n_subjects=50)
    sf = pd.DataFrame({"g": np.array(["x", "y"])[labels]})
    y = (X[:, 1] + 0.5 * X[:, 2] > 0).astype(int)
    kw: dict[str, Any] = {"subjects": subjects, "min_group_size": 5, "n_boot": 10}
    own = group_task_probe({"l": X}, y, sf, group_pca="own", **kw)
    shared = group_task_probe({"l": X}, y, sf, group_pca="pooled", **kw)
    cols = ["estimate", "ci_low", "ci_high"]
    np.testing.assert_allclose(shared[cols].to_numpy(), own[cols].to_numpy(), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardisation_is_standard_scaler_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(0)
    X: np.ndarray = (rng.normal(size=(60, 5)) * [1, 10, 1e-3, 1, 1] + [0, 5, 1e4, 0, 0]).astype(dtype)
    X[:, 3] = 7.0  # a constant feature keeps scale 1
    Z_train, Z_test = probe_fit._standardise(X[:40], X[40:])
    scaler = StandardScaler().fit(X[:40])
    assert Z_train.dtype == dtype and Z_test.dtype == dtype
    np.testing.assert_array_equal(Z_train, scaler.transform(X[:40]))
    np.testing.assert_array_equal(Z_test, scaler.transform(X[40:]))


def test_split_modules_keep_the_public_names() -> None:
    from fairssl.similarity import probes as facade

    for name in facade.__all__:
        assert getattr(facade, name) is not None
    assert facade.demographic_probe.__module__ == "fairssl.similarity.probe_demographic"
    assert facade.group_task_probe.__module__ == "fairssl.similarity.probe_task"


# ---------------------------------------------------------------------------------------------- properties
def test_invariant_to_feature_scaling_and_row_order() -> None:
    X, labels, subjects = _small(seed=9, k=3)
    sf = pd.DataFrame({"g": np.array(["x", "y", "z"])[labels]})
    kw: dict[str, Any] = {"n_splits": 4, "min_group_size": 5, "n_boot": 20, "seed": 1}
    base = demographic_probe({"l": X}, sf, subjects=subjects, **kw)
    scaled = demographic_probe({"l": 3.0 * X + 5.0}, sf, subjects=subjects, **kw)
    perm = np.random.default_rng(0).permutation(len(X))
    permuted = demographic_probe(
        {"l": X[perm]}, sf.iloc[perm].reset_index(drop=True), subjects=subjects[perm], **kw
    )
    cols = ["estimate", "ci_low", "ci_high"]
    np.testing.assert_allclose(scaled[cols].to_numpy(), base[cols].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(permuted[cols].to_numpy(), base[cols].to_numpy(), atol=1e-6)


def test_reproducible_with_a_seed_and_seed_changes_folds() -> None:
    X, labels, subjects = _small(seed=4, k=2)
    sf = pd.DataFrame({"g": np.array(["x", "y"])[labels]})
    kw: dict[str, Any] = {"min_group_size": 5, "n_boot": 20}
    a = demographic_probe({"l": X}, sf, subjects=subjects, seed=3, **kw)
    b = demographic_probe({"l": X}, sf, subjects=subjects, seed=3, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
    y = (X[:, 1] > 0).astype(int)
    t1 = group_task_probe({"l": X}, y, sf, subjects=subjects, seed=3, **kw)
    t2 = group_task_probe({"l": X}, y, sf, subjects=subjects, seed=3, **kw)
    pd.testing.assert_frame_equal(t1, t2)
    f3 = subject_folds(subjects, labels, seed=3)
    f4 = subject_folds(subjects, labels, seed=4)
    assert not np.array_equal(f3, f4)
    c = demographic_probe({"l": X}, sf, subjects=subjects, seed=4, **kw)
    assert not np.allclose(a["ci_low"].to_numpy(), c["ci_low"].to_numpy())


def test_small_and_missing_groups_are_excluded_and_listed() -> None:
    ds = simulate(seed=2, n_subjects=300, windows_per_subject=4, missing_share=0.1, measurement_bias=NO_BIAS)
    acts = {"means": ds.X.mean(axis=2)}
    race = ds.attributes["race"].astype(str).to_numpy()
    sizes = {str(g): int(c) for g, c in pd.Series(race).value_counts().items()}
    out = demographic_probe(acts, ds.attributes[["race"]], subjects=ds.subject, min_group_size=100, n_boot=5)
    used = sorted(g for g, s in sizes.items() if s >= 100 and g != "missing")
    assert out.attrs["groups"]["race"] == used
    statuses = {r["group"]: r["status"] for r in out.attrs["skipped"]}
    assert statuses["missing"] == "missing_excluded"
    assert all(statuses[g] == "too_small" for g, s in sizes.items() if s < 100 and g != "missing")
    assert set(out["n"]) == {sum(sizes[g] for g in used)} and set(out["n_groups"]) == {len(used)}
    with_missing = demographic_probe(
        acts, ds.attributes[["race"]], subjects=ds.subject, min_group_size=100, include_missing=True, n_boot=5
    )
    assert "missing" in with_missing.attrs["groups"]["race"]
    assert set(with_missing["n"]) == {sum(sizes[g] for g in [*used, "missing"])}


def test_attribute_with_one_usable_group_is_skipped() -> None:
    X, labels, subjects = _small(seed=1, k=2)
    sf = pd.DataFrame({"g": np.where(labels == 0, "x", "y"), "const": "same"})
    out = demographic_probe({"l": X}, sf, subjects=subjects, min_group_size=5, n_boot=5)
    assert set(out["attribute"]) == {"g"}
    assert [r["attribute"] for r in out.attrs["skipped_attributes"]] == ["const"]


def test_wide_layers_are_reduced_by_pca() -> None:
    X, labels, subjects = _small(seed=2, k=2)
    wide = np.column_stack([X, np.random.default_rng(0).normal(size=(len(X), 20))])
    sf = pd.DataFrame({"g": np.where(labels == 0, "x", "y")})
    out = demographic_probe(
        {"wide": wide, "narrow": X[:, :2]}, sf, subjects=subjects, min_group_size=5, n_boot=5, max_features=3
    )
    assert out.attrs["reduced_layers"] == {"wide": 24}
    proba, _ = out_of_fold_proba(wide, labels, subjects=subjects, max_features=3)
    expected = roc_auc_score(labels, proba[:, 1])
    assert _row(out, layer="wide", metric="auroc")["estimate"] == pytest.approx(expected, abs=1e-9)


# ------------------------------------------------------------------------------------------ (e) task probe
@pytest.fixture(scope="module")
def task_data(unbiased: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    F = _features(unbiased.X)
    z = (F - F.mean(0)) / F.std(0)
    noise = np.random.default_rng(0).normal(scale=0.5, size=len(F))
    female = (unbiased.attributes["sex"] == "female").to_numpy()
    # women's label follows mean SpO2 (feature 1), men's mean activity (feature 5)
    y_diff = np.where(female, z[:, 1] + noise > 0, z[:, 5] + noise > 0).astype(int)
    y_same = (z[:, 1] + noise > 0).astype(int)
    return F, y_diff, y_same, unbiased


def test_group_task_probe_detects_different_boundaries(task_data: Any) -> None:
    F, y_diff, _, ds = task_data
    out = group_task_probe({"features": F}, y_diff, ds.attributes[["sex"]], subjects=ds.subject, n_boot=50)
    for sex in ("female", "male"):
        gap = _row(out, group=sex, metric="gap")
        assert gap["above_reference"] and gap["ci_low"] > 0.02
        own = _row(out, group=sex, metric="auroc_group_probe")["estimate"]
        pooled = _row(out, group=sex, metric="auroc_pooled_probe")["estimate"]
        assert gap["estimate"] == pytest.approx(own - pooled)


def test_group_task_probe_shows_no_gap_for_a_shared_boundary(task_data: Any) -> None:
    F, _, y_same, ds = task_data
    out = group_task_probe({"features": F}, y_same, ds.attributes[["sex"]], subjects=ds.subject, n_boot=50)
    for sex in ("female", "male"):
        gap = _row(out, group=sex, metric="gap")
        assert not gap["above_reference"] and gap["estimate"] < 0.01


def test_single_class_group_is_skipped() -> None:
    X, labels, subjects = _small(seed=3, k=3)
    sf = pd.DataFrame({"g": np.array(["x", "y", "z"])[labels]})
    y = np.where(labels == 2, 0, (X[:, 1] > 0).astype(int))  # group z has no positives
    out = group_task_probe({"l": X}, y, sf, subjects=subjects, min_group_size=5, n_boot=5)
    assert set(out["group"]) == {"x", "y"}
    assert out.attrs["skipped"][0]["status"] == "single_class"


# ---------------------------------------------------------------------------------------------- relate to CKA
def _gap_frame(values: dict[tuple[str, str, str], float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"layer": la, "attribute": a, "group": g, "metric": "gap", "estimate": v}
            for (a, la, g), v in values.items()
        ]
    )


def _cka_frame(rows: list[tuple[str, str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"attribute": a, "best_group": b, "worst_group": w, "layer_a": la, "layer_b": la, "cka_best": cb}
            | {"cka_worst": cw, "diff": cb - cw}
            for a, b, w, la, cb, cw in rows
        ]
    )


def _exact_two_sided_p(x: np.ndarray, y: np.ndarray) -> float:
    """Exact permutation p of Spearman's rho, scipy's two-sided convention: 2 * min(P(>=), P(<=))."""
    obs = stats.spearmanr(x, y).statistic
    null = np.array([stats.spearmanr(x, np.array(p)).statistic for p in itertools.permutations(y)])
    eps = 1e-12
    return float(min(1.0, 2 * min(np.mean(null >= obs - eps), np.mean(null <= obs + eps))))


def test_relate_to_cka_oracle() -> None:
    rng = np.random.default_rng(0)
    attrs = ["a1", "a2", "a3", "a4", "a5"]
    gaps: dict[tuple[str, str, str], float] = {}
    cka_rows = []
    for a in attrs:
        gaps[(a, "l1", "best")] = float(rng.normal(0, 0.02))
        gaps[(a, "l1", "worst")] = float(rng.normal(0.03, 0.05))
        gaps[(a, "pooled", "best")] = 0.0  # no CKA pair: left out
        gaps[(a, "pooled", "worst")] = 0.0
        cka_rows.append(
            (a, "best", "worst", "l1", float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.3, 0.7)))
        )
    res = relate_to_cka(_gap_frame(gaps), _cka_frame(cka_rows))
    table, rho, p, n, caveat = res
    assert n == 5 and list(table["attribute"]) == attrs and set(table["layer"]) == {"l1"}
    x = np.array([gaps[(a, "l1", "worst")] - gaps[(a, "l1", "best")] for a in attrs])
    y = np.array([cb - cw for _, _, _, _, cb, cw in cka_rows])
    np.testing.assert_allclose(table["gap_contrast"], x)
    np.testing.assert_allclose(table["cka_diff"], y)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert p == pytest.approx(_exact_two_sided_p(x, y), abs=1e-12)
    assert "n = 5" in caveat and "not independent" in caveat


def test_relate_to_cka_layer_pairs_dropped_units_and_small_n() -> None:
    gaps = {("a1", "enc", "g1"): 0.1, ("a1", "enc", "g2"): 0.0, ("a2", "enc", "g1"): 0.05}
    cka = _cka_frame([("a1", "g1", "g2", "conv3", 0.8, 0.6), ("a2", "g1", "g2", "conv3", 0.7, 0.7)])
    res = relate_to_cka(_gap_frame(gaps), cka, layer_pairs={"enc": ("conv3", "conv3")})
    assert res.n == 1 and res.table.loc[0, "gap_contrast"] == pytest.approx(-0.1)
    assert np.isnan(res.spearman) and np.isnan(res.p_value)
    assert res.table.attrs["dropped"][0]["attribute"] == "a2"
    assert "no correlation" in res.caveat


def test_relate_to_cka_without_a_shared_attribute_is_empty_not_an_error() -> None:
    # thin data: the task probe kept only a1, the CKA contrast only a2 (each dropped the other's groups)
    gaps = {("a1", "conv1", "g1"): 0.1, ("a1", "conv1", "g2"): 0.0}
    cka = _cka_frame([("a2", "g1", "g2", "conv1", 0.8, 0.6)])
    res = relate_to_cka(_gap_frame(gaps), cka)
    assert res.n == 0 and res.table.empty and "gap_contrast" in res.table.columns
    assert np.isnan(res.spearman) and "no attribute has both" in res.caveat
    # the CKA's worst group has no probe gap (the probe skipped it): nothing to relate, not an error
    only_best = relate_to_cka(_gap_frame({("a2", "conv1", "g1"): 0.1}), cka)
    assert only_best.n == 0 and only_best.table.attrs["dropped"][0]["reason"] == "no probe gap for g1 or g2"
    with pytest.raises(DataError, match="no probe layer"):  # a real naming mismatch still says so
        relate_to_cka(_gap_frame({("a2", "enc", "g1"): 0.1, ("a2", "enc", "g2"): 0.0}), cka)


def test_relate_to_cka_takes_the_conditioned_pipeline_output(task_data: Any) -> None:
    F, y_diff, _, ds = task_data
    sf = ds.attributes[["sex", "age_group"]]
    acts = {"l1": F[:, :7], "l2": F[:, 7:21]}
    gaps = group_task_probe(acts, y_diff, sf, subjects=ds.subject, n_boot=10)
    noisy = {k: v + np.random.default_rng(1).normal(size=v.shape) for k, v in acts.items()}
    summary = summarise_conditioned(
        conditioned_cka(acts, noisy, sf, n_per_group=200, n_draws=2, n_permutations=3)
    )
    pooled = gaps[(gaps["metric"] == "auroc_pooled_probe") & (gaps["layer"] == "l2")]
    performance = pooled.rename(columns={"estimate": "performance"})[["attribute", "group", "performance"]]
    diff = best_worst_difference(summary, performance)
    res = relate_to_cka(gaps, diff)
    assert res.n == 4  # 2 attributes x 2 layers matched on the diagonal (l1, l1), (l2, l2)
    assert set(zip(res.table["attribute"], res.table["layer"], strict=True)) == {
        (a, la) for a in ("sex", "age_group") for la in ("l1", "l2")
    }
    assert -1.0 <= res.spearman <= 1.0 and 0.0 < res.p_value <= 1.0


# ---------------------------------------------------------------------------------------------- (f) errors
@pytest.fixture
def tiny() -> tuple[dict[str, np.ndarray], pd.DataFrame, np.ndarray, np.ndarray]:
    X, labels, subjects = _small(seed=0, n_subjects=20, windows=2, k=2)
    return {"l": X}, pd.DataFrame({"g": np.where(labels == 0, "x", "y")}), subjects, labels


def test_misaligned_rows_raise(tiny: Any) -> None:
    acts, sf, subjects, labels = tiny
    with pytest.raises(
        DataError, match=r"acts\['l'\] has shape \(40, 4\) but sensitive_features has 39 rows"
    ):
        demographic_probe(acts, sf.iloc[:-1], subjects=subjects[:-1])
    with pytest.raises(DataError, match=r"subjects has shape \(39,\), expected \(40,\)"):
        demographic_probe(acts, sf, subjects=subjects[:-1])
    with pytest.raises(DataError, match=r"y has shape \(39,\), expected \(40,\)"):
        group_task_probe(acts, labels[:-1], sf, subjects=subjects)


def test_unknown_attribute_raises(tiny: Any) -> None:
    acts, sf, subjects, labels = tiny
    with pytest.raises(
        ConfigError, match=r"unknown attribute\(s\) \['race'\]; sensitive_features has columns \['g'\]"
    ):
        demographic_probe(acts, sf, subjects=subjects, attributes=["race"])
    with pytest.raises(ConfigError, match=r"unknown attribute"):
        group_task_probe(acts, labels, sf, subjects=subjects, attributes=["race"])


def test_too_few_subjects_for_n_splits_raises(tiny: Any) -> None:
    acts, sf, _, labels = tiny
    three = np.array(["s1", "s2", "s3"] * 13 + ["s1"])
    with pytest.raises(ConfigError, match=r"needs at least 5 subjects, got 3; lower n_splits"):
        demographic_probe(acts, sf, subjects=three)
    with pytest.raises(ConfigError, match=r"needs at least 5 subjects, got 3"):
        group_task_probe(acts, labels, sf, subjects=three)
    with pytest.raises(ConfigError, match=r"needs at least 5 subjects, got 3"):
        subject_folds(three, labels)


def test_bad_inputs_and_options_raise(tiny: Any) -> None:
    acts, sf, subjects, labels = tiny
    with pytest.raises(DataError, match=r"y must hold binary labels 0/1, got values \[-1, 0, 1\]"):
        group_task_probe(acts, np.where(np.arange(40) < 3, -1, labels), sf, subjects=subjects)
    with pytest.raises(DataError, match=r"acts\['l'\] holds 4 NaN/inf values"):
        demographic_probe(
            {"l": np.where(np.arange(40)[:, None] == 0, np.nan, acts["l"])}, sf, subjects=subjects
        )
    with pytest.raises(DataError, match=r"acts must be a non-empty mapping"):
        demographic_probe({}, sf, subjects=subjects)
    with pytest.raises(DataError, match=r"sensitive_features must be a DataFrame"):
        demographic_probe(acts, sf["g"], subjects=subjects)
    with pytest.raises(DataError, match=r"subjects holds missing ids"):
        demographic_probe(acts, sf, subjects=np.where(np.arange(40) == 0, None, subjects))
    with pytest.raises(ConfigError, match=r"n_splits must be an integer >= 2, got 1"):
        demographic_probe(acts, sf, subjects=subjects, n_splits=1)
    with pytest.raises(ConfigError, match=r"max_features must be an integer >= 1, got 0"):
        demographic_probe(acts, sf, subjects=subjects, max_features=0)
    with pytest.raises(ConfigError, match=r"C \(inverse L2 strength\) must be a positive number"):
        demographic_probe(acts, sf, subjects=subjects, C=0.0)
    with pytest.raises(ConfigError, match=r"confidence must lie strictly between 0 and 1"):
        demographic_probe(acts, sf, subjects=subjects, confidence=1.0)
    with pytest.raises(ConfigError, match=r"n_permutations must be an integer >= 0, got -1"):
        demographic_probe(acts, sf, subjects=subjects, n_permutations=-1)
    with pytest.raises(ConfigError, match=r"group_pca must be one of \('own', 'pooled'\), got 'shared'"):
        group_task_probe(acts, labels, sf, subjects=subjects, group_pca="shared")
    with pytest.raises(DataError, match=r"labels \(40,\) integer class codes"):
        out_of_fold_proba(acts["l"], np.where(labels == 0, "x", "y"), subjects=subjects)


def test_relate_to_cka_bad_inputs_raise() -> None:
    gaps = _gap_frame({("a", "l1", "g1"): 0.1, ("a", "l1", "g2"): 0.0})
    cka = _cka_frame([("a", "g1", "g2", "other", 0.8, 0.6)])
    with pytest.raises(DataError, match=r"probe_gaps must be the DataFrame returned by group_task_probe"):
        relate_to_cka(gaps.drop(columns="metric"), cka)
    with pytest.raises(
        DataError, match=r"cka_best_worst must be the DataFrame returned by best_worst_difference"
    ):
        relate_to_cka(gaps, cka.drop(columns="diff"))
    with pytest.raises(DataError, match=r"no probe layer \['l1'\] of any attribute matches a CKA layer pair"):
        relate_to_cka(gaps, cka)
