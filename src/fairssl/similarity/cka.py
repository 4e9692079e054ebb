"""Linear centred kernel alignment (CKA) between two sets of activations of the same n examples.

Given activations X (n, p) and Y (n, q) of two layers on the same n examples, with centred features
Xc = X - mean(X) and Yc = Y - mean(Y) and linear kernels K = Xc Xc^T, L = Yc Yc^T (n x n):

- **biased** (Kornblith et al. 2019)::

      HSIC_b(K, L) = tr(K L) / (n - 1)^2 = ||Xc^T Yc||_F^2 / (n - 1)^2
      CKA(X, Y)    = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))
                   = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)

- **debiased** (the unbiased HSIC estimator of Song et al. 2012, used as "debiased CKA" by Nguyen et
  al. 2021): with K~ and L~ equal to K and L with their diagonals set to zero, and n >= 4::

      HSIC_u(K, L) = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3))

  and CKA as above with HSIC_u in place of HSIC_b. The biased estimator is inflated at small n relative
  to the feature count (two independent random layers with p >> n get CKA near 1); the debiased one is
  centred on the population value.

CKA lies in [0, 1] (the debiased estimate can be slightly negative when the true value is near 0);
1 means the two representations are identical up to an orthogonal transform and an isotropic scaling
(and a translation), 0 means no linear relation. Higher is more similar. CKA is invariant to orthogonal
transforms and isotropic scaling of either input, but not to general invertible linear maps.

The module works in **feature space**: with centred features, using d_i = ||xc_i||^2 and e_i = ||yc_i||^2
(K's and L's diagonals) and 1^T Xc = 0,

    tr(K~ L~)   = ||Xc^T Yc||_F^2 - sum_i d_i e_i
    1^T K~ 1    = -sum_i d_i
    1^T K~ L~ 1 = sum_i d_i e_i

so each estimate costs O(n (p + q)^2) time (X^T Y, X^T X, Y^T Y) and O(n (p + q) + (p + q)^2) memory;
no n x n matrix is formed. When a layer has more features than examples (p > n: conditioned CKA on small
groups of wide conv layers), the same ||Xc^T Yc||_F^2 = sum(K * L) and ||Xc^T Xc||_F^2 = sum(K * K) are
taken from the n x n kernels instead, computed once per layer (O(n^2 p)), so each further pairing costs
O(n^2) rather than O(n p q).
:func:`cka_gram` is the direct example-space (n x n) formula, kept as the independent reference.
:class:`StreamingCKA` accumulates the same sufficient statistics over minibatches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import DataError

__all__ = ["StreamingCKA", "cka_gram", "cka_matrix", "kernel_cka_matrix", "linear_cka", "linear_kernels"]


# ---------------------------------------------------------------------------------------------- validation
def _as_2d(a: Any, name: str) -> np.ndarray:
    """Activations as an (n, features) float array (float32/64 kept, others float64); (n, ...) flattened."""
    arr = np.asarray(a)
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.size == 0:
        raise DataError(
            f"{name} must be an array of shape (n_examples, n_features) with at least one example and "
            f"feature; got shape {arr.shape}; pass one row of activations per example"
        )
    if not any(np.issubdtype(arr.dtype, t) for t in (np.floating, np.integer, np.bool_)):
        raise DataError(f"{name} must be real numbers, got dtype {arr.dtype}; pass float activations")
    arr = arr.reshape(arr.shape[0], -1)  # (n, ...) -> (n, features)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise DataError(f"{name} contains NaN or infinite values; remove or impute them before computing CKA")
    return arr


def _check_pair(X: np.ndarray, Y: np.ndarray, names: tuple[str, str], *, debiased: bool) -> None:
    if X.shape[0] != Y.shape[0]:
        raise DataError(
            f"{names[0]} has {X.shape[0]} examples but {names[1]} has {Y.shape[0]}; CKA compares "
            "activations of the same examples, so pass arrays with the same number of rows"
        )
    _check_n(X.shape[0], debiased=debiased)


def _check_n(n: int, *, debiased: bool) -> None:
    need = 4 if debiased else 2
    if n < need:
        kind = "debiased" if debiased else "biased"
        raise DataError(f"{kind} CKA needs at least {need} examples, got {n}; pass more examples")


# ---------------------------------------------------------------------------------------------- estimators
def _hsic(cross_frob: float, sum_de: float, sum_d: float, sum_e: float, n: int, *, debiased: bool) -> float:
    """HSIC from feature-space statistics of centred features (see module docstring).

    cross_frob = ||Xc^T Yc||_F^2 = tr(K L), sum_de = sum_i d_i e_i, sum_d = tr K, sum_e = tr L.
    """
    if not debiased:
        return cross_frob / (n - 1) ** 2
    tr_tilde = cross_frob - sum_de  # tr(K~ L~)
    ones_k_ones = -sum_d  # 1^T K~ 1
    ones_l_ones = -sum_e  # 1^T L~ 1
    ones_kl_ones = sum_de  # 1^T K~ L~ 1
    return (tr_tilde + ones_k_ones * ones_l_ones / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * ones_kl_ones) / (
        n * (n - 3)
    )


def _normalise(hsic_xy: float, hsic_xx: float, hsic_yy: float) -> float:
    """CKA = HSIC_xy / sqrt(HSIC_xx HSIC_yy); NaN when either self-similarity is not positive."""
    denom = hsic_xx * hsic_yy
    if not np.isfinite(denom) or denom <= 0.0:
        return float("nan")
    return float(hsic_xy / np.sqrt(denom))


@dataclass(frozen=True)
class _Centred:
    """One layer's centred features and the statistics every pairing with it reuses."""

    Z: np.ndarray | None  # (n, p) float64, column means removed (None when built from a kernel)
    d: np.ndarray  # (n,) squared row norms ||z_i||^2 = diag(K)
    self_frob: float  # ||Z^T Z||_F^2 = tr(K K)
    K: np.ndarray | None = None  # (n, n) kernel Z Z^T, kept only when p > n (cheaper pairings)

    @classmethod
    def of_kernel(cls, G: np.ndarray) -> _Centred:
        """From the uncentred linear kernel G = X X^T (n, n) of the examples: the centred kernel is
        H G H = G - row means - column means + grand mean (the kernel of the column-centred features)."""
        row = G.mean(axis=1)
        K = G - row[:, None] - row[None, :] + row.mean()  # (n, n), symmetric
        return cls(Z=None, d=np.diagonal(K).copy(), self_frob=float(np.sum(K * K)), K=K)

    @classmethod
    def of(cls, X: np.ndarray) -> _Centred:
        Z = np.array(X, dtype=np.float64)  # (n, p), a float64 copy centred in place
        Z -= Z.mean(axis=0, keepdims=True)
        d = np.einsum("ij,ij->i", Z, Z)  # (n,)
        if Z.shape[1] > Z.shape[0]:  # wide: the n x n kernel is the smaller Gram matrix
            K = Z @ Z.T  # (n, n)
            return cls(Z=Z, d=d, self_frob=float(np.sum(K * K)), K=K)
        gram = Z.T @ Z  # (p, p)
        return cls(Z=Z, d=d, self_frob=float(np.sum(gram * gram)))

    def self_hsic(self, *, debiased: bool) -> float:
        n = self.d.shape[0]
        return _hsic(
            self.self_frob,
            float(self.d @ self.d),
            float(self.d.sum()),
            float(self.d.sum()),
            n,
            debiased=debiased,
        )


def _cross_frob(a: _Centred, b: _Centred) -> float:
    """||Za^T Zb||_F^2 = tr(Ka Kb): from the kernels when both layers are wide, else from Za^T Zb."""
    if a.K is not None and b.K is not None:
        return float(np.sum(a.K * b.K))  # both (n, n), symmetric
    if a.Z is None or b.Z is None:  # kernel-only layers pair with kernel-only layers
        raise ValueError("a layer built from its kernel pairs only with kernel layers")
    cross = a.Z.T @ b.Z  # (p, q)
    return float(np.sum(cross * cross))


def _pair_cka(a: _Centred, b: _Centred, hsic_aa: float, hsic_bb: float, *, debiased: bool) -> float:
    hsic_ab = _hsic(
        _cross_frob(a, b),
        float(a.d @ b.d),
        float(a.d.sum()),
        float(b.d.sum()),
        a.d.shape[0],
        debiased=debiased,
    )
    return _normalise(hsic_ab, hsic_aa, hsic_bb)


def linear_cka(X: Any, Y: Any, *, debiased: bool = False) -> float:
    """Linear CKA between activations ``X`` (n, p) and ``Y`` (n, q) of the same n examples.

    Computed in feature space (O(n (p + q)^2) time, O(n (p + q) + (p + q)^2) memory, no n x n matrix),
    in float64.
    Inputs of shape (n, ...) are flattened per example. Formula: see the module docstring; ``debiased``
    uses the unbiased HSIC estimator (needs n >= 4), recommended whenever n is not much larger than p, q.

    Returns a float in [0, 1] (debiased: can be slightly negative); 1 = identical up to rotation,
    isotropic scale and translation; higher is more similar. NaN when X or Y has no variance.
    """
    Xa, Ya = _as_2d(X, "X"), _as_2d(Y, "Y")
    _check_pair(Xa, Ya, ("X", "Y"), debiased=debiased)
    a, b = _Centred.of(Xa), _Centred.of(Ya)
    return _pair_cka(a, b, a.self_hsic(debiased=debiased), b.self_hsic(debiased=debiased), debiased=debiased)


def cka_gram(X: Any, Y: Any, *, debiased: bool = False) -> float:
    """Linear CKA by the example-space formula on n x n Gram matrices (the reference implementation).

    K = X X^T and L = Y Y^T of the raw (uncentred) features, (n, n) each. Biased: HSIC = tr(H K H L)/(n-1)^2
    with H = I - 11^T/n. Debiased: Song et al.'s unbiased HSIC on K~, L~ (diagonals zeroed), see the
    module docstring. O(n^2 (p + q)) time and O(n^2) memory: use :func:`linear_cka` for real data; this
    exists as an independent check and a benchmark baseline. Same range and meaning as :func:`linear_cka`.
    """
    Xa, Ya = _as_2d(X, "X"), _as_2d(Y, "Y")
    _check_pair(Xa, Ya, ("X", "Y"), debiased=debiased)
    Xa, Ya = Xa.astype(np.float64, copy=False), Ya.astype(np.float64, copy=False)
    K = Xa @ Xa.T  # (n, n)
    L = Ya @ Ya.T  # (n, n)
    hsic = _hsic_unbiased_gram if debiased else _hsic_biased_gram
    return _normalise(hsic(K, L), hsic(K, K), hsic(L, L))


def _hsic_biased_gram(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]

    def centre(G: np.ndarray) -> np.ndarray:  # H G H without forming H
        return G - G.mean(axis=0, keepdims=True) - G.mean(axis=1, keepdims=True) + G.mean()

    return float(np.sum(centre(K) * centre(L)) / (n - 1) ** 2)


def _hsic_unbiased_gram(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]
    Kt = K.copy()
    Lt = L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    ones = np.ones(n)
    term1 = float(np.sum(Kt * Lt.T))  # tr(K~ L~)
    term2 = float(ones @ Kt @ ones) * float(ones @ Lt @ ones) / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * float(ones @ Kt @ Lt @ ones)
    return (term1 + term2 - term3) / (n * (n - 3))


# ---------------------------------------------------------------------------------------------- matrix
def cka_matrix(
    acts_a: Mapping[str, Any], acts_b: Mapping[str, Any], *, debiased: bool = True
) -> pd.DataFrame:
    """Layer-by-layer CKA between the activations of two models on the same n examples.

    ``acts_a`` maps each layer name of model a to its activations (n, p_layer) (or (n, ...), flattened),
    likewise ``acts_b``; every array has the same n. Returns a DataFrame of shape
    (len(acts_a), len(acts_b)): rows = model a's layers (index name ``layer_a``), columns = model b's
    layers (``layer_b``), values = :func:`linear_cka` (debiased by default). Each layer is centred and its
    self-HSIC computed once and reused for every pairing.
    """
    for name, acts in (("acts_a", acts_a), ("acts_b", acts_b)):
        if not isinstance(acts, Mapping) or len(acts) == 0:
            raise DataError(
                f"{name} must be a non-empty mapping of layer name -> activations, got "
                f"{type(acts).__name__} of length {len(acts) if hasattr(acts, '__len__') else '?'}; "
                "pass e.g. the dict returned by capture_activations"
            )
    arrays_a = {str(k): _as_2d(v, f"acts_a[{k!r}]") for k, v in acts_a.items()}
    arrays_b = {str(k): _as_2d(v, f"acts_b[{k!r}]") for k, v in acts_b.items()}
    sizes = {f"acts_a[{k!r}]": v.shape[0] for k, v in arrays_a.items()}
    sizes.update({f"acts_b[{k!r}]": v.shape[0] for k, v in arrays_b.items()})
    if len(set(sizes.values())) != 1:
        raise DataError(
            f"all layers must hold activations of the same examples, got row counts {sizes}; "
            "capture every layer of both models on the same input windows"
        )
    _check_n(next(iter(sizes.values())), debiased=debiased)
    cent_a = {k: _Centred.of(v) for k, v in arrays_a.items()}
    cent_b = {k: _Centred.of(v) for k, v in arrays_b.items()}
    return _matrix(cent_a, cent_b, debiased=debiased)


def kernel_cka_matrix(
    grams_a: Mapping[str, np.ndarray], grams_b: Mapping[str, np.ndarray], index: np.ndarray, *, debiased: bool
) -> pd.DataFrame:
    """:func:`cka_matrix` of the examples ``index`` (n,) from each layer's precomputed uncentred linear
    kernel over all N examples, ``G = X X^T`` (N, N), float64 (see :func:`linear_kernels`).

    Equal to ``cka_matrix({k: X[index]}, ...)`` (same estimator, same float64 sums up to rounding) at
    O(n^2) per layer pair instead of O(n p q): many draws of a few hundred examples from the same N
    (conditioned CKA) cost almost nothing once the kernels exist.
    """
    idx = np.asarray(index)
    _check_n(idx.size, debiased=debiased)
    cent_a = {k: _Centred.of_kernel(G[np.ix_(idx, idx)]) for k, G in grams_a.items()}
    cent_b = {k: _Centred.of_kernel(G[np.ix_(idx, idx)]) for k, G in grams_b.items()}
    return _matrix(cent_a, cent_b, debiased=debiased)


def linear_kernels(acts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each layer's uncentred linear kernel ``X X^T`` (N, N) in float64, for :func:`kernel_cka_matrix`."""
    out = {}
    for k, v in acts.items():
        X = _as_2d(v, f"acts[{k!r}]").astype(np.float64, copy=False)
        out[str(k)] = X @ X.T
    return out


def _matrix(cent_a: dict[str, _Centred], cent_b: dict[str, _Centred], *, debiased: bool) -> pd.DataFrame:
    """The (layers_a, layers_b) CKA DataFrame of centred layers (see :func:`cka_matrix`)."""
    self_a = {k: c.self_hsic(debiased=debiased) for k, c in cent_a.items()}
    self_b = {k: c.self_hsic(debiased=debiased) for k, c in cent_b.items()}
    values = np.array(
        [
            [_pair_cka(cent_a[ka], cent_b[kb], self_a[ka], self_b[kb], debiased=debiased) for kb in cent_b]
            for ka in cent_a
        ]
    )  # (layers_a, layers_b)
    return pd.DataFrame(
        values,
        index=pd.Index(list(cent_a), name="layer_a"),
        columns=pd.Index(list(cent_b), name="layer_b"),
    )


# ---------------------------------------------------------------------------------------------- streaming
class _Moments:
    """Running sums of one variable's rows r_i = x_i - shift: sum r, sum a, sum a^2, sum a r (a = ||r||^2)."""

    def __init__(self, shift: np.ndarray) -> None:
        p = shift.shape[0]
        self.shift = shift  # (p,)
        self.sum = np.zeros(p)  # sum_i r_i
        self.sum_a = 0.0  # sum_i a_i
        self.sum_a2 = 0.0  # sum_i a_i^2
        self.sum_a_r = np.zeros(p)  # sum_i a_i r_i
        self.gram = np.zeros((p, p))  # sum_i r_i r_i^T

    def add(self, R: np.ndarray) -> np.ndarray:
        """Add rows R (b, p) (already shifted); returns their squared norms a (b,)."""
        a = np.einsum("ij,ij->i", R, R)  # (b,)
        self.sum += R.sum(axis=0)
        self.sum_a += float(a.sum())
        self.sum_a2 += float(a @ a)
        self.sum_a_r += a @ R  # (p,)
        self.gram += R.T @ R  # (p, p)
        return a


def _sum_centred_norm_products(
    mx: _Moments,
    my: _Moments,
    cross: np.ndarray,
    sum_ab: float,
    sum_a_y: np.ndarray,
    sum_b_x: np.ndarray,
    n: int,
) -> float:
    """sum_i ||x_i - m_x||^2 ||y_i - m_y||^2 from raw (shifted) running sums.

    With c_i = a_i + u.x_i + k for u = -2 m_x, k = ||m_x||^2 (likewise for y with w, l), expand the product
    and sum term by term: cross = sum x_i y_i^T (p, q), sum_a_y = sum a_i y_i (q,),
    sum_b_x = sum b_i x_i (p,).
    """
    m_x, m_y = mx.sum / n, my.sum / n
    u, k = -2.0 * m_x, float(m_x @ m_x)
    w, ell = -2.0 * m_y, float(m_y @ m_y)
    return float(
        sum_ab
        + w @ sum_a_y
        + ell * mx.sum_a
        + u @ sum_b_x
        + u @ cross @ w
        + ell * (u @ mx.sum)
        + k * my.sum_a
        + k * (w @ my.sum)
        + n * k * ell
    )


class StreamingCKA:
    """Linear CKA accumulated over minibatches, for activations that do not fit in memory at once.

    Call :meth:`update` with each batch of paired activations (X_batch (b, p), Y_batch (b, q), the same
    b examples), then :meth:`result`; the result equals :func:`linear_cka` on the concatenated batches (to
    float64 rounding). State: O(p^2 + q^2 + p q) sufficient statistics (sums, X^T X, Y^T Y, X^T Y and the
    row-norm sums the debiased estimator needs), independent of n. Rows are shifted by the first
    batch's column means before accumulation (CKA is translation invariant) to limit cancellation.
    """

    def __init__(self) -> None:
        self.n = 0
        self._mx: _Moments | None = None
        self._my: _Moments | None = None
        self._cross = np.zeros((0, 0))  # sum_i x_i y_i^T (p, q)
        self._sum_ab = 0.0  # sum_i a_i b_i
        self._sum_a_y = np.zeros(0)  # sum_i a_i y_i (q,)
        self._sum_b_x = np.zeros(0)  # sum_i b_i x_i (p,)

    def update(self, X_batch: Any, Y_batch: Any) -> StreamingCKA:
        """Add one batch of paired activations; returns self."""
        X = _as_2d(X_batch, "X_batch").astype(np.float64, copy=False)
        Y = _as_2d(Y_batch, "Y_batch").astype(np.float64, copy=False)
        if X.shape[0] != Y.shape[0]:
            raise DataError(
                f"X_batch has {X.shape[0]} rows but Y_batch has {Y.shape[0]}; pass the activations of the "
                "same examples for both layers"
            )
        if self._mx is None or self._my is None:
            self._mx = _Moments(X.mean(axis=0))
            self._my = _Moments(Y.mean(axis=0))
            self._cross = np.zeros((X.shape[1], Y.shape[1]))
            self._sum_a_y = np.zeros(Y.shape[1])
            self._sum_b_x = np.zeros(X.shape[1])
        expected = (self._mx.shift.shape[0], self._my.shift.shape[0])
        if (X.shape[1], Y.shape[1]) != expected:
            raise DataError(
                f"batch has ({X.shape[1]}, {Y.shape[1]}) features but earlier batches had {expected}; "
                "pass the same layers in every batch"
            )
        Rx = X - self._mx.shift  # (b, p)
        Ry = Y - self._my.shift  # (b, q)
        a = self._mx.add(Rx)
        b = self._my.add(Ry)
        self._cross += Rx.T @ Ry  # (p, q)
        self._sum_ab += float(a @ b)
        self._sum_a_y += a @ Ry  # (q,)
        self._sum_b_x += b @ Rx  # (p,)
        self.n += X.shape[0]
        return self

    def result(self, *, debiased: bool = False) -> float:
        """CKA of all examples seen so far (same range and meaning as :func:`linear_cka`)."""
        _check_n(self.n, debiased=debiased)
        mx, my, n = self._mx, self._my, self.n
        if mx is None or my is None:  # unreachable: n >= 2 means update() has run
            raise RuntimeError("StreamingCKA has examples but no statistics")
        m_x, m_y = mx.sum / n, my.sum / n
        # centred cross-products: Xc^T Yc = sum r s^T - n m_x m_y^T (p, q); likewise X^T X, Y^T Y
        cxy = self._cross - n * np.outer(m_x, m_y)
        cxx = mx.gram - n * np.outer(m_x, m_x)
        cyy = my.gram - n * np.outer(m_y, m_y)
        # sums of centred squared row norms d_i, e_i and their products
        sum_d = mx.sum_a - n * float(m_x @ m_x)
        sum_e = my.sum_a - n * float(m_y @ m_y)
        sum_de = _sum_centred_norm_products(
            mx, my, self._cross, self._sum_ab, self._sum_a_y, self._sum_b_x, n
        )
        sum_dd = _sum_centred_norm_products(mx, mx, mx.gram, mx.sum_a2, mx.sum_a_r, mx.sum_a_r, n)
        sum_ee = _sum_centred_norm_products(my, my, my.gram, my.sum_a2, my.sum_a_r, my.sum_a_r, n)
        hsic_xy = _hsic(float(np.sum(cxy * cxy)), sum_de, sum_d, sum_e, n, debiased=debiased)
        hsic_xx = _hsic(float(np.sum(cxx * cxx)), sum_dd, sum_d, sum_d, n, debiased=debiased)
        hsic_yy = _hsic(float(np.sum(cyy * cyy)), sum_ee, sum_e, sum_e, n, debiased=debiased)
        return _normalise(hsic_xy, hsic_xx, hsic_yy)
