from __future__ import annotations

import numpy as np
import pytest
import torch

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.errors import DataError
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import class_weights, finetune, predict_proba
from fairssl.runtime import seed_everything
from fairssl.ssl.pretrain import build_encoder

MODEL = ModelConfig(widths=[8, 8, 8], kernels=[5, 3, 3], head_hidden=8)


def task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    X = rng.normal(size=(n, 3, 20)).astype(np.float32)
    X[:, 0, 10:] += 1.5 * y[:, None]
    return X, y


def test_class_weights_formula_and_error() -> None:
    np.testing.assert_allclose(class_weights(np.array([0, 0, 0, 1]), 2), [4 / 6, 4 / 2])
    np.testing.assert_allclose(class_weights(np.array([0, 1, 2, 0, 1, 2]), 3), [1, 1, 1])
    with pytest.raises(DataError, match=r"no windows of class\(es\) \[1\]"):
        class_weights(np.array([0, 0]), 2)


@pytest.mark.parametrize("setup", ["1-first", "2-first-last", "3"])
def test_frozen_layers_are_bit_identical_after_training(setup: str) -> None:
    X, y = task(120, 0)
    Xv, yv = task(40, 1)
    torch.manual_seed(0)
    state = build_encoder(MODEL, 3, 20).state_dict()
    model, _ = finetune(
        X,
        y,
        Xv,
        yv,
        setup=get_setup(setup),
        model=MODEL,
        encoder_state=state,
        config=FinetuneConfig(epochs=3, batch_size=32, patience=0, optimizer="adam", lr=1e-2),
    )
    spec = get_setup(setup)
    for name in ("conv1", "conv2", "conv3"):
        for key in ("0.weight", "0.bias"):
            before, after = state[f"{name}.{key}"], model.encoder.state_dict()[f"{name}.{key}"]
            assert torch.equal(before, after) == (name in spec.frozen), (name, key)


def test_learns_a_separable_task_and_selects_on_validation() -> None:
    X, y = task(300, 0)
    Xv, yv = task(100, 1)
    model, res = finetune(
        X,
        y,
        Xv,
        yv,
        setup=get_setup("supervised"),
        model=MODEL,
        config=FinetuneConfig(epochs=15, batch_size=32, patience=5, optimizer="adam", lr=1e-2),
    )
    best = res.history[res.best_epoch - 1]
    assert best["val_loss"] == min(h["val_loss"] for h in res.history)
    from sklearn.metrics import roc_auc_score

    Xt, yt = task(200, 2)
    assert roc_auc_score(yt, predict_proba(model, Xt)[:, 1]) > 0.8


def test_same_seed_same_model_and_controlled_recipe() -> None:
    X, y = task(100, 0)
    Xv, yv = task(40, 1)
    cfg = FinetuneConfig(epochs=2, batch_size=32)
    a, ra = finetune(X, y, Xv, yv, setup=get_setup("supervised"), model=MODEL, config=cfg, seed=4)
    b, rb = finetune(X, y, Xv, yv, setup=get_setup("supervised"), model=MODEL, config=cfg, seed=4)
    assert ra.history == rb.history
    np.testing.assert_array_equal(predict_proba(a, Xv), predict_proba(b, Xv))
    # the SSL setups and supervised share the head (incl. dropout) and the optimiser
    state = build_encoder(MODEL, 3, 20).state_dict()
    c, _ = finetune(X, y, Xv, yv, setup=get_setup("0"), model=MODEL, config=cfg, seed=4, encoder_state=state)
    assert [type(m) for m in a.head] == [type(m) for m in c.head]
    assert a.head[2].p == c.head[2].p == MODEL.head_dropout


def test_gradual_unfreezing_unfreezes_from_the_top() -> None:
    X, y = task(100, 0)
    Xv, yv = task(40, 1)
    state = build_encoder(MODEL, 3, 20).state_dict()
    cfg = FinetuneConfig(epochs=3, batch_size=32, patience=0, unfreeze_every=2, optimizer="adam", lr=1e-2)
    model, _ = finetune(X, y, Xv, yv, setup=get_setup("3"), model=MODEL, config=cfg, encoder_state=state)
    enc = model.encoder.state_dict()
    assert not torch.equal(enc["conv3.0.weight"], state["conv3.0.weight"])  # unfrozen at epoch 2
    assert torch.equal(enc["conv2.0.weight"], state["conv2.0.weight"])  # still frozen
    assert torch.equal(enc["conv1.0.weight"], state["conv1.0.weight"])


def test_linear_probe_has_a_linear_head() -> None:
    X, y = task(80, 0)
    state = build_encoder(MODEL, 3, 20).state_dict()
    _, res = finetune(
        X,
        y,
        X,
        y,
        setup=get_setup("linear-probe"),
        model=MODEL,
        encoder_state=state,
        config=FinetuneConfig(epochs=1, batch_size=32),
    )
    assert res.trainable_parameters == 8 * 2 + 2


# ------------------------------------------------------------------------------- random-init controls
def _seeded_init(seed: int) -> dict[str, torch.Tensor]:
    """The random encoder ``finetune`` builds for ``supervised`` (and the controls) with ``seed``."""
    seed_everything(seed)
    return build_encoder(MODEL, 3, 20).state_dict()


@pytest.mark.parametrize("name", ["random:1-first", "random:2-first-last", "random:3", "random:linear-probe"])
def test_random_control_frozen_layers_stay_the_seeded_random_init(name: str, monkeypatch) -> None:
    import fairssl.finetune.train as train

    seen: dict[str, list] = {"optimised": [], "eval_modules": []}
    make_optimizer, set_mode = train.make_optimizer, train.set_train_mode

    def spy_optimizer(config, params):  # type: ignore[no-untyped-def]
        seen["optimised"] = list(params)
        return make_optimizer(config, params)

    def spy_mode(model, frozen):  # type: ignore[no-untyped-def]
        seen["eval_modules"] = list(frozen)
        set_mode(model, frozen)

    monkeypatch.setattr(train, "make_optimizer", spy_optimizer)
    monkeypatch.setattr(train, "set_train_mode", spy_mode)
    X, y = task(120, 0)
    Xv, yv = task(40, 1)
    setup = get_setup(name)
    cfg = FinetuneConfig(epochs=3, batch_size=32, patience=0, optimizer="adam", lr=1e-2)
    model, _ = finetune(X, y, Xv, yv, setup=setup, model=MODEL, config=cfg, seed=3)
    init, after = _seeded_init(3), model.encoder.state_dict()
    for layer in ("conv1", "conv2", "conv3"):
        frozen = layer in setup.frozen
        block = getattr(model.encoder, layer)
        assert all(p.requires_grad != frozen for p in block.parameters()), layer
        assert all(any(p is q for q in seen["optimised"]) != frozen for p in block.parameters()), layer
        assert any(m is block for m in seen["eval_modules"]) == frozen, layer  # norms kept in eval there
        for key in ("0.weight", "0.bias"):
            assert torch.equal(init[f"{layer}.{key}"], after[f"{layer}.{key}"]) == frozen, (layer, key)


def test_random_control_is_its_setup_trained_from_the_seeded_random_init() -> None:
    X, y = task(100, 0)
    Xv, yv = task(40, 1)
    cfg = FinetuneConfig(epochs=2, batch_size=32, patience=0)
    for base in ("3", "1-middle", "linear-probe"):
        name = f"random:{base}"
        a, ra = finetune(X, y, Xv, yv, setup=get_setup(name), model=MODEL, config=cfg, seed=5)
        state = _seeded_init(5)
        b, rb = finetune(
            X, y, Xv, yv, setup=get_setup(base), model=MODEL, config=cfg, seed=5, encoder_state=state
        )
        # same head, optimiser, schedule, data order and dropout draws: only the initialisation differs
        assert ra.history == rb.history and ra.trainable_parameters == rb.trainable_parameters, name
        for key, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[key]), (name, key)


def test_random_control_is_deterministic_for_a_seed_and_refuses_an_encoder_state() -> None:
    X, y = task(100, 0)
    Xv, yv = task(40, 1)
    cfg = FinetuneConfig(epochs=2, batch_size=32, patience=0)
    setup = get_setup("random:2-first-middle")
    a, ra = finetune(X, y, Xv, yv, setup=setup, model=MODEL, config=cfg, seed=7)
    b, rb = finetune(X, y, Xv, yv, setup=setup, model=MODEL, config=cfg, seed=7)
    c, _ = finetune(X, y, Xv, yv, setup=setup, model=MODEL, config=cfg, seed=8)
    assert ra.history == rb.history
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert not torch.equal(a.encoder.conv1[0].weight, c.encoder.conv1[0].weight)  # the seed draws the init
    with pytest.raises(ValueError, match="'random:2-first-middle' starts from a random encoder"):
        finetune(X, y, Xv, yv, setup=setup, model=MODEL, config=cfg, encoder_state=_seeded_init(7))
