"""Fine-tuning of every setup, and the supervised baseline, under ONE training recipe.

The supervised model differs from the SSL setups only in its initialisation (random instead of the
pre-trained encoder) and in having nothing frozen: architecture, head, dropout, optimiser, schedule,
class weights, regularisation and model selection are identical (fixing paper.md defect 4). A
``random:<setup>`` control differs from ``<setup>`` only in its initialisation: the random encoder that
``supervised`` starts from (seeded by the run's seed), frozen exactly like ``<setup>``; with the same seed
its head, data order and dropout draws are those of ``<setup>`` and ``supervised`` too.

Loss on a batch: weighted cross-entropy (w_c = N / (K N_c) from the training labels) plus L2 penalties
``l2_conv * sum ||W||^2`` over the *trainable* blocks' weights (the CNN's conv kernels; in general every
block parameter of two or more dimensions, :func:`fairssl.ssl.encoders.penalised_weights`) and
``l2_head * ||W_hidden||^2`` on the head's hidden layer. Model selection uses the validation split only
(weighted cross-entropy without the L2 terms, or AUROC) with early stopping; the test split is never seen
here.

``finetune.mitigation`` swaps the batch loss and, for ``balanced``, the epoch's data order
(:mod:`fairssl.finetune.mitigation`); everything else, model selection included, is the recipe. With
``none`` (and ``thresholds``, which acts after training) the run is bit-identical to an unmitigated one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.errors import DataError
from fairssl.evaluation.auroc import binary_auroc
from fairssl.finetune.freezing import freeze, set_train_mode, trainable_parameters, unfreeze
from fairssl.finetune.mitigation import balanced_batches, encode_groups, needs_groups, training_loss
from fairssl.finetune.setups import Setup
from fairssl.finetune.val_cache import PrefixCachedScorer, predict_proba
from fairssl.runtime import keeps_global_rng, seed_everything
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.encoders import penalised_weights
from fairssl.ssl.heads import Classifier, ClassifierHead
from fairssl.ssl.pretrain import EpochCallback, batch_tensor, batches, build_encoder, cosine_lambda


@dataclass
class FinetuneResult:
    """Per-epoch history (train/val loss, val AUROC, lr, trainable count) and the selected epoch.

    ``trajectory``: with ``record_splits``, ``(epoch, split) -> P(y=1)`` (N_split,) float32 of every
    epoch's weights (before model selection restores the best ones); empty otherwise.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    trainable_parameters: int = 0
    trajectory: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """w_c = N / (K N_c): balanced weights (1 for every class when classes are balanced)."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise DataError(
            f"the training split has no windows of class(es) {missing}; every class needs examples"
        )
    return len(y) / (n_classes * counts)


def build_classifier(
    model: ModelConfig, encoder: Encoder, n_classes: int, *, linear_head: bool = False
) -> Classifier:
    head = ClassifierHead(encoder.out_dim, n_classes, hidden=model.head_hidden, dropout=model.head_dropout)
    if linear_head:  # a linear probe: D -> K directly
        lin = nn.Linear(encoder.out_dim, n_classes)
        head = nn.Sequential(lin)  # type: ignore[assignment]
    return Classifier(encoder, head)


def make_optimizer(config: FinetuneConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if config.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=config.lr, rho=0.95, eps=1e-7)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    return torch.optim.SGD(params, lr=config.lr, momentum=0.9)


def _l2(model: Classifier, config: FinetuneConfig) -> torch.Tensor:
    penalty = torch.zeros((), device=next(model.parameters()).device)
    for block in model.encoder.blocks():
        for w in penalised_weights(block):  # the CNN's: each block's conv kernel
            if w.requires_grad and config.l2_conv:
                penalty = penalty + config.l2_conv * (w**2).sum()
    first = model.head[0]
    if isinstance(first, nn.Linear) and first.weight.requires_grad and config.l2_head and len(model.head) > 1:
        penalty = penalty + config.l2_head * (first.weight**2).sum()
    return penalty


def _val_metrics(
    model: Classifier, X: np.ndarray, y: np.ndarray, weight: torch.Tensor, device: torch.device
) -> tuple[float, float]:
    """(weighted validation loss, validation AUROC) of ``model`` on windows ``X`` (N, C, T)."""
    return prob_metrics(predict_proba(model, X, device=device), y, weight, device)


def prob_metrics(
    prob: np.ndarray, y: np.ndarray, weight: torch.Tensor, device: torch.device
) -> tuple[float, float]:
    """(weighted cross-entropy, AUROC) of class probabilities ``prob`` (N, K) on labels ``y`` (N,).

    AUROC: K = 2 by :func:`~fairssl.evaluation.auroc.binary_auroc` (scikit-learn's value, without its
    validation cost), K > 2 by scikit-learn's one-vs-rest; NaN where undefined (one class present)."""
    p = torch.from_numpy(np.clip(prob, 1e-7, 1.0)).to(device)
    loss = float(nn.functional.nll_loss(torch.log(p), torch.from_numpy(y).to(device), weight=weight))
    try:
        auc = (
            binary_auroc(y, prob[:, 1])
            if prob.shape[1] == 2
            else float(roc_auc_score(y, prob, multi_class="ovr"))
        )
    except ValueError:
        auc = math.nan
    return loss, auc


def positive_scores(prob: np.ndarray) -> np.ndarray:
    """P(y=1) (N,) float32 of class probabilities (N, K)."""
    return np.asarray(prob[:, 1] if prob.shape[1] > 1 else prob[:, 0], dtype=np.float32)


def group_codes(
    config: FinetuneConfig, groups: np.ndarray | None, n: int
) -> tuple[np.ndarray | None, list[str]]:
    """The training windows' group codes when ``config.mitigation`` needs them (else None)."""
    if not needs_groups(config.mitigation):
        return None, []
    if groups is None or len(groups) != n:
        got = "none" if groups is None else f"{len(groups)}"
        raise ValueError(
            f"finetune.mitigation = {config.mitigation!r} needs one group label per training window "
            f"({n}); got {got}. Pass the windows' labels of finetune.mitigation_attributes as groups"
        )
    return encode_groups(groups)


def seeded_classifier(
    setup: Setup,
    model: ModelConfig,
    encoder_state: dict[str, torch.Tensor] | None,
    in_channels: int,
    n_steps: int,
    n_classes: int,
    seed: int,
) -> tuple[Classifier, torch.Generator]:
    """The classifier a run of ``setup`` starts from, and its data-order generator.

    Seeds every generator with ``seed`` (so the random encoder, the head and every later draw match
    across setups), builds the encoder, loads ``encoder_state`` (required for SSL setups, refused for
    ``supervised`` and ``random:<setup>`` controls) and freezes the setup's blocks. Shared by
    :func:`finetune` and the batched trainer, so both start from the same weights and random state.
    """
    generator = seed_everything(seed)
    encoder = build_encoder(model, in_channels, n_steps)
    if setup.pretrained:
        if encoder_state is None:
            raise ValueError(f"setup {setup.name!r} needs a pre-trained encoder state")
        encoder.load_state_dict(encoder_state)
    elif encoder_state is not None:
        raise ValueError(
            f"setup {setup.name!r} starts from a random encoder, but an encoder state was given; "
            "pass encoder_state only to SSL setups"
        )
    net = build_classifier(model, encoder, n_classes, linear_head=setup.linear_head)
    for name in setup.frozen:
        freeze(getattr(net.encoder, name))
    return net, generator


@keeps_global_rng
def finetune(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    setup: Setup,
    model: ModelConfig,
    config: FinetuneConfig,
    encoder_state: dict[str, torch.Tensor] | None = None,
    n_classes: int = 2,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_epoch: EpochCallback | None = None,
    groups: np.ndarray | None = None,
    record_splits: Mapping[str, np.ndarray] | None = None,
) -> tuple[Classifier, FinetuneResult]:
    """Train one setup; returns the best-validation classifier (on CPU) and its history.

    ``encoder_state`` (from pre-training) is required for every SSL setup and refused for ``supervised``
    and the ``random:<setup>`` controls, whose encoder is the seeded random initialisation (built the same
    way for every setup, so the head's initialisation and every later random draw match across setups).
    ``groups`` (N,): the group label of every training window (see ``finetune.mitigation_attributes``);
    required by the in-training mitigations, unused otherwise.
    ``record_splits`` (name -> windows (N, C, T)): after every epoch, the current weights score these
    windows and the validation windows (split ``"val"``) into ``result.trajectory``. The extra forward
    passes run in eval mode without gradients and draw no random number, so training, model selection
    and the returned model are bit-identical with and without recording; recorded scores never enter any
    choice made here.
    Every epoch's validation (and recorded) scores are ``predict_proba`` of the current weights, bit for
    bit; the eval-mode output of a frozen leading prefix of the encoder is computed once and reused
    (:class:`fairssl.finetune.val_cache.PrefixCachedScorer`).
    """
    device = torch.device(device)
    _n, c, t = X_train.shape
    net, generator = seeded_classifier(setup, model, encoder_state, c, t, n_classes, seed)
    net = net.to(device)
    frozen = [getattr(net.encoder, name) for name in setup.frozen]
    optimizer = make_optimizer(config, list(trainable_parameters(net)))
    bs = min(config.batch_size, X_train.shape[0])
    steps_per_epoch = math.ceil(X_train.shape[0] / bs)
    schedule = cosine_lambda(config.epochs * steps_per_epoch)  # set by hand: groups may be added later
    step = 0
    weight = torch.tensor(
        class_weights(y_train, n_classes) if config.class_weights else np.ones(n_classes), dtype=torch.float32
    ).to(device)
    y_t = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    codes, names = group_codes(config, groups, X_train.shape[0])
    loss_fn = training_loss(
        config, weight, groups=codes, group_names=names, y=y_t.numpy(), n_classes=n_classes
    )
    g_t = None if codes is None else torch.from_numpy(codes)

    result = FinetuneResult(trainable_parameters=sum(p.numel() for p in trainable_parameters(net)))
    best_score, bad = math.inf, 0
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    # Every epoch's scoring of fixed windows: predict_proba bit for bit, a frozen leading prefix run once.
    score_val = PrefixCachedScorer(X_val, device=device)
    score_recorded = {name: PrefixCachedScorer(X, device=device) for name, X in (record_splits or {}).items()}
    # Gradual unfreezing order: top (last) frozen layer first.
    to_unfreeze = [name for name in reversed(net.encoder.layer_names) if name in setup.frozen]
    for epoch in range(config.epochs):
        if config.unfreeze_every and epoch and epoch % config.unfreeze_every == 0 and to_unfreeze:
            name = to_unfreeze.pop(0)
            unfreeze(getattr(net.encoder, name), optimizer)
            frozen = [getattr(net.encoder, n) for n in setup.frozen if n in to_unfreeze]
        set_train_mode(net, frozen)
        total = 0.0
        if config.mitigation == "balanced" and codes is not None:
            order = balanced_batches(codes, bs, generator)
        else:
            order = batches(X_train.shape[0], bs, generator, shuffle=True, drop_last=False)
        for idx in order:
            x = batch_tensor(X_train, idx, device)
            g = None if g_t is None else g_t[idx].to(device)
            loss = loss_fn(net(x), y_t[idx].to(device), g) + _l2(net, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            for group in optimizer.param_groups:
                group["lr"] = config.lr * schedule(step)
            total += float(loss.detach()) * len(idx)
        val_prob = score_val(net)
        val_loss, val_auroc = prob_metrics(val_prob, np.asarray(y_val, dtype=np.int64), weight, device)
        if record_splits is not None:
            result.trajectory[(epoch + 1, "val")] = positive_scores(val_prob)
            for name, scorer in score_recorded.items():
                result.trajectory[(epoch + 1, name)] = positive_scores(scorer(net))
        row = {
            "epoch": float(epoch + 1),
            "train_loss": total / X_train.shape[0],
            "val_loss": val_loss,
            "val_auroc": val_auroc,
            "lr": optimizer.param_groups[0]["lr"],
            **loss_fn.epoch_log(),
        }
        result.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        score = val_loss if config.selection == "loss" else -val_auroc
        if score < best_score - 1e-6:
            best_score, bad = score, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            result.best_epoch = epoch + 1
        else:
            bad += 1
            if config.patience and bad >= config.patience:
                result.stopped_early = True
                break
    net.load_state_dict(best_state)
    return net.cpu(), result
