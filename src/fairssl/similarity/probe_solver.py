"""The linear probe's logistic regression, solved by Newton's method (:func:`ridge_logistic_proba`).

The estimand is scikit-learn's ``LogisticRegression(C, class_weight="balanced")`` (L2, lbfgs), whose
optimum is unique: with sample weights s_i = n / (K n_{y_i}) (balanced), K the classes present in the
training rows,

- K = 2 (binomial): minimise  C sum_i s_i [log(1 + exp(eta_i)) - y_i eta_i] + ||w||^2 / 2,
  eta = Z w + b, P(class 1) = sigmoid(eta);
- K > 2 (multinomial): minimise  C sum_i s_i [logsumexp(eta_i) - eta_{i, y_i}] + ||W||_F^2 / 2,
  eta = Z W + b (one weight vector per class, all penalised; intercepts b not penalised; b is fixed
  to 0 for the last class, which leaves the probabilities unchanged: softmax is shift-invariant),
  P = softmax(eta).

The objective is strictly convex in the penalised weights, so Newton's method with a backtracking line
search converges from zero in a few steps (typically 5-10 binomial, about 10 multinomial; quadratic
convergence), where lbfgs takes about 90 iterations (binomial) and L-BFGS on the multinomial objective
took about 400 on the probes' PCA features. A binomial step costs O(n (q+1)^2); a multinomial step
O(n K^2 (q+1)^2) for the K (q+1) - 1 square Hessian (the last class's intercept held at 0) and its
Cholesky solve: at the default study's shapes (n ~ 460, q = 64, K = 4) one multinomial fit takes ~20 ms on
one core, 3x less than L-BFGS (``benchmarks/probe_speed.py``). Newton stops at a Newton decrement below
1e-12 (1 + |objective|): the optimum more precisely than lbfgs at its default ``tol=1e-4``. The
probabilities agree with a tightly converged scikit-learn fit to 1e-6 (``tests/similarity/
test_probe_solver.py``; out-of-fold AUROCs within 0.005 of the default sklearn fit). ``solver="sklearn"``
in the probes keeps scikit-learn's fit as the reference.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

MAX_NEWTON = 100
"""Newton steps before a fit counts as not converged."""
MAX_LBFGS = 5000
"""Iterations of the earlier multinomial L-BFGS solver (:func:`_lbfgs_multinomial`, benchmarks only)."""

_SYRK = scipy.linalg.blas.get_blas_funcs("syrk", dtype=np.float64)
"""alpha A A' (upper triangle) of a Fortran-ordered A: half the work of a full product."""
_DECREMENT_TOL = 1e-12
_ARMIJO = 1e-4
_GTOL = 1e-6
"""L-BFGS stops when the largest gradient entry is below _GTOL C sum(s): scikit-learn's lbfgs divides the
objective by C sum(s) and stops at 1e-4, so this is 100 times tighter."""


def _objective(
    Z1: np.ndarray, Y: np.ndarray, s: np.ndarray, theta: np.ndarray, C: float, binary: bool
) -> tuple[float, np.ndarray]:
    """(objective, logits) at ``theta`` ((q+1,) binary or (q+1, K) multinomial; last row = intercept)."""
    eta = Z1 @ theta  # (n,) or (n, K)
    w = theta[:-1]
    if binary:
        loss = np.logaddexp(0.0, eta) - Y * eta  # (n,)
    else:
        top = eta.max(axis=1, keepdims=True)
        lse = (top + np.log(np.exp(eta - top).sum(axis=1, keepdims=True)))[:, 0]  # (n,)
        loss = lse - (Y * eta).sum(axis=1)
    return float(C * (s @ loss) + 0.5 * np.sum(w * w)), eta


def _probabilities(eta: np.ndarray, binary: bool) -> np.ndarray:
    """sigmoid (n,) or softmax (n, K) of the logits."""
    if binary:
        return 0.5 * (1.0 + np.tanh(0.5 * eta))  # sigmoid without overflow
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _backtrack(
    Z1: np.ndarray,
    Y: np.ndarray,
    s: np.ndarray,
    theta: np.ndarray,
    step: np.ndarray,
    f: float,
    decrement: float,
    C: float,
    binary: bool,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Armijo backtracking along the Newton step: halve t from 1 until f(theta - t step) <= f - c t d
    (d the squared Newton decrement) or t < 1e-10; returns (theta, f, logits) at the accepted point."""
    t = 1.0
    while True:
        cand = theta - t * step
        f_new, eta_new = _objective(Z1, Y, s, cand, C, binary)
        if f_new <= f - _ARMIJO * t * decrement or t < 1e-10:
            return cand, f_new, eta_new
        t *= 0.5


def _newton_system(
    Z1: np.ndarray, y: np.ndarray, s: np.ndarray, theta: np.ndarray, eta: np.ndarray, C: float
) -> tuple[np.ndarray, np.ndarray]:
    """Binomial case: gradient (q+1,) and Hessian (q+1, q+1) of the objective at ``theta``."""
    q1 = Z1.shape[1]
    P = _probabilities(eta, True)
    ridge = np.ones(q1)
    ridge[-1] = 0.0  # the intercept is not penalised
    grad = C * (Z1.T @ (s * (P - y))) + ridge * theta  # (q+1,)
    hess = C * (Z1.T * (s * P * (1.0 - P))) @ Z1  # (q+1, q+1)
    hess[np.diag_indices(q1)] += ridge
    return grad, hess


def _newton_binomial(Z1: np.ndarray, y: np.ndarray, s: np.ndarray, C: float) -> tuple[np.ndarray, bool]:
    """Newton's method with backtracking from theta = 0: (theta (q+1,), converged)."""
    theta = np.zeros(Z1.shape[1])
    f, eta = _objective(Z1, y, s, theta, C, True)
    for _ in range(MAX_NEWTON):
        grad, hess = _newton_system(Z1, y, s, theta, eta, C)
        try:
            step = scipy.linalg.solve(hess, grad, assume_a="pos")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        decrement = float(grad @ step)  # squared Newton decrement
        if decrement / 2 <= _DECREMENT_TOL * (1.0 + abs(f)):
            return theta, True
        theta, f, eta = _backtrack(Z1, y, s, theta, step, f, decrement, C, True)
    return theta, False


def _lbfgs_multinomial(Z1: np.ndarray, Y: np.ndarray, s: np.ndarray, C: float) -> tuple[np.ndarray, bool]:
    """L-BFGS on the multinomial objective (exact gradient) from 0: (theta (q+1, K), converged).

    The earlier multinomial solver (hundreds of iterations per fit), kept for benchmarks/probe_speed.py
    to compare with :func:`_newton_multinomial`."""
    q1, K = Z1.shape[1], Y.shape[1]
    ridge = np.ones((q1, 1))
    ridge[-1] = 0.0

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        theta = x.reshape(q1, K)
        eta = Z1 @ theta  # (n, K)
        eta -= eta.max(axis=1, keepdims=True)  # softmax and logsumexp are shift-invariant per row
        e = np.exp(eta)
        total = e.sum(axis=1)  # (n,)
        loss = np.log(total) - (Y * eta).sum(axis=1)  # (n,) logsumexp(eta_i) - eta_{i, y_i}
        f = float(C * (s @ loss) + 0.5 * np.sum(ridge * theta * theta))
        grad = C * (Z1.T @ (s[:, None] * (e / total[:, None] - Y))) + ridge * theta  # (q+1, K)
        return f, grad.reshape(-1)

    res = scipy.optimize.minimize(
        value_and_grad,
        np.zeros(q1 * K),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_LBFGS, "gtol": _GTOL * C * s.sum(), "ftol": 1e-15, "maxcor": 20},
    )
    return res.x.reshape(q1, K), bool(res.success)


def _multinomial_system(
    Z1: np.ndarray, Y: np.ndarray, s: np.ndarray, theta: np.ndarray, eta: np.ndarray, C: float
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial case: gradient (K (q+1),) and the upper triangle of the Hessian (K (q+1), K (q+1)) at
    ``theta`` (q+1, K), both in class-major order (entry k (q+1) + j is theta[j, k]).

    With P = softmax(eta) (n, K), a_i = sqrt(C s_i) z_i (z_i = row i of Z1):
    gradient_k = C Z1' (s (P_k - Y_k)) + ridge theta_k;
    Hessian = C sum_i s_i (diag(p_i) - p_i p_i') kron z_i z_i' + diag(ridge)
            = blockdiag_k(A' diag(P_k) A) - B' B + diag(ridge), B (n, K (q+1)) with B[i, (k, j)] = p_ik a_ij
    (B' B by a symmetric rank-n update: only its upper triangle is formed).
    """
    n, q1 = Z1.shape
    K = Y.shape[1]
    P = _probabilities(eta, False)  # (n, K)
    ridge = np.ones(q1)
    ridge[-1] = 0.0  # intercepts are not penalised
    grad = (C * (Z1.T @ (s[:, None] * (P - Y))) + ridge[:, None] * theta).T.reshape(-1)  # (K (q+1),)
    A = Z1 * np.sqrt(C * s)[:, None]  # (n, q+1)
    B = (P[:, :, None] * A[:, None, :]).reshape(n, K * q1)  # (n, K (q+1)), C order
    hess = _SYRK(-1.0, B.T)  # upper triangle of -B' B; B.T is Fortran-ordered, so no copy
    blocks = B.T @ A  # (K (q+1), q+1): rows of class k are A' diag(P_k) A
    for k in range(K):
        block = slice(k * q1, (k + 1) * q1)
        hess[block, block] += blocks[block]
    hess[np.diag_indices(K * q1)] += np.tile(ridge, K)
    return grad, hess


def _newton_multinomial(Z1: np.ndarray, Y: np.ndarray, s: np.ndarray, C: float) -> tuple[np.ndarray, bool]:
    """Newton's method with backtracking from theta = 0 on the multinomial objective, the last class's
    intercept held at 0 (the other K (q+1) - 1 parameters are identified; it is the last class-major
    entry, so the free system is the Hessian without its last row and column): (theta (q+1, K), converged).

    Each step costs O(n K^2 (q+1)^2) for the Hessian and O(K^3 (q+1)^3) for its Cholesky solve; about
    ten steps reach the optimum (quadratic convergence), where L-BFGS took hundreds of iterations."""
    q1, K = Z1.shape[1], Y.shape[1]
    d = K * q1 - 1  # free parameters
    theta = np.zeros((q1, K))
    f, eta = _objective(Z1, Y, s, theta, C, False)
    for _ in range(MAX_NEWTON):
        grad, hess = _multinomial_system(Z1, Y, s, theta, eta, C)
        g = grad[:d]
        try:
            factor = scipy.linalg.cho_factor(hess[:d, :d], lower=False, check_finite=False)
            step_free = scipy.linalg.cho_solve(factor, g, check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            H = np.triu(hess[:d, :d])
            step_free = np.linalg.lstsq(H + np.triu(H, 1).T, g, rcond=None)[0]
        decrement = float(g @ step_free)  # squared Newton decrement
        if decrement / 2 <= _DECREMENT_TOL * (1.0 + abs(f)):
            return theta, True
        step = np.append(step_free, 0.0).reshape(K, q1).T  # class-major -> (q+1, K)
        theta, f, eta = _backtrack(Z1, Y, s, theta, step, f, decrement, C, False)
    return theta, False


def ridge_logistic_proba(
    Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, *, C: float
) -> tuple[np.ndarray, bool]:
    """Fit the balanced L2 logistic regression on (Z_train (n, q), y_train (n,)) and predict Z_test (m, q).

    ``y_train`` holds at least two distinct class values; the classes are its sorted unique values, as
    scikit-learn's ``classes_``. Returns (P(class | Z_test) (m, K present classes), converged).
    """
    classes, codes = np.unique(y_train, return_inverse=True)
    K = classes.size
    n = codes.size
    binary = K == 2
    counts = np.bincount(codes, minlength=K)
    s = (n / (K * counts))[codes]  # (n,) balanced class weights
    Z1 = np.hstack([np.asarray(Z_train, dtype=np.float64), np.ones((n, 1))])  # (n, q+1)
    Y = codes.astype(np.float64) if binary else np.eye(K)[codes]  # (n,) 0/1 or (n, K) one-hot
    theta, converged = _newton_binomial(Z1, Y, s, C) if binary else _newton_multinomial(Z1, Y, s, C)
    Zt1 = np.hstack([np.asarray(Z_test, dtype=np.float64), np.ones((Z_test.shape[0], 1))])  # (m, q+1)
    P = _probabilities(Zt1 @ theta, binary)
    proba = np.stack([1.0 - P, P], axis=1) if binary else P  # (m, K)
    return proba, converged
