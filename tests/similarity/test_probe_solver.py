"""The probes' Newton / L-BFGS logistic regression (:mod:`fairssl.similarity.probe_solver`) against
scikit-learn's ``LogisticRegression(class_weight="balanced")``: the same optimum (a tightly converged sklearn
fit), and the probe tables within lbfgs's own tolerance of the sklearn path (``solver="sklearn"``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from fairssl.errors import ConfigError
from fairssl.similarity import probe_solver
from fairssl.similarity.probe_solver import ridge_logistic_proba
from fairssl.similarity.probes import demographic_probe, group_task_probe, out_of_fold_proba


def _problem(k: int, seed: int, n: int = 300, q: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=np.r_[0.55, np.full(k - 1, 0.45 / (k - 1))])  # imbalanced classes
    Z = rng.normal(size=(n, q))
    Z[:, :2] += 0.8 * y[:, None]
    return Z, y, rng.normal(size=(50, q))


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("C", [0.05, 1.0])
def test_probabilities_equal_a_tightly_converged_sklearn_fit(k: int, C: float) -> None:
    Z, y, Z_test = _problem(k, seed=k)
    proba, converged = ridge_logistic_proba(Z, y, Z_test, C=C)
    oracle = LogisticRegression(C=C, class_weight="balanced", tol=1e-12, max_iter=100_000).fit(Z, y)
    assert converged and proba.shape == (50, k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(proba, oracle.predict_proba(Z_test), rtol=0, atol=1e-6)


def _hand_gradient(Z: np.ndarray, y: np.ndarray, theta: np.ndarray, C: float) -> np.ndarray:
    """Gradient of C sum_i s_i [logsumexp(eta_i) - eta_{i, y_i}] + ||W||^2 / 2 (s balanced, intercepts in
    the last row of theta unpenalised), one window and one class at a time."""
    k = theta.shape[1]
    counts = np.bincount(y, minlength=k)
    grad = np.zeros_like(theta)
    grad[:-1] += theta[:-1]
    for i in range(len(y)):
        z1 = np.append(Z[i], 1.0)
        eta = z1 @ theta
        p = np.exp(eta - eta.max()) / np.exp(eta - eta.max()).sum()
        s_i = len(y) / (k * counts[y[i]])
        for c in range(k):
            grad[:, c] += C * s_i * (p[c] - (y[i] == c)) * z1
    return grad


@pytest.mark.parametrize("k", [3, 5])
def test_multinomial_newton_reaches_a_stationary_point_in_few_steps(
    k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KKT oracle independent of scikit-learn: at the returned coefficients the hand-written gradient
    vanishes (relative to its size at the start), and Newton gets there within 30 steps (L-BFGS took
    hundreds of iterations on such problems)."""
    monkeypatch.setattr(probe_solver, "MAX_NEWTON", 30)
    Z, y, _ = _problem(k, seed=10 + k, n=200, q=6)
    C = 0.5
    s = len(y) / (k * np.bincount(y)[y])
    Z1 = np.hstack([Z, np.ones((len(y), 1))])
    theta, converged = probe_solver._newton_multinomial(Z1, np.eye(k)[y], s, C)
    assert converged and theta.shape == (7, k) and theta[-1, -1] == 0.0
    start = np.abs(_hand_gradient(Z, y, np.zeros((7, k)), C)).max()
    assert np.abs(_hand_gradient(Z, y, theta, C)).max() < 1e-7 * start


def test_classes_are_the_sorted_present_labels() -> None:
    Z, y, Z_test = _problem(3, seed=0)
    proba, _ = ridge_logistic_proba(Z, np.array([2, 5, 9])[y], Z_test, C=1.0)  # labels 2, 5, 9
    np.testing.assert_allclose(proba, ridge_logistic_proba(Z, y, Z_test, C=1.0)[0], atol=1e-10)


def test_separable_data_still_converges_to_the_penalised_optimum() -> None:
    Z, y, Z_test = _problem(2, seed=1)
    Z[:, 0] += 20 * y  # perfectly separable: only the L2 penalty bounds the weights
    proba, converged = ridge_logistic_proba(Z, y, Z_test, C=10.0)
    oracle = LogisticRegression(C=10.0, class_weight="balanced", tol=1e-12, max_iter=100_000).fit(Z, y)
    assert converged
    np.testing.assert_allclose(proba, oracle.predict_proba(Z_test), atol=1e-4)


def _probe_data(seed: int = 0) -> tuple[dict[str, np.ndarray], pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_subj, per = 40, 6
    subjects = np.repeat([f"s{i:02d}" for i in range(n_subj)], per)
    race = np.repeat(rng.choice(["a", "b", "c"], size=n_subj, p=[0.5, 0.3, 0.2]), per)
    sex = np.repeat(rng.choice(["f", "m"], size=n_subj), per)
    code = pd.factorize(race, sort=True)[0]
    y = (rng.random(n_subj * per) < 0.3 + 0.2 * (sex == "f")).astype(int)
    acts = {
        "wide": rng.normal(size=(n_subj * per, 30)) + 0.4 * code[:, None],  # PCA to 8 features
        "narrow": rng.normal(size=(n_subj * per, 5)) + 0.5 * y[:, None],
    }
    return acts, pd.DataFrame({"race": race, "sex": sex}), y, subjects


def test_out_of_fold_auroc_within_lbfgs_tolerance_of_sklearn() -> None:
    acts, frame, _, subjects = _probe_data()
    labels = pd.factorize(frame["sex"], sort=True)[0]
    options = {"subjects": subjects, "max_features": 8, "seed": 3}
    new, folds = out_of_fold_proba(acts["wide"], labels, **options)
    old, folds_old = out_of_fold_proba(acts["wide"], labels, solver="sklearn", **options)
    np.testing.assert_array_equal(folds, folds_old)
    assert abs(roc_auc_score(labels, new[:, 1]) - roc_auc_score(labels, old[:, 1])) < 0.005
    np.testing.assert_allclose(new, old, atol=0.01)


def test_probe_tables_match_the_sklearn_path() -> None:
    """Same rows and columns; estimates within 0.01 (lbfgs stops at tol=1e-4, Newton at the optimum:
    the out-of-fold probabilities differ by about 1e-3, a few ranks at most move)."""
    acts, frame, y, subjects = _probe_data(1)
    options = {"subjects": subjects, "max_features": 8, "n_boot": 20, "min_group_size": 20}
    for probe, extra in ((demographic_probe, ()), (group_task_probe, (y,))):
        new = probe(acts, *extra, frame, **options)
        old = probe(acts, *extra, frame, solver="sklearn", **options)
        key = [
            c for c in new.columns if new[c].dtype == object or c in ("n", "n_subjects", "n_groups", "n_pos")
        ]
        pd.testing.assert_frame_equal(new[key], old[key])
        for column in ("estimate", "ci_low", "ci_high"):
            np.testing.assert_allclose(new[column], old[column], atol=0.01)
        assert new.attrs["not_converged"] == 0


def test_unknown_solver_is_a_config_error() -> None:
    acts, frame, _, subjects = _probe_data()
    with pytest.raises(ConfigError, match="solver must be one of"):
        demographic_probe(acts, frame, subjects=subjects, solver="adam")
