"""In-training bias mitigations (``finetune.mitigation``): the loss and the data order of one epoch.

Every mitigation is applied on top of the unchanged recipe of :mod:`fairssl.finetune.train` (same
model, optimiser, schedule, L2 terms, model selection on the validation split with the recipe's
criterion), so a mitigated run differs from its unmitigated twin only in what is named here. Groups are
those of ``finetune.mitigation_attributes`` (several attributes: their intersection groups, see
:func:`fairssl.evaluation.fairness.intersect`); the missing category is a group of its own.

Notation: a batch of B windows with logits z (B, K), labels y (B,), group codes g (B,) in 0..G-1,
per-window cross-entropy l_i = -log softmax(z_i)[y_i], class weights c_k = N / (K N_k) (ones when
``finetune.class_weights`` is off).

- ``none`` / ``thresholds``: the recipe's loss ``sum_i c_{y_i} l_i / sum_i c_{y_i}`` (torch's weighted
  cross-entropy), bit-identical to an unmitigated run (``thresholds`` acts after training, see
  :mod:`fairssl.evaluation.thresholds`).
- ``reweigh`` (Kamiran & Calders 2012): w(g, y) = P(g) P(y) / P(g, y) = n_g n_y / (N n_gy) from the
  training split; it multiplies the class weight: s_i = c_{y_i} w(g_i, y_i), loss
  ``sum_i s_i l_i / sum_i s_i``. A (g, y) cell then carries total weight n_gy c_y w(g, y) = n_g / K
  (classes balanced, the label independent of the group, group shares kept); without class weights
  n_g n_y / N (the label independent of the group, class shares kept).
- ``balanced``: each epoch draws N windows so that every group gets N // G or N // G + 1 of them (a
  group smaller than its quota is repeated, a larger one subsampled without replacement), from the
  run's generator; the loss is the recipe's.
- ``group_dro`` (Sagawa et al. 2020, online algorithm): per batch the groups' losses
  L_g = sum_{i in g} c_{y_i} l_i / sum_{i in g} c_{y_i} (0 for a group absent from the batch), the
  weights q_g <- q_g exp(eta L_g) / sum_h q_h exp(eta L_h) (from q_g = 1 / G; computed in log space),
  then loss = sum_g q_g L_g with the updated q. ``eta`` (default 0.01) is the step size: 0 is plain
  group-averaged training, larger values move weight to the worst group faster. Differences from the
  paper: the groups are the targeted attribute groups, not (group, label) cells (the class weights
  balance labels inside each L_g), and the model is selected by the recipe's criterion, not by
  worst-group validation accuracy.
- ``penalty``: the recipe's loss + lambda * P (binary tasks; p_i = softmax(z_i)[1]). Demographic-parity
  relaxation P = sum_g (mean_{i in g} p_i - mean_i p_i)^2 over the groups in the batch; equalised-odds
  relaxation: the same within each true label, summed over labels. P >= 0, 0 when every group's mean
  predicted probability equals the overall one; larger is more disparate. It is estimated per batch
  (a group absent from a batch adds nothing). ``lambda`` (default 1.0): 0 is the recipe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from fairssl.config import FinetuneConfig
from fairssl.errors import DataError

IN_TRAINING = ("reweigh", "balanced", "group_dro", "penalty")
"""The mitigations that change training and so need the training windows' groups."""


def needs_groups(mitigation: str) -> bool:
    """Whether training under ``mitigation`` needs the training windows' groups."""
    return mitigation in IN_TRAINING


def check_target_attributes(names: Sequence[str], available: Sequence[str]) -> None:
    """One-line DataError when ``finetune.mitigation_attributes`` ``names`` are not all among the
    dataset's attributes ``available`` (checked before any training and again by each run)."""
    absent = [n for n in names if n not in available]
    if absent:
        raise DataError(
            f"finetune.mitigation_attributes names {absent}, which the dataset does not have; its "
            f"attributes are {list(available)}: set finetune.mitigation_attributes to some of them"
        )


def encode_groups(labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Group labels (N,) -> codes int64 (N,) in 0..G-1 and the G names (sorted, as strings)."""
    names, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return codes.astype(np.int64).reshape(-1), [str(n) for n in names]


def reweighing_table(groups: np.ndarray, y: np.ndarray, *, n_groups: int, n_classes: int) -> np.ndarray:
    """Kamiran-Calders weights (G, K): w(g, y) = P(g) P(y) / P(g, y) = n_g n_y / (N n_gy).

    1 everywhere when the label is independent of the group in the data; > 1 for under-represented
    (group, label) cells. An empty cell gets 0 (no window carries it).
    """
    n = len(y)
    cell = np.zeros((n_groups, n_classes))
    np.add.at(cell, (groups, y), 1.0)  # (G, K) counts n_gy
    expected = cell.sum(1, keepdims=True) * cell.sum(0, keepdims=True) / n  # (G, K): n_g n_y / N
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cell > 0, expected / cell, 0.0)


def kamiran_calders_weights(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-window reweighing weights (N,): w(g_i, y_i) of :func:`reweighing_table`."""
    codes, names = encode_groups(groups)
    y = np.asarray(y, dtype=np.int64)
    table = reweighing_table(codes, y, n_groups=len(names), n_classes=int(y.max()) + 1)
    return table[codes, y]


def balanced_batches(groups: np.ndarray, batch_size: int, generator: torch.Generator) -> list[np.ndarray]:
    """One group-balanced epoch: N = len(groups) draws split into batches (sorted within a batch).

    Every group present gets N // G or N // G + 1 draws (which groups get the extra one is drawn); a
    group of n_g windows with quota k contributes k // n_g full permutations plus k mod n_g windows of
    one more, so a window appears floor(k / n_g) or ceil(k / n_g) times. All draws use ``generator``.
    """
    n = len(groups)
    present = np.unique(groups)
    quota = np.full(len(present), n // len(present))
    quota[torch.randperm(len(present), generator=generator).numpy()[: n % len(present)]] += 1
    draws = []
    for g, k in zip(present, quota, strict=True):
        members = np.flatnonzero(groups == g)
        reps, rest = divmod(int(k), len(members))
        for _ in range(reps):
            draws.append(members[torch.randperm(len(members), generator=generator).numpy()])
        draws.append(members[torch.randperm(len(members), generator=generator).numpy()[:rest]])
    order = np.concatenate(draws)[torch.randperm(n, generator=generator).numpy()]
    return [np.sort(order[i : i + batch_size]) for i in range(0, n, batch_size)]


def parity_penalty(
    prob: torch.Tensor, y: torch.Tensor, groups: torch.Tensor, *, n_groups: int, relaxation: str
) -> torch.Tensor:
    """Differentiable parity gap of a batch: prob (B,) of the positive class, y (B,), groups (B,).

    ``demographic_parity``: sum over the groups in the batch of (mean_g p - mean p)^2;
    ``equalized_odds``: that sum within each true label present, summed over labels. Ideal 0.
    """
    strata = [torch.ones_like(y, dtype=torch.bool)]
    if relaxation == "equalized_odds":
        strata = [y == k for k in torch.unique(y)]
    total = prob.new_zeros(())
    for rows in strata:
        p, g = prob[rows], groups[rows]
        count = torch.zeros(n_groups, device=p.device).index_add(0, g, torch.ones_like(p))  # (G,)
        sums = torch.zeros(n_groups, device=p.device, dtype=p.dtype).index_add(0, g, p)  # (G,)
        seen = count > 0
        total = total + ((sums[seen] / count[seen] - p.mean()) ** 2).sum()
    return total


def _given(groups: torch.Tensor | None) -> torch.Tensor:
    if groups is None:
        raise ValueError("this mitigation's loss needs the batch's group codes; got None")
    return groups


class TrainingLoss:
    """The loss on a batch: ``loss(logits (B, K), y (B,), groups (B,) or None) -> scalar``.

    The base class is the recipe's class-weighted cross-entropy. :meth:`epoch_log` returns the numbers a
    mitigation adds to the epoch's history row (and resets any per-epoch accumulator).
    """

    def __init__(self, class_weight: torch.Tensor) -> None:
        self.class_weight = class_weight
        self._ce = nn.CrossEntropyLoss(weight=class_weight)

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        return self._ce(logits, y)

    def epoch_log(self) -> dict[str, float]:
        return {}


class Reweighed(TrainingLoss):
    """Class weight x Kamiran-Calders weight per window; the batch's weighted mean cross-entropy."""

    def __init__(self, class_weight: torch.Tensor, table: torch.Tensor) -> None:
        super().__init__(class_weight)
        self.table = table  # (G, K)

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        g = _given(groups)
        s = self.class_weight[y] * self.table[g, y]  # (B,)
        return (s * nn.functional.cross_entropy(logits, y, reduction="none")).sum() / s.sum()


class GroupDRO(TrainingLoss):
    """Online group DRO; ``q`` (G,) holds the current group weights (sum 1)."""

    def __init__(self, class_weight: torch.Tensor, names: list[str], *, eta: float) -> None:
        super().__init__(class_weight)
        self.names, self.eta = names, float(eta)
        self.log_q = torch.full((len(names),), -math.log(len(names)), device=class_weight.device)

    @property
    def q(self) -> torch.Tensor:
        return torch.softmax(self.log_q, 0)

    def group_losses(self, logits: torch.Tensor, y: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """L_g (G,): each group's class-weighted mean cross-entropy in the batch, 0 when absent."""
        w = self.class_weight[y]  # (B,)
        num = torch.zeros(len(self.names), device=logits.device).index_add(
            0, groups, w * nn.functional.cross_entropy(logits, y, reduction="none")
        )
        den = torch.zeros(len(self.names), device=logits.device).index_add(0, groups, w)
        return torch.where(den > 0, num / den.clamp_min(1e-12), torch.zeros_like(num))

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        losses = self.group_losses(logits, y, _given(groups))
        self.log_q = self.log_q + self.eta * losses.detach()  # q_g <- q_g exp(eta L_g), normalised below
        self.log_q = self.log_q - torch.logsumexp(self.log_q, 0)
        return (self.q * losses).sum()

    def epoch_log(self) -> dict[str, float]:
        return {f"q:{name}": float(v) for name, v in zip(self.names, self.q.cpu(), strict=True)}


class FairnessPenalty(TrainingLoss):
    """The recipe's loss + lambda * :func:`parity_penalty` of the positive-class probability."""

    def __init__(self, class_weight: torch.Tensor, n_groups: int, *, lam: float, relaxation: str) -> None:
        super().__init__(class_weight)
        self.n_groups, self.lam, self.relaxation = n_groups, float(lam), relaxation
        self._sum, self._batches = 0.0, 0

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        prob = torch.softmax(logits, 1)[:, 1]
        gap = parity_penalty(prob, y, _given(groups), n_groups=self.n_groups, relaxation=self.relaxation)
        self._sum, self._batches = self._sum + float(gap.detach()), self._batches + 1
        return self._ce(logits, y) + self.lam * gap

    def epoch_log(self) -> dict[str, float]:
        out = {"penalty": self._sum / max(self._batches, 1)}
        self._sum, self._batches = 0.0, 0
        return out


def training_loss(
    config: FinetuneConfig,
    class_weight: torch.Tensor,
    *,
    groups: np.ndarray | None,
    group_names: list[str],
    y: np.ndarray,
    n_classes: int,
) -> TrainingLoss:
    """The loss of ``config.mitigation`` (``groups``: codes (N,) of the training windows, or None)."""
    mitigation, options = config.mitigation, config.mitigation_settings()
    if not needs_groups(mitigation) or mitigation == "balanced":
        return TrainingLoss(class_weight)
    if groups is None:
        raise ValueError(f"finetune.mitigation = {mitigation!r} needs the training windows' groups")
    if mitigation == "reweigh":
        table = reweighing_table(groups, y, n_groups=len(group_names), n_classes=n_classes)
        return Reweighed(class_weight, torch.tensor(table, dtype=torch.float32, device=class_weight.device))
    if mitigation == "group_dro":
        return GroupDRO(class_weight, group_names, eta=options["eta"])
    if n_classes != 2:
        raise ValueError(
            f"finetune.mitigation = 'penalty' needs a binary task; this one has {n_classes} classes"
        )
    return FairnessPenalty(
        class_weight, len(group_names), lam=options["lambda"], relaxation=options["relaxation"]
    )


__all__ = [
    "IN_TRAINING",
    "FairnessPenalty",
    "GroupDRO",
    "Reweighed",
    "TrainingLoss",
    "balanced_batches",
    "check_target_attributes",
    "encode_groups",
    "kamiran_calders_weights",
    "needs_groups",
    "parity_penalty",
    "reweighing_table",
    "training_loss",
]
