"""CKA matrices of many draws of windows, batched over layers, from N x N kernels computed once per model.

Conditioned CKA, its permutation baseline and the dissimilarity ratio's null all ask the same question
thousands of times: the (layers_a, layers_b) debiased CKA matrix of two models on a draw of n of the same
N windows. :class:`LayerKernels` holds one model's uncentred linear kernels ``G_l = X_l X_l^T`` of every
layer l, stacked as (N, N, L) float64, so a model shared by several comparisons (the supervised model of
a seed against every SSL setup) has its kernels computed once; :class:`PairKernels` puts two models'
kernels side by side (N, N, La + Lb), once per comparison; :func:`kernel_cka_batch` answers one draw
with a handful of array operations over all layers of both models at once:

    A = G[idx][:, idx]                         (n, n, L)  gather, L values per window pair
    r = row means of A (n, L), m = grand means (L,), d = diag(A) - 2 r + m  (the centred diagonals)
    tr(K_i K_j) = sum(A_i * A_j) - 2 n r_i . r_j + n^2 m_i m_j    one (L, L') matrix product

(K = H A H, the centred kernel, is never formed)

and the HSIC and CKA formulas of :mod:`fairssl.similarity.cka` applied elementwise. The result equals
:func:`~fairssl.similarity.cka.kernel_cka_matrix` (one layer pair at a time, the reference) and
:func:`~fairssl.similarity.cka.cka_matrix` on the drawn rows up to float64 rounding: summation order, and
the uncentred sums carry rounding relative to the mean's share of the kernel (about 1e-12 on rectified
activations; tests hold it to 1e-10). Cost per draw O((La + Lb)^2 n^2) in one matrix product; memory
(N, N, L) per model and (N, N, La + Lb) per comparison (twice the two models' kernels while it runs).
``benchmarks/analysis.py`` times the stage against the per-pair path; ``benchmarks/similarity_speed.py``
against the earlier gather (two ``take`` calls through an (n, N, L) intermediate) and per-call pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fairssl.errors import DataError

__all__ = ["LayerKernels", "PairKernels", "kernel_cka_batch"]


@dataclass(frozen=True)
class LayerKernels:
    """One model's uncentred linear kernels over N windows: ``layers`` (L names) and ``G`` (N, N, L)."""

    layers: tuple[str, ...]
    G: np.ndarray  # (N, N, L) float64, G[:, :, l] = X_l X_l^T (layer last: a draw gathers L values at once)

    @classmethod
    def of(cls, arrays: Mapping[str, np.ndarray]) -> LayerKernels:
        """From activations ``{layer: (N, ...)}`` (trailing dimensions flattened), in the mapping's order."""
        mats = []
        for values in arrays.values():
            X = np.asarray(values)
            X = X.reshape(X.shape[0], -1).astype(np.float64, copy=False)  # (N, p)
            mats.append(X @ X.T)  # (N, N)
        return cls(layers=tuple(str(k) for k in arrays), G=np.stack(mats, axis=-1))  # (N, N, L)

    @property
    def n_rows(self) -> int:
        return int(self.G.shape[0])

    def check(self, arrays: Mapping[str, np.ndarray], name: str) -> None:
        """:class:`DataError` unless these kernels belong to ``arrays`` (same layers in order, same N)."""
        n_rows = len(next(iter(arrays.values())))
        if self.layers != tuple(str(k) for k in arrays) or self.n_rows != n_rows:
            raise DataError(
                f"the precomputed kernels of {name} hold layers {list(self.layers)} over {self.n_rows} "
                f"windows, but {name} has layers {[str(k) for k in arrays]} over {n_rows}; pass "
                f"LayerKernels.of({name}) of the same activations"
            )


@dataclass(frozen=True)
class PairKernels:
    """The kernels of two models side by side, ``G`` (N, N, La + Lb), so each draw gathers once.

    Built once per comparison (:meth:`of` copies both models' kernels, 8 N^2 (La + Lb) bytes) and
    passed as ``kernels`` to every call that draws from the same two models (the overall CKA,
    conditioned CKA and the ratio null), so the copy is not repeated per call."""

    n_a: int  # La, the first model's layers come first
    G: np.ndarray  # (N, N, La + Lb) float64
    layers_a: tuple[str, ...]  # the two models' layer names (checked against the activations)
    layers_b: tuple[str, ...]

    @classmethod
    def of(cls, a: LayerKernels, b: LayerKernels, *, out: np.ndarray | None = None) -> PairKernels:
        """``a``'s kernels then ``b``'s, copied into ``out`` when it is a C-contiguous float64 array of
        shape (N, N, La + Lb) (a buffer reused across comparisons: a fresh array this large is mapped
        from the system each time, whose page faults cost more than the copy), else a new array."""
        if a.n_rows != b.n_rows:
            raise DataError(
                f"the two models' kernels cover {a.n_rows} and {b.n_rows} windows; compute both on the same "
                "windows"
            )
        la = len(a.layers)
        shape = (a.n_rows, a.n_rows, la + len(b.layers))
        fits = out is not None and out.shape == shape and out.dtype == np.float64 and out.flags.c_contiguous
        G = out if fits and out is not None else np.empty(shape)  # (N, N, La + Lb)
        G[:, :, :la] = a.G
        G[:, :, la:] = b.G
        return cls(n_a=la, G=G, layers_a=a.layers, layers_b=b.layers)

    def check(self, arrays_a: Mapping[str, np.ndarray], arrays_b: Mapping[str, np.ndarray]) -> None:
        """:class:`DataError` unless these kernels belong to ``arrays_a`` and ``arrays_b``."""
        n_rows = int(self.G.shape[0])
        for name, layers, arrays in (
            ("acts_a", self.layers_a, arrays_a),
            ("acts_b", self.layers_b, arrays_b),
        ):
            got = tuple(str(k) for k in arrays)
            rows = len(next(iter(arrays.values())))
            if layers != got or rows != n_rows:
                raise DataError(
                    f"the precomputed kernels of {name} hold layers {list(layers)} over {n_rows} windows, "
                    f"but {name} has layers {list(got)} over {rows}; pass PairKernels.of(LayerKernels.of("
                    "acts_a), LayerKernels.of(acts_b)) of the same activations"
                )


def _gather(G: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``G[idx][:, idx]`` (n, n, L) of ``G`` (N, N, L) in one gather: the L-value chunks of the n^2 window
    pairs taken by flat position ``i N + j`` from the (N^2, L) view. The same values as two successive
    ``take`` calls, without the (n, N, L) intermediate those copy (most of a draw's time). All N windows
    in order (the overall CKA) return ``G`` itself."""
    n_rows, n = G.shape[0], idx.size
    if n == n_rows and np.array_equal(idx, np.arange(n_rows)):
        return G  # every window in order: the kernels themselves, no copy
    pos = idx.astype(np.intp, copy=False)
    flat = (pos[:, None] * n_rows + pos[None, :]).reshape(-1)  # (n^2,) row-major positions
    return G.reshape(n_rows * n_rows, -1).take(flat, axis=0).reshape(n, n, -1)


def _centred_products(G: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tr(K_i K_j) (L, L) and the centred diagonals d (n, L) of the centred kernels K = H A H of the
    draw, A = G[idx][:, idx], without forming K: with r the row means and m the grand mean of A and K
    doubly centred, tr(K_i K_j) = sum(A_i * A_j) - 2 n r_i . r_j + n^2 m_i m_j and d = diag(A) - 2 r + m.

    One product over all layers of both models, so a layer paired with an identical layer gets
    bit-identical cross and self terms (CKA exactly 1, as the per-pair reference gives)."""
    n = idx.size
    sub = _gather(G, idx)  # (n, n, L): L-value chunks gathered together
    row = sub.mean(axis=0)  # (n, L) column means (= row means, G symmetric; the fast axis)
    grand = row.mean(axis=0)  # (L,)
    d = sub[np.arange(n), np.arange(n)] - 2.0 * row + grand  # (n, L)
    flat = sub.reshape(n * n, -1)  # (n^2, L)
    return flat.T @ flat - 2.0 * n * (row.T @ row) + n * n * np.outer(grand, grand), d


def _hsic(
    cross: np.ndarray, sum_de: np.ndarray, sum_d: np.ndarray, sum_e: np.ndarray, n: int, *, debiased: bool
) -> np.ndarray:
    """Elementwise HSIC from centred-kernel statistics (the formula of ``cka._hsic``): cross = tr(K L),
    sum_de = sum_i d_i e_i, sum_d = tr K, sum_e = tr L; arrays broadcast together."""
    if not debiased:
        return cross / (n - 1) ** 2
    return (cross - sum_de + sum_d * sum_e / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * sum_de) / (n * (n - 3))


def kernel_cka_batch(pair: PairKernels, index: np.ndarray, *, debiased: bool) -> np.ndarray:
    """The (La, Lb) CKA matrix of the windows ``index`` (n,) between every layer of the first and of the
    second model of ``pair`` (:meth:`PairKernels.of`).

    Equal to :func:`~fairssl.similarity.cka.kernel_cka_matrix` up to rounding; NaN where a layer's
    self-HSIC is not positive (a constant layer). Needs n >= 4 (debiased) or n >= 2 (biased).
    """
    idx = np.asarray(index)
    n = idx.size
    if n < (4 if debiased else 2):
        kind = "debiased" if debiased else "biased"
        need = 4 if debiased else 2
        raise DataError(f"{kind} CKA needs at least {need} examples, got {n}; pass more examples")
    la = pair.n_a
    frob, d = _centred_products(pair.G, idx)  # (La + Lb, La + Lb), (n, La + Lb)
    tr = d.sum(axis=0)  # (La + Lb,) traces of the centred kernels
    hsic = _hsic(frob, d.T @ d, tr[:, None], tr[None, :], n, debiased=debiased)  # (La + Lb, La + Lb)
    self_a, self_b = np.diagonal(hsic)[:la], np.diagonal(hsic)[la:]  # (La,), (Lb,)
    cross = hsic[:la, la:]  # (La, Lb)
    denom = self_a[:, None] * self_b[None, :]  # (La, Lb)
    ok = np.isfinite(denom) & (denom > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, cross / np.sqrt(np.where(ok, denom, 1.0)), np.nan)
