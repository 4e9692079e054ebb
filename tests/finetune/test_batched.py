"""Batched fine-tuning equals K separate ``finetune`` runs (to float tolerance), job by job.

Oracle: :func:`fairssl.finetune.train.finetune` called once per job with the same arguments. Dropout is
on (the model's defaults, 0.1 in the conv blocks and 0.6 in the head), so equality also shows every
model draws its own masks as its unbatched run does. Tiny encoder, 150 training windows: each test
trains in well under a few seconds on one core.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.functional import dropout

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.finetune.batched import BatchUnsupportedError, FinetuneJob, batch_support, finetune_many
from fairssl.finetune.batched_stack import DropoutStream, StackedClassifier, stack_support
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import FinetuneResult, build_classifier, finetune, predict_proba
from fairssl.ssl.heads import Classifier
from fairssl.ssl.pretrain import build_encoder

MODEL = ModelConfig(widths=[8, 8, 8], kernels=[5, 3, 3], head_hidden=8)
TOL = 1e-5


def task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    X = rng.normal(size=(n, 3, 20)).astype(np.float32)
    X[:, 0, 10:] += 1.5 * y[:, None]
    return X, y, np.where(rng.random(n) < 0.5, "f", "m")


def pretrained() -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return build_encoder(MODEL, 3, 20).state_dict()


def one_by_one(
    jobs: list[FinetuneJob], config: FinetuneConfig, data: tuple[np.ndarray, ...]
) -> list[tuple[Classifier, FinetuneResult]]:
    X, y, Xv, yv = data
    return [
        finetune(
            X,
            y,
            Xv,
            yv,
            setup=job.setup,
            model=MODEL,
            config=config,
            encoder_state=job.encoder_state,
            seed=job.seed,
            groups=job.groups,
            record_splits=job.record_splits,
        )
        for job in jobs
    ]


def assert_same_runs(
    got: list[tuple[Classifier, FinetuneResult]],
    want: list[tuple[Classifier, FinetuneResult]],
    Xv: np.ndarray,
) -> None:
    assert len(got) == len(want)
    for (m, r), (m1, r1) in zip(got, want, strict=True):
        assert (r.best_epoch, r.stopped_early, r.trainable_parameters) == (
            r1.best_epoch,
            r1.stopped_early,
            r1.trainable_parameters,
        )
        assert len(r.history) == len(r1.history)
        for row, row1 in zip(r.history, r1.history, strict=True):
            assert row.keys() == row1.keys()
            np.testing.assert_allclose([row[k] for k in row], [row1[k] for k in row], rtol=TOL, atol=TOL)
        np.testing.assert_allclose(predict_proba(m, Xv), predict_proba(m1, Xv), atol=TOL)
        assert r.trajectory.keys() == r1.trajectory.keys()
        for key in r.trajectory:
            np.testing.assert_allclose(r.trajectory[key], r1.trajectory[key], atol=TOL)
        for name, p in m.named_parameters():
            assert p.requires_grad == dict(m1.named_parameters())[name].requires_grad, name


def test_mixed_setups_controls_and_seeds_equal_separate_runs() -> None:
    X, y, _ = task(150, 0)
    Xv, yv, _ = task(50, 1)
    state = pretrained()
    rows: list[dict[str, float]] = []
    jobs = [
        FinetuneJob(get_setup("supervised"), seed=0, record_splits={"test": Xv[:20]}, on_epoch=rows.append),
        FinetuneJob(get_setup("1-first"), seed=0, encoder_state=state),
        FinetuneJob(get_setup("random:2-first-last"), seed=0),
        FinetuneJob(get_setup("3"), seed=5, encoder_state=state),
    ]
    config = FinetuneConfig(epochs=6, batch_size=32, patience=2, optimizer="adam", lr=1e-2)
    got = finetune_many(X, y, Xv, yv, jobs=jobs, model=MODEL, config=config)
    want = one_by_one(jobs, config, (X, y, Xv, yv))
    # the case this test is for: early stopping ends one run while others train to the last epoch
    assert any(r.stopped_early for _, r in want) and not all(r.stopped_early for _, r in want)
    assert_same_runs(got, want, Xv)
    assert rows == got[0][1].history  # each job's callback sees its own rows, once per epoch
    for (m, _), job in zip(got, jobs, strict=True):  # frozen layers of SSL setups keep the given weights
        for name in job.setup.frozen if job.setup.pretrained else ():
            assert torch.equal(m.encoder.state_dict()[f"{name}.0.weight"], state[f"{name}.0.weight"])


@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": "sgd", "lr": 0.05, "selection": "auroc", "patience": 1},
        {"optimizer": "adadelta", "l2_conv": 0.0, "class_weights": False},
        {"optimizer": "adam", "lr": 1e-2, "mitigation": "group_dro", "mitigation_attributes": ["sex"]},
        {"optimizer": "adam", "lr": 1e-2, "mitigation": "balanced", "mitigation_attributes": ["sex"]},
    ],
)
def test_other_optimisers_selection_and_mitigations_equal_separate_runs(options: dict) -> None:
    X, y, g = task(150, 0)
    Xv, yv, _ = task(50, 1)
    state = pretrained()
    groups = g if "mitigation" in options else None
    jobs = [  # one seed: the models share their batches (one convolution over the shared input)
        FinetuneJob(get_setup("supervised"), seed=1, groups=groups),
        FinetuneJob(get_setup("2-first-middle"), seed=1, encoder_state=state, groups=groups),
        FinetuneJob(get_setup("random:1-middle"), seed=1, groups=groups),
    ]
    config = FinetuneConfig(epochs=4, batch_size=40, **options)
    got = finetune_many(X, y, Xv, yv, jobs=jobs, model=MODEL, config=config)
    assert_same_runs(got, one_by_one(jobs, config, (X, y, Xv, yv)), Xv)


def test_linear_probes_and_gradual_unfreezing_without_frozen_layers() -> None:
    X, y, _ = task(120, 0)
    Xv, yv, _ = task(40, 1)
    state = pretrained()
    probes = [FinetuneJob(get_setup("linear-probe"), seed=s, encoder_state=state) for s in (0, 1, 2)]
    config = FinetuneConfig(epochs=3, batch_size=32, optimizer="adam", lr=1e-2)
    got = finetune_many(X, y, Xv, yv, jobs=probes, model=MODEL, config=config)
    assert_same_runs(got, one_by_one(probes, config, (X, y, Xv, yv)), Xv)
    # unfreeze_every is a no-op for runs that freeze nothing, so they batch
    plain = [FinetuneJob(get_setup("supervised"), seed=s) for s in (0, 3)]
    config = config.model_copy(update={"unfreeze_every": 1})
    got = finetune_many(X, y, Xv, yv, jobs=plain, model=MODEL, config=config)
    assert_same_runs(got, one_by_one(plain, config, (X, y, Xv, yv)), Xv)


def test_refuses_what_it_cannot_batch_with_a_message() -> None:
    X, y, _ = task(60, 0)
    state = pretrained()
    frozen = FinetuneJob(get_setup("3"), encoder_state=state)
    config = FinetuneConfig(epochs=3, batch_size=32, unfreeze_every=1)
    assert "gradual unfreezing" in (batch_support([frozen], config) or "")
    with pytest.raises(BatchUnsupportedError, match=r"unfreeze_every = 1 .*train each with finetune\(\)"):
        finetune_many(X, y, X, y, jobs=[frozen], model=MODEL, config=config)
    mixed = [
        FinetuneJob(get_setup("linear-probe"), encoder_state=state),
        FinetuneJob(get_setup("supervised")),
    ]
    with pytest.raises(BatchUnsupportedError, match="mix a linear head"):
        finetune_many(X, y, X, y, jobs=mixed, model=MODEL, config=FinetuneConfig(epochs=1))
    with pytest.raises(BatchUnsupportedError, match="no jobs"):
        finetune_many(X, y, X, y, jobs=[], model=MODEL, config=FinetuneConfig(epochs=1))
    with pytest.raises(ValueError, match="needs a pre-trained encoder state"):
        finetune_many(X, y, X, y, jobs=[FinetuneJob(get_setup("0"))], model=MODEL, config=FinetuneConfig())
    with pytest.raises(ValueError, match="pass encoder_state only to SSL setups"):
        job = FinetuneJob(get_setup("random:3"), encoder_state=state)
        finetune_many(X, y, X, y, jobs=[job], model=MODEL, config=FinetuneConfig())


def test_stack_support_names_what_does_not_stack() -> None:
    net = build_classifier(MODEL, build_encoder(MODEL, 3, 20), 2)
    assert stack_support(net) is None
    net.encoder.conv2 = nn.Sequential(nn.Conv1d(8, 8, 3), nn.BatchNorm1d(8), nn.ReLU())
    assert "encoder block conv2 is ['Conv1d', 'BatchNorm1d', 'ReLU']" in (stack_support(net) or "")
    assert "not the conv Encoder" in (stack_support(Classifier(nn.Identity(), nn.Linear(8, 2))) or "")  # type: ignore[arg-type]


@pytest.mark.parametrize("per_model", [True, False], ids=["cpu-layout", "cuda-layout"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_stacked_forward_equals_each_model(padding: str, per_model: bool) -> None:
    torch.manual_seed(0)
    model = MODEL.model_copy(update={"padding": padding})
    nets = [build_classifier(model, build_encoder(model, 3, 20), 2) for _ in range(3)]
    stack = StackedClassifier(nets, torch.device("cpu"))
    stack.per_model = per_model  # the CUDA layout (grouped convolutions), checked here on CPU
    x = torch.randn(3, 5, 3, 20)  # (K, B, C, T)
    with torch.no_grad():
        for net in nets:
            net.eval()
        shared = stack.forward(x[0])  # the same batch for every model
        own = stack.forward(x)  # one batch per model
        for k, net in enumerate(nets):
            torch.testing.assert_close(shared[k], net(x[0]), rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(own[k], net(x[k]), rtol=1e-5, atol=1e-6)
        subset = {n: p[[2, 0]] for n, p in stack.params.items()}
        torch.testing.assert_close(stack.forward(x[0], params=subset)[0], nets[2](x[0]), rtol=1e-5, atol=1e-6)


def test_both_layouts_give_each_model_its_run_alones_dropout_and_gradients() -> None:
    torch.manual_seed(1)
    nets = [build_classifier(MODEL, build_encoder(MODEL, 3, 20), 2) for _ in range(3)]
    states = []
    for k in range(3):
        torch.manual_seed(100 + k)
        states.append(torch.get_rng_state())
    x = torch.randn(3, 6, 3, 20)  # (K, B, C, T)
    trains = {  # model 1 freezes conv1 and conv2, the others train everything
        name: torch.tensor([True, not name.startswith(("encoder.conv1", "encoder.conv2")), True])
        for name, _ in nets[0].named_parameters()
    }
    grads = {}
    for per_model in (True, False):
        stack = StackedClassifier(nets, torch.device("cpu"))
        stack.per_model = per_model
        for p in stack.params.values():
            p.requires_grad_(True)
        streams = [DropoutStream(state, torch.device("cpu")) for state in states]
        logits = stack.forward(x, streams, trains=trains)
        logits.square().sum().backward()
        grads[per_model] = {n: p.grad for n, p in stack.params.items()}
        for k, net in enumerate(nets):  # its run alone: train mode, dropout from the global generator
            net.train()
            torch.set_rng_state(states[k])
            torch.testing.assert_close(logits[k].detach(), net(x[k]), rtol=1e-5, atol=1e-6)
    for name, frozen in ((n, ~t) for n, t in trains.items()):
        torch.testing.assert_close(
            grads[True][name][~frozen], grads[False][name][~frozen], rtol=1e-4, atol=1e-6
        )
        if frozen.any():  # CPU layout: a frozen layer is detached, so no gradient reaches it at all
            assert torch.count_nonzero(grads[True][name][frozen]) == 0
            assert (
                torch.count_nonzero(grads[False][name][frozen]) > 0
            )  # the masks of the optimiser do it there


def test_dropout_stream_draws_the_masks_of_the_global_generator() -> None:
    torch.manual_seed(3)
    state = torch.get_rng_state()
    ones = torch.ones(4, 8, 6)
    want = [dropout(ones, 0.1, training=True), dropout(torch.ones(4, 5), 0.6, training=True)]
    stream = DropoutStream(state, torch.device("cpu"))
    assert torch.equal(stream.noise((4, 8, 6), 0.1), want[0])  # type: ignore[arg-type]
    assert torch.equal(stream.noise((4, 5), 0.6), want[1])  # type: ignore[arg-type]
    assert stream.noise((4, 5), 0.0) is None


def test_leaves_the_global_random_state_alone() -> None:
    X, y, _ = task(60, 0)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    finetune_many(
        X, y, X, y, jobs=[FinetuneJob(get_setup("supervised"))], model=MODEL, config=FinetuneConfig(epochs=1)
    )
    assert torch.equal(torch.get_rng_state(), before)


def test_scoring_reuses_each_models_frozen_prefix_and_returns_the_same_bits(monkeypatch) -> None:
    from types import SimpleNamespace

    import fairssl.finetune.batched_stack as batched_stack
    from fairssl.finetune.batched import _predict, _ScoreCache

    torch.manual_seed(3)
    nets = [build_classifier(MODEL, build_encoder(MODEL, 3, 20), 2) for _ in range(3)]
    stack = StackedClassifier(nets, torch.device("cpu"))
    runs = [SimpleNamespace(prefix=p) for p in (0, 1, 3)]  # trains all; freezes conv1; freezes every conv
    X = np.random.default_rng(0).normal(size=(1500, 3, 20)).astype(np.float32)  # two batches of 1024
    calls = []
    real = batched_stack.conv1d
    monkeypatch.setattr(batched_stack, "conv1d", lambda *a, **k: calls.append(1) or real(*a, **k))
    plain = _predict(stack, X, torch.device("cpu"), runs)
    scores = _ScoreCache()
    first = _predict(stack, X, torch.device("cpu"), runs, cache=(scores, "val"))
    calls.clear()
    again = _predict(stack, X, torch.device("cpu"), runs, cache=(scores, "val"))
    assert len(calls) == 2 * (3 + 2 + 0)  # per batch: model 0 all three layers, model 1 two, model 2 none
    for a, b, c in zip(plain, first, again, strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    for k, net in enumerate(nets):  # and they are each model's own eval-mode scores
        np.testing.assert_allclose(plain[k], predict_proba(net, X), rtol=0, atol=1e-6)
