"""Class probabilities of a fixed set of windows, scored again and again while a classifier trains.

:func:`predict_proba` is the plain pass: eval mode (dropout off, normalisation on running statistics), no
gradients, windows in batches of 1024 in order, a softmax per batch, (N, K) probabilities.

:class:`PrefixCachedScorer` returns exactly what ``predict_proba(net, X, device=device)`` returns, bit for
bit, for the same windows ``X`` scored after every epoch (the validation split, a recorded split). When a
setup freezes a *leading prefix* of the encoder's blocks (``1-first``: conv1; ``2-first-middle``: conv1,
conv2; ``2-first-last``: conv1 only, conv2 trains; ``3``: every block), the eval-mode output of that prefix
on ``X`` is the same every epoch: its weights do not move, dropout is off in eval mode and its
normalisation layers read running statistics that :func:`fairssl.finetune.freezing.set_train_mode` keeps
still. The scorer computes that output once and each later epoch runs only the remaining blocks, the
global max pool and the head. When every block is frozen it keeps the pooled (N, D) features instead.

Exactness. The cached pass applies the same operations to the same tensors as the plain pass: the same
batches of 1024 windows in order, each batch's prefix output kept as the very tensor the prefix returned
(same layout and strides; the blocks after it see what they would have seen), a softmax per batch. The
prefix output is reused only while it provably is what the prefix would compute again: the prefix is
recomputed whenever

- the leading frozen prefix changes: the longest run of leading blocks of ``net.encoder.layer_names``
  whose parameters all have ``requires_grad = False`` (:func:`fairssl.finetune.freezing.is_frozen`; a block
  without parameters ends the prefix), so gradual unfreezing (``finetune.unfreeze_every``) shortens it;
- any parameter or buffer of the prefix differs from the snapshot taken when it was computed (compared
  with ``torch.equal`` each call: a few small tensors), or another model is scored;
- a later block (or the head) wrote into its input in place (the kept tensors' version counters moved):
  that call's result is still the plain pass's, the kept output is not, so it is dropped.

The cache is used only where the composition is known: ``type(net).forward is Classifier.forward``
(head of the encoder) and ``type(net.encoder).forward is BlockEncoder.forward`` (blocks in order, then
:func:`fairssl.ssl.encoders.base.global_max_pool`), with no forward hook on any module of ``net`` (the
cached pass does not call the prefix, the encoder or the classifier as modules, so their hooks would not
run). Otherwise, e.g. a factory encoder with its own ``forward``, or no frozen leading block (``supervised``,
``0``, ``1-middle``), every call is the plain pass; :attr:`PrefixCachedScorer.plain_reason` says why.

Memory: the cache holds N x C_k x T_k floats (the k-th block's activation per window; N x D after the
last block), on ``device``: for the quick profile's 1,200 validation windows and a 32 x 24 conv1 output,
3.7 MB, about 6x the windows' own bytes (a prefix output is often larger than its input, since a block
widens the channels), plus a copy of the prefix's parameters and buffers. The cap is absolute, not
relative to ``X``, for that reason: a cap of a few times ``X``'s bytes would refuse the quick profile's
cache. Above :data:`MAX_CACHE_BYTES` the scorer keeps the plain pass for that prefix (estimated from the
first batch, so no more than one batch of it is ever computed for nothing). The per-batch tensors are kept
as they are, not copied into one (N, C_k, T_k) tensor: the same bytes, and no copy can change a layout.

Bit-identical means identical to what the plain pass would return now, which assumes the plain pass is
itself deterministic for fixed weights and inputs: true of the CPU kernels, and on CUDA under
``torch.use_deterministic_algorithms`` (which every grid worker sets,
:func:`fairssl.experiments.executor_tasks.pin_torch`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn

from fairssl.finetune.freezing import is_frozen
from fairssl.ssl.encoders.base import BlockEncoder, global_max_pool
from fairssl.ssl.heads import Classifier
from fairssl.ssl.pretrain import batch_tensor

BATCH_SIZE = 1024
"""Windows per forward pass of :func:`predict_proba` (and of the cached pass, which must match it)."""

MAX_CACHE_BYTES = 512 * 2**20
"""Largest cached prefix output (bytes, on the scoring device): 512 MiB. Read at every call; 0 disables
the cache (every call is the plain pass: how the tests and ``benchmarks/run_overhead.py`` compare)."""


def predict_proba(
    model: nn.Module, X: np.ndarray, *, batch_size: int = BATCH_SIZE, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Class probabilities (N, K) of windows ``X`` (N, C, T) in eval mode (dropout off), no gradients."""
    device = torch.device(device)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, X.shape[0], batch_size):
            idx = np.arange(i, min(i + batch_size, X.shape[0]))
            out.append(torch.softmax(model(batch_tensor(X, idx, device)), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


def frozen_prefix(encoder: BlockEncoder) -> int:
    """k: how many leading blocks of ``encoder`` (``layer_names`` order) are frozen (0 to n)."""
    k = 0
    for block in encoder.blocks():
        if not is_frozen(block):
            break
        k += 1
    return k


def _has_hooks(net: nn.Module) -> bool:
    """Whether any forward (pre-)hook, global or on a module of ``net``, would run in a plain pass."""
    hooks = nn.modules.module
    if hooks._global_forward_hooks or hooks._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


def _snapshot(blocks: list[nn.Module]) -> list[torch.Tensor]:
    return [t.detach().clone() for b in blocks for t in (*b.parameters(), *b.buffers())]


def _unchanged(blocks: list[nn.Module], snapshot: list[torch.Tensor]) -> bool:
    now = [t for b in blocks for t in (*b.parameters(), *b.buffers())]
    return len(now) == len(snapshot) and all(
        a.dtype == b.dtype and a.shape == b.shape and a.device == b.device and torch.equal(a, b)
        for a, b in zip(now, snapshot, strict=True)
    )


class PrefixCachedScorer:
    """``scorer(net)`` = ``predict_proba(net, X, device=device)`` bit for bit, reusing the frozen prefix.

    ``X`` (N, C, T): the windows, fixed for the scorer's life (a memmap is read once per prefix).
    See the module docstring for when the cache is used, when it is recomputed and what it costs.
    """

    def __init__(self, X: np.ndarray, *, device: torch.device | str = "cpu") -> None:
        self.X = X
        self.device = torch.device(device)
        self.plain_reason: str | None = None
        """Why the last call was the plain pass (None when it used, or built, the cache)."""
        self._net: nn.Module | None = None
        self._blocks: list[nn.Module] = []  # the cached prefix's blocks
        self._snapshot: list[torch.Tensor] = []  # their parameters and buffers when computed
        self._features: list[torch.Tensor] = []  # per batch: prefix output (B, C_k, T_k), or (B, D)
        self._versions: list[int] = []  # their version counters (an in-place write moves them)
        self._too_large: tuple[nn.Module | None, int, int] = (None, 0, 0)  # (net, k, cap) refused

    def __call__(self, net: nn.Module) -> np.ndarray:
        k = self._usable_prefix(net)
        if k == 0:
            self._drop()
            return predict_proba(net, self.X, device=self.device)
        blocks = list(cast(BlockEncoder, net.encoder).blocks())
        if not (self._net is net and self._blocks == blocks[:k] and _unchanged(blocks[:k], self._snapshot)):
            self._drop()
            if self._too_large == (net, k, MAX_CACHE_BYTES):
                self.plain_reason = f"the output of the first {k} block(s) is over MAX_CACHE_BYTES"
                return predict_proba(net, self.X, device=self.device)
            return self._build(net, blocks, k)
        self.plain_reason = None
        net.eval()
        out = []
        with torch.no_grad():
            for h in self._features:
                out.append(self._finish(net, blocks, k, h))
        if [h._version for h in self._features] != self._versions:
            self._drop()  # a later block wrote into its input: right this time, stale from now on
        return np.concatenate(out)

    def _usable_prefix(self, net: nn.Module) -> int:
        """k > 0 leading frozen blocks the cache may start from, or 0 (``plain_reason`` says why)."""
        encoder = getattr(net, "encoder", None)
        if MAX_CACHE_BYTES <= 0:
            reason = "the cache is disabled (MAX_CACHE_BYTES = 0)"
        elif type(net).forward is not Classifier.forward:
            reason = f"{type(net).__name__} has its own forward (not Classifier's head(encoder(x)))"
        elif getattr(type(encoder), "forward", None) is not BlockEncoder.forward:
            reason = f"the encoder {type(encoder).__name__} has its own forward (not BlockEncoder's)"
        elif self.X.shape[0] == 0:
            reason = "there are no windows"
        elif _has_hooks(net):
            reason = "a forward hook is registered, which the cached pass would skip"
        elif (k := frozen_prefix(cast(BlockEncoder, encoder))) == 0:
            reason = "the encoder's first block is not frozen"
        else:
            return k
        self.plain_reason = reason
        return 0

    def _build(self, net: nn.Module, blocks: list[nn.Module], k: int) -> np.ndarray:
        """The plain pass, keeping each batch's prefix output (unless over the byte cap)."""
        net.eval()
        n = self.X.shape[0]
        out, features, written = [], [], False
        with torch.no_grad():
            for i in range(0, n, BATCH_SIZE):
                h = batch_tensor(self.X, np.arange(i, min(i + BATCH_SIZE, n)), self.device)
                for block in blocks[:k]:
                    h = block(h)  # (B, C_i, T_i)
                if k == len(blocks):
                    h = global_max_pool(h)  # (B, D): what the head reads, the same every epoch
                if i == 0 and h.untyped_storage().nbytes() * n / h.shape[0] > MAX_CACHE_BYTES:
                    self._too_large = (net, k, MAX_CACHE_BYTES)
                    self.plain_reason = f"the output of the first {k} block(s) is over MAX_CACHE_BYTES"
                    return predict_proba(net, self.X, device=self.device)
                features.append(h)
                version = h._version
                out.append(self._finish(net, blocks, k, h))
                written |= h._version != version
        self.plain_reason = "a block after the prefix writes into its input in place" if written else None
        if not written:  # kept only when no later block wrote into it
            self._net, self._blocks, self._features = net, blocks[:k], features
            self._versions = [h._version for h in features]
            self._snapshot = _snapshot(blocks[:k])
        return np.concatenate(out)

    @staticmethod
    def _finish(net: nn.Module, blocks: list[nn.Module], k: int, h: torch.Tensor) -> np.ndarray:
        """Probabilities (B, K) from one batch's prefix output: blocks k.., pool, head, softmax."""
        if k < len(blocks):
            for block in blocks[k:]:
                h = block(h)  # (B, C_i, T_i)
            h = global_max_pool(h)  # (B, D)
        return torch.softmax(net.head(h), dim=1).cpu().numpy()  # type: ignore[operator]

    def _drop(self) -> None:
        self._net, self._blocks, self._snapshot, self._features, self._versions = None, [], [], [], []
