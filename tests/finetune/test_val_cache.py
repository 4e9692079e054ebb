"""The frozen-prefix validation cache: bit-identical to ``predict_proba`` and to uncached fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.finetune import val_cache
from fairssl.finetune.freezing import freeze
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import build_classifier, finetune, seeded_classifier
from fairssl.finetune.val_cache import PrefixCachedScorer, predict_proba
from fairssl.ssl.encoders import BlockEncoder, encoder_layer_names
from fairssl.ssl.heads import Classifier, ClassifierHead
from fairssl.ssl.pretrain import build_encoder

MODELS = {
    "cnn": ModelConfig(widths=[6, 8, 8], kernels=[5, 3, 3], padding="same", dropout=0.3, head_hidden=8),
    "resnet1d": ModelConfig(arch="resnet1d", widths=[6, 6, 8], kernels=[3, 3, 3], dropout=0.3, head_hidden=8),
    "transformer": ModelConfig(
        arch="transformer",
        widths=[8, 8, 8],
        kernels=[3, 3, 3],
        patch_length=4,
        heads=2,
        dropout=0.3,
        head_hidden=8,
    ),
}
T = 16


def task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    X = rng.normal(size=(n, 3, T)).astype(np.float32)
    X[:, 0, T // 2 :] += 1.5 * y[:, None]
    return X, y


X_TR, Y_TR = task(48, 0)
X_VA, Y_VA = task(1100, 1)  # two batches of predict_proba (1024 + 76)
X_TE, _ = task(30, 2)


def encoder_state(model: ModelConfig) -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return build_encoder(model, 3, T).state_dict()


def run(arch: str, setup_name: str, *, unfreeze_every: int = 0, epochs: int = 3):
    model = MODELS[arch]
    setup = get_setup(setup_name, encoder_layer_names(model))
    config = FinetuneConfig(
        epochs=epochs, batch_size=16, patience=0, optimizer="adam", lr=1e-2, unfreeze_every=unfreeze_every
    )
    state = encoder_state(model) if setup.pretrained else None
    return finetune(
        X_TR,
        Y_TR,
        X_VA,
        Y_VA,
        setup=setup,
        model=model,
        config=config,
        encoder_state=state,
        seed=3,
        record_splits={"test": X_TE},
    )


def count_plain_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scorers' plain passes (their calls of val_cache.predict_proba)."""
    calls: list[int] = []
    plain = val_cache.predict_proba

    def counted(*args, **kwargs):
        calls.append(1)
        return plain(*args, **kwargs)

    monkeypatch.setattr(val_cache, "predict_proba", counted)
    return calls


def assert_same_run(a, b) -> None:
    (net_a, res_a), (net_b, res_b) = a, b
    assert res_a.history == res_b.history  # every epoch's val_loss, val_auroc, train_loss, lr: exactly
    assert res_a.best_epoch == res_b.best_epoch
    sa, sb = net_a.state_dict(), net_b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert res_a.trajectory.keys() == res_b.trajectory.keys()
    assert all(np.array_equal(res_a.trajectory[k], res_b.trajectory[k]) for k in res_a.trajectory)


@pytest.mark.parametrize("arch", ["cnn", "resnet1d"])
@pytest.mark.parametrize("setup", ["1-first", "2-first-middle", "2-first-last", "3", "supervised"])
def test_finetune_is_identical_with_and_without_the_cache(
    arch: str, setup: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_plain_passes(monkeypatch)
    cached = run(arch, setup)
    # a frozen leading block: no plain pass at all (the first epoch builds the cache); else one per epoch
    # for the validation split and one for the recorded test split
    assert len(calls) == (0 if setup != "supervised" else 2 * 3)
    monkeypatch.setattr(val_cache, "MAX_CACHE_BYTES", 0)
    plain = run(arch, setup)
    assert len(calls) == (0 if setup != "supervised" else 2 * 3) + 2 * 3
    assert_same_run(cached, plain)
    assert len({h["val_loss"] for h in cached[1].history}) == 3  # the model trained: the epochs differ


@pytest.mark.parametrize("arch", ["cnn", "resnet1d"])
@pytest.mark.parametrize("setup", ["3", "2-first-last"])
def test_gradual_unfreezing_is_identical_with_and_without_the_cache(
    arch: str, setup: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_plain_passes(monkeypatch)
    cached = run(arch, setup, unfreeze_every=1, epochs=4)  # "3": prefix 3, 2, 1, 0 blocks
    # "3" rebuilds at each shorter prefix and is plain once conv1 trains; "2-first-last" loses conv3
    # first (its prefix, conv1, stays cached), then conv1: plain from epoch 3 on
    assert len(calls) == (2 if setup == "3" else 4)
    monkeypatch.setattr(val_cache, "MAX_CACHE_BYTES", 0)
    assert_same_run(cached, run(arch, setup, unfreeze_every=1, epochs=4))


def frozen_net(arch: str, setup: str) -> Classifier:
    model = MODELS[arch]
    spec = get_setup(setup, encoder_layer_names(model))
    net, _ = seeded_classifier(
        spec, model, encoder_state(model) if spec.pretrained else None, 3, T, 2, seed=1
    )
    return net


@pytest.mark.parametrize("arch", ["cnn", "resnet1d", "transformer"])
@pytest.mark.parametrize("setup", ["1-first", "2-first-middle", "3"])
def test_scores_equal_predict_proba_on_untrained_and_trained_nets(arch: str, setup: str) -> None:
    X, _ = task(2100, 4)  # three batches: 1024, 1024, 52
    net = frozen_net(arch, setup)
    scorer = PrefixCachedScorer(X)
    for _ in range(2):  # the first call builds the cache, the second reuses it
        assert np.array_equal(scorer(net), predict_proba(net, X))
        assert scorer.plain_reason is None
    with torch.no_grad():  # training moves the trainable part (here the head; conv3 too unless frozen)
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    assert np.array_equal(scorer(net), predict_proba(net, X))
    assert scorer.plain_reason is None
    trained, _ = run(arch, setup, epochs=2)
    for _ in range(2):
        assert np.array_equal(scorer(trained), predict_proba(trained, X))


@pytest.mark.parametrize(
    ("arch", "tensor"), [("cnn", "conv1.0.weight"), ("resnet1d", "res1.bn1.running_mean")]
)
def test_a_changed_prefix_weight_or_statistic_is_recomputed(arch: str, tensor: str) -> None:
    X, _ = task(300, 5)
    net = frozen_net(arch, "3")
    scorer = PrefixCachedScorer(X)
    before = scorer(net)
    with torch.no_grad():
        net.encoder.state_dict()[tensor].add_(0.5)  # frozen, yet changed in place
    after = scorer(net)
    assert np.array_equal(after, predict_proba(net, X)) and not np.array_equal(after, before)


class SubclassEncoder(BlockEncoder):
    """A factory encoder that inherits BlockEncoder's forward (blocks in order, global max pool)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(3, 6, 3, padding=1), nn.ReLU())
        self.top = nn.Sequential(nn.Conv1d(6, 5, 3, padding=1), nn.BatchNorm1d(5), nn.ReLU())
        self.layer_names = ("stem", "top")
        self.out_dim = 5


class OwnForward(SubclassEncoder):
    """The same blocks, but a forward of its own (it pools by the mean): the cache cannot assume it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(self.stem(x)).mean(dim=2)


def test_an_encoder_with_its_own_forward_falls_back_to_the_plain_pass(monkeypatch) -> None:
    X, _ = task(200, 6)
    torch.manual_seed(0)
    own = Classifier(OwnForward(), ClassifierHead(5, 2, hidden=4))
    freeze(own.encoder.stem)
    calls = count_plain_passes(monkeypatch)
    scorer = PrefixCachedScorer(X)
    assert np.array_equal(scorer(own), predict_proba(own, X)) and len(calls) == 1
    assert "OwnForward has its own forward" in (scorer.plain_reason or "")
    # the same blocks under BlockEncoder's forward: cached, and still exact
    sub = Classifier(SubclassEncoder(), ClassifierHead(5, 2, hidden=4))
    freeze(sub.encoder.stem)
    scorer = PrefixCachedScorer(X)
    assert np.array_equal(scorer(sub), predict_proba(sub, X)) and len(calls) == 1
    assert scorer.plain_reason is None


class Doubles(nn.Module):
    """Writes into its input: x *= 2 in place."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul_(2.0)


def test_a_block_that_writes_into_its_input_never_reads_a_stale_cache() -> None:
    X, _ = task(200, 8)
    torch.manual_seed(0)
    net = Classifier(SubclassEncoder(), ClassifierHead(5, 2, hidden=4))
    net.encoder.top.insert(0, Doubles())  # top now doubles the stem's output in place first
    freeze(net.encoder.stem)
    scorer = PrefixCachedScorer(X)
    for _ in range(3):  # a reused (doubled) stem output would score differently from the second call on
        assert np.array_equal(scorer(net), predict_proba(net, X))
        assert "writes into its input" in (scorer.plain_reason or "")


def test_plain_pass_reasons_and_the_byte_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = task(100, 7)
    calls = count_plain_passes(monkeypatch)

    def check(net: nn.Module, reason: str) -> None:
        scorer = PrefixCachedScorer(X)
        for _ in range(2):
            assert np.array_equal(scorer(net), predict_proba(net, X))
            assert reason in (scorer.plain_reason or ""), scorer.plain_reason

    check(frozen_net("cnn", "1-middle"), "first block is not frozen")
    check(frozen_net("cnn", "supervised"), "first block is not frozen")
    net = build_classifier(MODELS["cnn"], build_encoder(MODELS["cnn"], 3, T), 2)  # nothing frozen
    check(net, "first block is not frozen")
    hooked = frozen_net("cnn", "3")
    seen: list[int] = []
    handle = hooked.encoder.conv1.register_forward_hook(lambda m, i, o: seen.append(o.shape[0]))
    check(hooked, "forward hook")
    assert seen == [100] * 4  # the hook ran in every pass
    handle.remove()
    # conv1's output is 100 x 6 x 16 floats = 38,400 bytes: a smaller cap keeps the plain pass
    monkeypatch.setattr(val_cache, "MAX_CACHE_BYTES", 38_000)
    check(frozen_net("cnn", "1-first"), "over MAX_CACHE_BYTES")
    monkeypatch.setattr(val_cache, "MAX_CACHE_BYTES", 38_400)
    scorer = PrefixCachedScorer(X)
    net = frozen_net("cnn", "1-first")
    assert np.array_equal(scorer(net), predict_proba(net, X))
    assert scorer.plain_reason is None
    assert len(calls) == 5 * 2  # five checks of two plain passes each; none under the cap that fits
