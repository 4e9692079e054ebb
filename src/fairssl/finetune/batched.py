"""Batched fine-tuning: K runs that share data and shapes train together as ONE stacked model.

``finetune_many(X_train, y_train, X_val, y_val, jobs=[...])`` returns what ``[finetune(...) for job in
jobs]`` returns (:func:`fairssl.finetune.train.finetune`: the best-validation classifier on CPU and its
:class:`FinetuneResult`), with every job keeping its own

- initialisation: built exactly as ``finetune`` builds it for the job's seed (so a ``random:<setup>``
  control starts where ``supervised`` starts, an SSL setup from the pre-trained state);
- data order: its own generator, seeded and drawn as ``finetune`` draws it (group-balanced batches under
  ``mitigation = "balanced"``);
- dropout masks: drawn from its own copy of the random state its unbatched run holds
  (:mod:`fairssl.finetune.batched_stack`; bit-identical on CPU, statistically equivalent on CUDA);
- optimiser state, learning-rate schedule, loss (and a mitigation's state, e.g. group DRO's weights);
- frozen set: a frozen layer's gradient is zeroed for that model only, so the optimiser (Adam, SGD with
  momentum, Adadelta: all element-wise) leaves it bit-identical;
- early stopping and best-checkpoint selection: a model that stops leaves the stack; the others go on.

Results equal the one-by-one runs to float tolerance: the tests compare predictions and histories at
1e-5 (with dropout on). On CPU every model runs its own plain convolutions (:mod:`.batched_stack`), and
at the default study's shapes (``benchmarks/batched_finetune.py``, ``benchmarks/stacked_study.py``) the
runs were bit-identical, which nothing guarantees in general (the head's batched matrix products may sum
in another order). The validation windows are scored each epoch from each model's cached frozen-prefix
outputs, as a run alone scores them (:mod:`fairssl.finetune.val_cache`).

Not supported (:class:`BatchUnsupportedError`, a ValueError; run those jobs with ``finetune``): encoders other
than the conv :class:`~fairssl.ssl.encoder.Encoder` (residual, transformer, factory encoders), jobs that
mix a linear head with the MLP head, and gradual unfreezing (``unfreeze_every`` > 0 with a frozen layer:
a layer unfrozen mid-run joins ``finetune``'s optimiser as a new group with a fresh step count, which a
stacked tensor shared with models that trained it all along cannot hold). :func:`batch_support` says
why a set of jobs cannot be batched before any work.

Which runs may share one call: the same training and validation windows, labels and group labels (one
dataset, one split), the same ``model`` and ``finetune`` config (so the same shapes, schedule and
epochs); setups, controls and seeds may differ freely.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

import numpy as np
import torch
from torch import nn

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.errors import ConfigError
from fairssl.finetune.batched_stack import DropoutStream, StackedClassifier, stack_support
from fairssl.finetune.mitigation import TrainingLoss, balanced_batches, training_loss
from fairssl.finetune.setups import Setup
from fairssl.finetune.train import (
    FinetuneResult,
    class_weights,
    group_codes,
    make_optimizer,
    positive_scores,
    prob_metrics,
    seeded_classifier,
)
from fairssl.finetune.val_cache import MAX_CACHE_BYTES
from fairssl.runtime import keeps_global_rng
from fairssl.ssl.heads import Classifier
from fairssl.ssl.pretrain import EpochCallback, batches, cosine_lambda


class BatchUnsupportedError(ConfigError):
    """These jobs cannot train as one stacked model; train each with :func:`finetune` instead."""


@dataclass
class FinetuneJob:
    """One fine-tuning run of a batch: the arguments of :func:`finetune` that may differ between runs.

    ``encoder_state``: the pre-trained encoder (SSL setups only). ``groups`` (N,): the training windows'
    group labels (mitigations that need them). ``record_splits``: as in ``finetune`` (name -> windows).
    """

    setup: Setup
    seed: int = 0
    encoder_state: dict[str, torch.Tensor] | None = None
    groups: np.ndarray | None = None
    on_epoch: EpochCallback | None = None
    record_splits: Mapping[str, np.ndarray] | None = None


def _build(
    job: FinetuneJob, model: ModelConfig, c: int, t: int, n_classes: int
) -> tuple[Classifier, torch.Generator, torch.Tensor]:
    """The job's classifier exactly as ``finetune`` builds it, its data-order generator, and the global
    CPU random state right after building (where its dropout draws start)."""
    net, generator = seeded_classifier(job.setup, model, job.encoder_state, c, t, n_classes, job.seed)
    return net, generator, torch.get_rng_state()


def batch_support(jobs: Sequence[FinetuneJob], config: FinetuneConfig) -> str | None:
    """Why ``jobs`` cannot be batched under ``config`` (None when they can); see the module docstring."""
    if not jobs:
        return "no jobs were given"
    if len({job.setup.linear_head for job in jobs}) > 1:
        return "the jobs mix a linear head (linear-probe) with the MLP head; batch each kind separately"
    if config.unfreeze_every and any(job.setup.frozen for job in jobs):
        return (
            f"finetune.unfreeze_every = {config.unfreeze_every} (gradual unfreezing) with frozen layers; "
            "a layer unfrozen mid-run starts a fresh optimiser group, which a stacked model cannot hold"
        )
    return None


def _refuse(reason: str) -> BatchUnsupportedError:
    return BatchUnsupportedError(
        f"cannot fine-tune these runs as one stacked model: {reason}; train each with finetune()"
    )


class _Optimiser:
    """``finetune``'s optimiser over the stacked parameters (element-wise, so model k's slice is updated
    as model k's own optimiser would update it), with per-model gradient masks for frozen layers."""

    def __init__(self, config: FinetuneConfig, stack: StackedClassifier, trains: dict[str, torch.Tensor]):
        self.config, self.stack, self.trains = config, stack, trains  # trains: name -> (K,) bool
        self._make(None, None)

    def _make(self, old: torch.optim.Optimizer | None, rows: list[int] | None) -> None:
        for name in self.stack.names:
            self.stack.params[name].requires_grad_(bool(self.trains[name].any()))
        new = make_optimizer(
            self.config, [cast(nn.Parameter, self.stack.params[n]) for n in self.stack.names]
        )
        if old is not None and rows is not None:
            new.param_groups[0]["lr"] = old.param_groups[0]["lr"]
            index = torch.tensor(rows)
            for p_old, p_new in zip(
                old.param_groups[0]["params"], new.param_groups[0]["params"], strict=True
            ):
                state = old.state.get(p_old)
                if state:  # per-element state (K, ...) keeps the rows; scalars (the step count) as they are
                    new.state[p_new] = {
                        key: v.index_select(0, index.to(v.device))
                        if isinstance(v, torch.Tensor) and v.dim() == p_old.dim() and v.dim() > 0
                        else v
                        for key, v in state.items()
                    }
        self.optimizer = new

    def keep(self, rows: list[int]) -> None:
        self.stack.keep(rows)
        index = torch.tensor(rows)
        self.trains = {n: m.index_select(0, index.to(m.device)) for n, m in self.trains.items()}
        self._make(self.optimizer, rows)

    def step(self, loss: torch.Tensor, lr: float) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for name in self.stack.names:
            grad = self.stack.params[name].grad
            if grad is not None:  # model k's frozen slice: zero gradient, so its weights and state stay
                frozen = ~self.trains[name]  # (K,)
                grad.masked_fill_(frozen.view(-1, *([1] * (grad.dim() - 1))), 0.0)
        self.optimizer.step()
        for group in self.optimizer.param_groups:
            group["lr"] = lr


class _ScoreCache:
    """Each model's eval-mode output of its leading frozen conv layers on windows scored every epoch, per
    batch of 1024 (CPU layout): those layers never move and dropout is off in eval mode, so each epoch
    would compute the same tensors again (as :mod:`fairssl.finetune.val_cache` spares a run alone). Up to
    :data:`~fairssl.finetune.val_cache.MAX_CACHE_BYTES` per model and split; beyond, that model is scored
    in full."""

    def __init__(self) -> None:
        self.kept: dict[tuple[int, str], list[torch.Tensor | None]] = {}
        self.full: set[tuple[int, str]] = set()  # over the cap: scored in full

    def get(self, run: _Run, split: str, batch: int) -> torch.Tensor | None:
        kept = self.kept.get((id(run), split))
        return kept[batch] if kept is not None and batch < len(kept) else None

    def put(self, run: _Run, split: str, batch: int, h: torch.Tensor | None) -> None:
        key = (id(run), split)
        if h is None or key in self.full or self.get(run, split, batch) is not None:
            return
        kept = self.kept.setdefault(key, [])
        kept.append(h)
        if sum(t.numel() * t.element_size() for t in kept if t is not None) > MAX_CACHE_BYTES:
            self.full.add(key)
            del self.kept[key]


def _predict(
    stack: StackedClassifier,
    X: np.ndarray,
    device: torch.device,
    runs: Sequence[_Run],
    rows: list[int] | None = None,
    cache: tuple[_ScoreCache, str] | None = None,
) -> list[np.ndarray]:
    """Class probabilities (N, K_classes) of each stacked model (or of ``rows``), as ``predict_proba``;
    ``runs``: the stacked runs in row order; ``cache``: where (and under which split name) the models'
    frozen prefixes' outputs on ``X`` are kept (CPU layout only)."""
    params = stack.params
    if rows is not None:
        index = torch.tensor(rows, device=device)
        params = {n: p.index_select(0, index) for n, p in params.items()}
        runs = [runs[r] for r in rows]
    out = []
    with torch.no_grad():
        for b, i in enumerate(range(0, X.shape[0], 1024)):
            x = torch.from_numpy(np.ascontiguousarray(X[i : i + 1024], dtype=np.float32)).to(device)
            if cache is not None and stack.per_model:
                scores, split = cache
                prefix = [0 if (id(r), split) in scores.full else r.prefix for r in runs]
                cached = [scores.get(r, split, b) for r in runs]
                logits, kept = stack.eval_logits(x, params, prefix, cached)
                for run, h in zip(runs, kept, strict=True):
                    scores.put(run, split, b, h)
            else:
                logits = stack.forward(x, params=params)
            out.append(torch.softmax(logits, dim=2).cpu().numpy())  # (K, B, n_cls)
    probs = np.concatenate(out, axis=1)  # (K, N, n_cls)
    return list(probs)


@dataclass
class _Run:
    """One job's training state inside the batch."""

    job: FinetuneJob
    net: Classifier
    generator: torch.Generator  # data order
    dropout: DropoutStream
    loss_fn: TrainingLoss
    codes: np.ndarray | None  # (N,) group codes, when the mitigation needs them
    conv_trains: list[bool]  # per conv layer: trained (not frozen)
    result: FinetuneResult
    best_state: dict[str, torch.Tensor]
    best_score: float = math.inf
    bad: int = 0

    @property
    def prefix(self) -> int:
        """How many leading conv layers this run freezes."""
        return next((i for i, t in enumerate(self.conv_trains) if t), len(self.conv_trains))

    def order(self, n: int, bs: int, balanced: bool) -> list[np.ndarray]:
        """This epoch's index batches, drawn as ``finetune`` draws them."""
        if balanced and self.codes is not None:
            return balanced_batches(self.codes, bs, self.generator)
        return batches(n, bs, self.generator, shuffle=True, drop_last=False)

    def select(
        self,
        epoch: int,
        row: dict[str, float],
        config: FinetuneConfig,
        state: Callable[[], dict[str, torch.Tensor]],
    ) -> bool:
        """Record the epoch's row, keep the best weights; True when early stopping ends this run."""
        self.result.history.append(row)
        if self.job.on_epoch is not None:
            self.job.on_epoch(row)
        score = row["val_loss"] if config.selection == "loss" else -row["val_auroc"]
        if score < self.best_score - 1e-6:
            self.best_score, self.bad = score, 0
            self.best_state = state()
            self.result.best_epoch = epoch + 1
            return False
        self.bad += 1
        self.result.stopped_early = bool(config.patience and self.bad >= config.patience)
        return self.result.stopped_early


def _start(
    jobs: Sequence[FinetuneJob],
    X_train: np.ndarray,
    y_train: np.ndarray,
    *,
    model: ModelConfig,
    config: FinetuneConfig,
    n_classes: int,
    weight: torch.Tensor,
    device: torch.device,
) -> tuple[list[_Run], StackedClassifier, _Optimiser]:
    """Build every job's model (as ``finetune`` does), stack them, and set up their optimiser."""
    n, c, t = X_train.shape
    built = [_build(job, model, c, t, n_classes) for job in jobs]
    for net, _, _ in built:
        why = stack_support(net)
        if why is not None:
            raise _refuse(why)
    stack = StackedClassifier([net for net, _, _ in built], device)
    y = np.asarray(y_train, dtype=np.int64)
    runs: list[_Run] = []
    for job, (net, generator, rng_state) in zip(jobs, built, strict=True):
        codes, names = group_codes(config, job.groups, n)
        loss_fn = training_loss(config, weight, groups=codes, group_names=names, y=y, n_classes=n_classes)
        trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
        runs.append(
            _Run(
                job=job,
                net=net,
                generator=generator,
                dropout=DropoutStream(rng_state, device),
                loss_fn=loss_fn,
                codes=codes,
                conv_trains=[name not in job.setup.frozen for name in net.encoder.layer_names],
                result=FinetuneResult(trainable_parameters=trainable),
                best_state=stack.model_state(len(runs)),
            )
        )
    trains = {
        name: torch.tensor(
            [not (name.startswith("encoder.") and name.split(".")[1] in job.setup.frozen) for job in jobs],
            device=device,
        )
        for name in stack.names
    }  # name -> (K,) whether model k trains it
    return runs, stack, _Optimiser(config, stack, trains)


def _batch_loss(
    stack: StackedClassifier,
    runs: list[_Run],
    x: torch.Tensor,
    y: list[torch.Tensor],
    groups: list[torch.Tensor | None],
    config: FinetuneConfig,
    trains: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """(K,) each model's batch loss as ``finetune`` computes it: its training loss on its logits plus
    ``l2_conv sum ||W_conv||^2`` over its trainable conv kernels and ``l2_head ||W_hidden||^2``."""
    logits = stack.forward(x, [run.dropout for run in runs], trains=trains)  # (K, B, n_classes)
    conv_sq, hidden_sq = stack.l2_terms()  # per layer (K,), (K,) or None
    device = logits.device
    penalty = torch.zeros(len(runs), device=device)
    if config.l2_conv:
        for i, sq in enumerate(conv_sq):
            trained = torch.tensor([float(run.conv_trains[i]) for run in runs], device=device)
            penalty = penalty + config.l2_conv * sq * trained
    if config.l2_head and hidden_sq is not None:
        penalty = penalty + config.l2_head * hidden_sq
    losses = [run.loss_fn(logits[r], y[r], groups[r]) for r, run in enumerate(runs)]
    return torch.stack(losses) + penalty


@keeps_global_rng
def finetune_many(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    jobs: Sequence[FinetuneJob],
    model: ModelConfig,
    config: FinetuneConfig,
    n_classes: int = 2,
    device: torch.device | str = "cpu",
) -> list[tuple[Classifier, FinetuneResult]]:
    """Train ``jobs`` together; returns, in job order, what ``finetune`` returns for each job.

    ``X_train`` (N, C, T), ``y_train`` (N,), ``X_val`` (M, C, T), ``y_val`` (M,) are shared by every job.
    Raises :class:`BatchUnsupportedError` (see :func:`batch_support`) before any training for jobs it
    cannot batch.
    """
    device = torch.device(device)
    reason = batch_support(jobs, config)
    if reason is not None:
        raise _refuse(reason)
    n = X_train.shape[0]
    weight = torch.tensor(
        class_weights(y_train, n_classes) if config.class_weights else np.ones(n_classes), dtype=torch.float32
    ).to(device)
    runs, stack, opt = _start(
        jobs, X_train, y_train, model=model, config=config, n_classes=n_classes, weight=weight, device=device
    )
    everyone = list(runs)
    bs = min(config.batch_size, n)
    schedule = cosine_lambda(config.epochs * math.ceil(n / bs))
    y_t = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    g_t = [None if run.codes is None else torch.from_numpy(run.codes) for run in runs]
    y_val = np.asarray(y_val, dtype=np.int64)
    step = 0
    scores = _ScoreCache()
    for epoch in range(config.epochs):
        orders = [run.order(n, bs, config.mitigation == "balanced") for run in runs]
        shared = all(all(np.array_equal(a, b) for a, b in zip(o, orders[0], strict=True)) for o in orders[1:])
        totals = [0.0] * len(runs)
        for s in range(len(orders[0])):
            idx = [o[s] for o in orders]
            if shared:  # (B, C, T), the same batch for every model
                x = torch.from_numpy(np.ascontiguousarray(X_train[idx[0]], dtype=np.float32))
            else:  # (K, B, C, T): each model's own batch
                x = torch.from_numpy(np.stack([np.asarray(X_train[i], dtype=np.float32) for i in idx]))
            groups = [None if g is None else g[i].to(device) for g, i in zip(g_t, idx, strict=True)]
            losses = _batch_loss(
                stack, runs, x.to(device), [y_t[i].to(device) for i in idx], groups, config, opt.trains
            )
            step += 1
            opt.step(losses.sum(), config.lr * schedule(step))
            for r, value in enumerate(losses.detach().cpu().tolist()):
                totals[r] += value * len(idx[r])
        probs = _predict(stack, X_val, device, runs, cache=(scores, "val"))  # K x (M, n_classes)
        keep = []
        for r, run in enumerate(runs):
            val_loss, val_auroc = prob_metrics(probs[r], y_val, weight, device)
            if run.job.record_splits is not None:
                run.result.trajectory[(epoch + 1, "val")] = positive_scores(probs[r])
                for name, X in run.job.record_splits.items():
                    run.result.trajectory[(epoch + 1, name)] = positive_scores(
                        _predict(stack, X, device, runs, [r], cache=(scores, name))[0]
                    )
            row = {
                "epoch": float(epoch + 1),
                "train_loss": totals[r] / n,
                "val_loss": val_loss,
                "val_auroc": val_auroc,
                "lr": opt.optimizer.param_groups[0]["lr"],
                **run.loss_fn.epoch_log(),
            }
            if not run.select(epoch, row, config, partial(stack.model_state, r)):
                keep.append(r)
        if not keep:
            break
        if len(keep) < len(runs):  # early-stopped models leave the stack
            opt.keep(keep)
            runs, g_t = [runs[r] for r in keep], [g_t[r] for r in keep]
    for run in everyone:
        run.net.load_state_dict(run.best_state)
        run.net.eval()  # as finetune leaves it (its last validation pass)
    return [(run.net.cpu(), run.result) for run in everyone]
