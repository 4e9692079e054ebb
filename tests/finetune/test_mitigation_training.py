"""Mitigations inside fine-tuning: ``none`` is today's recipe bit for bit, and each in-training mitigation
moves the disparity it targets in the expected direction on a case built to show it.

The cases are small synthetic tasks (a tiny encoder, 400 training windows, 10 epochs, well under a
second a run). The margins hold for every one of the training seeds 0-3 (measured; the tests use seed 0),
so numerics that differ slightly between machines do not flip them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.finetune import train
from fairssl.finetune.freezing import freeze, set_train_mode, trainable_parameters, unfreeze
from fairssl.finetune.setups import Setup, get_setup
from fairssl.finetune.train import FinetuneResult, finetune, predict_proba
from fairssl.runtime import seed_everything
from fairssl.ssl.heads import Classifier
from fairssl.ssl.pretrain import batch_tensor, batches, build_encoder, cosine_lambda

MODEL = ModelConfig(widths=[8, 8, 8], kernels=[5, 3, 3], head_hidden=8)
LEARNER = ModelConfig(widths=[8, 8, 8], kernels=[5, 3, 3], head_hidden=16, head_dropout=0.1, dropout=0.0)
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # X, recorded y, group, true y


# ------------------------------------------------------------------------------- today's recipe, frozen
def _today(
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray,
    yv: np.ndarray,
    *,
    setup: Setup,
    config: FinetuneConfig,
    encoder_state: dict[str, torch.Tensor] | None,
    seed: int,
) -> tuple[Classifier, FinetuneResult]:
    """The fine-tuning loop as it was before mitigations existed (issue #21), kept verbatim as the oracle
    of ``mitigation = "none"``: same helpers, same order of random draws and of floating-point ops."""
    device = torch.device("cpu")
    generator = seed_everything(seed)
    encoder = build_encoder(MODEL, X.shape[1], X.shape[2])
    if encoder_state is not None:
        encoder.load_state_dict(encoder_state)
    net = train.build_classifier(MODEL, encoder, 2, linear_head=setup.linear_head)
    frozen = [getattr(net.encoder, name) for name in setup.frozen]
    for module in frozen:
        freeze(module)
    optimizer = train.make_optimizer(config, list(trainable_parameters(net)))
    bs = min(config.batch_size, X.shape[0])
    schedule = cosine_lambda(config.epochs * math.ceil(X.shape[0] / bs))
    step = 0
    weight = torch.tensor(train.class_weights(y, 2), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    y_t = torch.from_numpy(np.asarray(y, dtype=np.int64))
    result = FinetuneResult(trainable_parameters=sum(p.numel() for p in trainable_parameters(net)))
    best_score, bad = math.inf, 0
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    to_unfreeze = [name for name in reversed(net.encoder.layer_names) if name in setup.frozen]
    for epoch in range(config.epochs):
        if config.unfreeze_every and epoch and epoch % config.unfreeze_every == 0 and to_unfreeze:
            unfreeze(getattr(net.encoder, to_unfreeze.pop(0)), optimizer)
            frozen = [getattr(net.encoder, n) for n in setup.frozen if n in to_unfreeze]
        set_train_mode(net, frozen)
        total = 0.0
        for idx in batches(X.shape[0], bs, generator, shuffle=True, drop_last=False):
            loss = loss_fn(net(batch_tensor(X, idx, device)), y_t[idx]) + train._l2(net, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            for group in optimizer.param_groups:
                group["lr"] = config.lr * schedule(step)
            total += float(loss.detach()) * len(idx)
        val_loss, val_auroc = train._val_metrics(net, Xv, yv, weight, device)
        row = {"epoch": float(epoch + 1), "train_loss": total / X.shape[0], "val_loss": val_loss}
        result.history.append({**row, "val_auroc": val_auroc, "lr": optimizer.param_groups[0]["lr"]})
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
    return net, result


def task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    X = rng.normal(size=(n, 3, 20)).astype(np.float32)
    X[:, 0, 10:] += 1.5 * y[:, None]
    return X, y, np.where(rng.random(n) < 0.5, "f", "m")


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("setup", "options"),
    [
        ("supervised", {}),
        ("2-first-last", {"optimizer": "adam", "lr": 1e-2, "unfreeze_every": 2, "patience": 2}),
        ("random:3", {"selection": "auroc"}),
    ],
)
def test_none_is_todays_recipe_bit_for_bit(setup: str, options: dict) -> None:
    X, y, g = task(110, 0)
    Xv, yv, _ = task(40, 1)
    spec = get_setup(setup)
    state = None
    if spec.pretrained:
        torch.manual_seed(11)
        state = build_encoder(MODEL, 3, 20).state_dict()
    base = FinetuneConfig(epochs=4, batch_size=32, **options)
    a, ra = _today(X, y, Xv, yv, setup=spec, config=base, encoder_state=state, seed=3)
    for cfg, groups in (
        (base, None),  # mitigation unset
        (base.model_copy(update={"mitigation_attributes": ["sex"]}), g),  # groups given: unused
        (base.model_copy(update={"mitigation": "thresholds", "mitigation_attributes": ["sex"]}), None),
    ):
        b, rb = finetune(
            X, y, Xv, yv, setup=spec, model=MODEL, config=cfg, encoder_state=state, seed=3, groups=groups
        )
        assert rb.history == ra.history and rb.best_epoch == ra.best_epoch
        assert _same(a, b)
        assert np.array_equal(predict_proba(a, Xv), predict_proba(b, Xv))


def test_an_in_training_mitigation_needs_one_group_per_training_window() -> None:
    X, y, g = task(60, 0)
    cfg = FinetuneConfig(epochs=1, batch_size=32, mitigation="reweigh", mitigation_attributes=["sex"])
    for groups, got in ((None, "got none"), (g[:10], "got 10")):
        with pytest.raises(
            ValueError, match=f"'reweigh' needs one group label per training window \\(60\\); {got}"
        ):
            finetune(X, y, X, y, setup=get_setup("supervised"), model=MODEL, config=cfg, groups=groups)


def test_mitigated_runs_are_reproducible_and_log_their_state() -> None:
    X, y, g = task(100, 0)
    Xv, yv, _ = task(40, 1)
    for mitigation in ("balanced", "group_dro", "penalty", "reweigh"):
        cfg = FinetuneConfig(epochs=2, batch_size=32, mitigation=mitigation, mitigation_attributes=["sex"])
        a, ra = finetune(
            X, y, Xv, yv, setup=get_setup("supervised"), model=MODEL, config=cfg, seed=2, groups=g
        )
        b, rb = finetune(
            X, y, Xv, yv, setup=get_setup("supervised"), model=MODEL, config=cfg, seed=2, groups=g
        )
        assert ra.history == rb.history and _same(a, b), mitigation
        logged = set(ra.history[-1]) - {"epoch", "train_loss", "val_loss", "val_auroc", "lr"}
        assert logged == {"group_dro": {"q:f", "q:m"}, "penalty": {"penalty"}}.get(mitigation, set())
    dro = FinetuneConfig(epochs=2, batch_size=32, mitigation="group_dro", mitigation_attributes=["sex"])
    _, res = finetune(X, y, Xv, yv, setup=get_setup("supervised"), model=MODEL, config=dro, groups=g)
    assert res.history[-1]["q:f"] + res.history[-1]["q:m"] == pytest.approx(1.0)
    pen = FinetuneConfig(epochs=2, batch_size=32, mitigation="penalty", mitigation_attributes=["sex"])
    _, res = finetune(X, y, Xv, yv, setup=get_setup("supervised"), model=MODEL, config=pen, groups=g)
    assert all(row["penalty"] >= 0 for row in res.history)


# ------------------------------------------------------------------------------ disparities it moves
def label_bias(n: int, seed: int) -> Data:
    """Two equal groups with the same true base rate; the group is visible in channel 1, the outcome in
    channel 0; 60% of group b's true positives are recorded as negatives (under-recording)."""
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.5, "a", "b")
    s = rng.normal(size=n)
    truth = (s + 0.3 * rng.normal(size=n) > 0.3).astype(np.int64)
    y = np.where((g == "b") & (truth == 1) & (rng.random(n) < 0.6), 0, truth)
    X = rng.normal(size=(n, 3, 20)).astype(np.float32)
    X[:, 0, 10:] += 2 * s[:, None].astype(np.float32)
    X[:, 1] += np.where(g == "a", 1.0, -1.0)[:, None].astype(np.float32)
    return X, y, g, truth


def concept_shift(n: int, seed: int) -> Data:
    """A minority group b (15%) whose outcome is read from channel 2 while group a's is read from
    channel 0: a model fitted to the pooled data serves b poorly."""
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.15, "b", "a")
    s0, s2 = rng.normal(size=n), rng.normal(size=n)
    y = np.where(g == "a", s0 > 0, s2 > 0).astype(np.int64)
    X = rng.normal(size=(n, 3, 20)).astype(np.float32)
    X[:, 0, 10:] += 2 * s0[:, None].astype(np.float32)
    X[:, 2, 10:] += 2 * s2[:, None].astype(np.float32)
    return X, y, g, y


_CACHE: dict[tuple, tuple[np.ndarray, Data]] = {}


def scores(make: Callable[[int, int], Data], mitigation: str, **options: object) -> tuple[np.ndarray, Data]:
    """Test P(y=1) of a model trained on ``make``'s case with ``mitigation`` (cached per module)."""
    key = (make.__name__, mitigation, tuple(sorted(options.items())))
    if key not in _CACHE:
        X, y, g, _ = make(400, 0)
        Xv, yv, _, _ = make(150, 1)
        cfg = FinetuneConfig(
            epochs=10,
            batch_size=32,
            patience=0,
            optimizer="adam",
            lr=1e-2,
            mitigation=mitigation,  # type: ignore[arg-type]
            mitigation_attributes=["g"],
            mitigation_options=options,
        )
        model, _ = finetune(X, y, Xv, yv, setup=get_setup("supervised"), model=LEARNER, config=cfg, groups=g)
        test = make(600, 2)
        _CACHE[key] = (predict_proba(model, test[0])[:, 1], test)
    return _CACHE[key]


def mean_gap(p: np.ndarray, g: np.ndarray, rows: np.ndarray | None = None) -> float:
    """mean p over group a minus over group b (within ``rows``)."""
    rows = np.ones(len(p), dtype=bool) if rows is None else rows
    return float(p[rows & (g == "a")].mean() - p[rows & (g == "b")].mean())


def group_ce(p: np.ndarray, y: np.ndarray, g: np.ndarray, name: str) -> float:
    rows = g == name
    return float(-np.log(np.where(y[rows] == 1, p[rows], 1 - p[rows]) + 1e-9).mean())


@pytest.mark.parametrize(
    ("mitigation", "options"),
    [
        ("reweigh", {}),
        ("penalty", {"lambda": 5.0}),
        ("penalty", {"lambda": 5.0, "relaxation": "equalized_odds"}),
    ],
)
def test_label_bias_reweighing_and_penalties_shrink_the_parity_gap(mitigation: str, options: dict) -> None:
    p0, (_, _, g, truth) = scores(label_bias, "none")
    p1, _ = scores(label_bias, mitigation, **options)
    if options.get("relaxation") == "equalized_odds":  # the gap within each true label
        before = sum(mean_gap(p0, g, truth == k) for k in (0, 1))
        after = sum(mean_gap(p1, g, truth == k) for k in (0, 1))
    else:  # demographic parity: the gap in mean predicted probability
        before, after = mean_gap(p0, g), mean_gap(p1, g)
    assert before > 0.2  # the recorded labels teach the model to under-rate group b
    assert abs(after) < 0.8 * before
    assert roc_auc_score(truth, p1) > 0.8  # still a model of the outcome, not a constant


@pytest.mark.parametrize(
    ("mitigation", "options"), [("balanced", {}), ("group_dro", {}), ("group_dro", {"eta": 0.1})]
)
def test_concept_shift_balancing_and_group_dro_lift_the_worst_group(mitigation: str, options: dict) -> None:
    p0, (_, y, g, _) = scores(concept_shift, "none")
    p1, _ = scores(concept_shift, mitigation, **options)
    worst0, worst1 = group_ce(p0, y, g, "b"), group_ce(p1, y, g, "b")
    assert worst0 > group_ce(p0, y, g, "a") + 0.5  # the minority group is served poorly
    assert worst1 < worst0 - 0.2
    gap0, gap1 = worst0 - group_ce(p0, y, g, "a"), worst1 - group_ce(p1, y, g, "a")
    assert gap1 < gap0 / 2
    assert ((p1 >= 0.5) == y)[g == "b"].mean() > ((p0 >= 0.5) == y)[g == "b"].mean()
