"""The mitigation formulas against hand-written oracles, and the config's checks of their options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fairssl.config import FinetuneConfig, build_config
from fairssl.errors import ConfigError
from fairssl.finetune.mitigation import (
    FairnessPenalty,
    GroupDRO,
    Reweighed,
    TrainingLoss,
    balanced_batches,
    encode_groups,
    kamiran_calders_weights,
    parity_penalty,
    reweighing_table,
    training_loss,
)


def _ce(z: list[float], k: int) -> float:
    """-log softmax(z)[k] by hand."""
    return -(z[k] - math.log(sum(math.exp(v) for v in z)))


# ------------------------------------------------------------------------------------------ reweighing
def test_kamiran_calders_weights_on_a_small_table() -> None:
    g = np.array(["a", "a", "a", "b", "b", "b", "b", "b"])
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    # N = 8; n_a = 3, n_b = 5; n_y1 = 3, n_y0 = 5; cells a1 = 2, a0 = 1, b1 = 1, b0 = 4
    expected = {("a", 1): 3 * 3 / (8 * 2), ("a", 0): 3 * 5 / (8 * 1), ("b", 1): 5 * 3 / 8, ("b", 0): 25 / 32}
    w = kamiran_calders_weights(g, y)
    np.testing.assert_allclose(w, [expected[(gi, int(yi))] for gi, yi in zip(g, y, strict=True)])
    # after weighting, P(y = 1 | g) is the same in every group (the label is independent of the group)
    rates = [w[(g == name) & (y == 1)].sum() / w[g == name].sum() for name in ("a", "b")]
    np.testing.assert_allclose(rates, [3 / 8, 3 / 8])
    # ... and every group keeps its total weight n_g
    np.testing.assert_allclose([w[g == "a"].sum(), w[g == "b"].sum()], [3, 5])


def test_reweighing_is_one_when_label_and_group_are_independent_and_zero_on_empty_cells() -> None:
    codes, names = encode_groups(np.array(["x", "y", "x", "y"]))
    assert names == ["x", "y"] and codes.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(reweighing_table(codes, np.array([0, 0, 1, 1]), n_groups=2, n_classes=2), 1.0)
    table = reweighing_table(np.array([0, 0, 1]), np.array([0, 1, 0]), n_groups=2, n_classes=2)
    assert table[1, 1] == 0.0 and table[0, 1] == pytest.approx(2 * 1 / (3 * 1))


def test_reweighed_loss_is_the_weighted_mean_with_class_and_kc_weights() -> None:
    z = torch.tensor([[0.2, 1.0], [1.5, -0.3], [0.0, 0.4], [-1.0, 2.0]])
    y = torch.tensor([1, 0, 0, 1])
    g = torch.tensor([0, 0, 1, 1])
    cw = torch.tensor([0.8, 1.6])
    table = torch.tensor([[1.2, 0.7], [0.9, 1.5]])
    loss = Reweighed(cw, table)(z, y, g)
    s = [float(cw[k] * table[gi, k]) for gi, k in zip(g.tolist(), y.tolist(), strict=True)]
    oracle = sum(si * _ce(zi, k) for si, zi, k in zip(s, z.tolist(), y.tolist(), strict=True)) / sum(s)
    assert float(loss) == pytest.approx(oracle, rel=1e-6)
    # with all KC weights 1 it is the recipe's class-weighted cross-entropy
    same = Reweighed(cw, torch.ones(2, 2))(z, y, g)
    assert float(same) == pytest.approx(float(TrainingLoss(cw)(z, y, None)), rel=1e-6)


# ------------------------------------------------------------------------------------------- group DRO
def test_group_dro_update_and_loss_match_the_online_algorithm() -> None:
    z = torch.tensor([[0.2, 1.0], [1.5, -0.3], [0.0, 0.4], [-1.0, 2.0], [0.3, 0.3]])
    y = torch.tensor([1, 0, 0, 1, 1])
    g = torch.tensor([0, 0, 1, 1, 0])  # group 2 absent from the batch
    cw = torch.tensor([1.0, 2.0])
    dro = GroupDRO(cw, ["a", "b", "c"], eta=0.5)
    q = [1 / 3] * 3
    for _step in range(2):  # two batches: q carries over
        losses = []
        for name in range(3):
            rows = [i for i in range(5) if g[i] == name]
            num = sum(float(cw[y[i]]) * _ce(z[i].tolist(), int(y[i])) for i in rows)
            den = sum(float(cw[y[i]]) for i in rows)
            losses.append(num / den if rows else 0.0)
        unnorm = [qi * math.exp(0.5 * li) for qi, li in zip(q, losses, strict=True)]
        q = [u / sum(unnorm) for u in unnorm]
        oracle = sum(qi * li for qi, li in zip(q, losses, strict=True))
        assert float(dro(z, y, g)) == pytest.approx(oracle, rel=1e-5)
        np.testing.assert_allclose(dro.q.numpy(), q, rtol=1e-5)
    assert dro.q[2] < 1 / 3 < dro.q[0]  # the absent group loses weight, the worse group gains it
    assert set(dro.epoch_log()) == {"q:a", "q:b", "q:c"}


def test_group_dro_with_zero_step_is_the_group_averaged_loss() -> None:
    torch.manual_seed(0)
    z, y, g = torch.randn(20, 2), torch.randint(0, 2, (20,)), torch.randint(0, 2, (20,))
    dro = GroupDRO(torch.ones(2), ["a", "b"], eta=0.0)
    per = torch.nn.functional.cross_entropy(z, y, reduction="none")
    oracle = 0.5 * (per[g == 0].mean() + per[g == 1].mean())
    assert float(dro(z, y, g)) == pytest.approx(float(oracle), rel=1e-6)


# -------------------------------------------------------------------------------------------- penalty
def test_parity_penalty_values_by_hand() -> None:
    p = torch.tensor([0.9, 0.7, 0.2, 0.4, 0.6, 0.1])
    y = torch.tensor([1, 0, 1, 0, 1, 0])
    g = torch.tensor([0, 0, 1, 1, 2, 2])
    mean = sum(p.tolist()) / 6
    dp = (0.8 - mean) ** 2 + (0.3 - mean) ** 2 + (0.35 - mean) ** 2
    got = parity_penalty(p, y, g, n_groups=4, relaxation="demographic_parity")  # group 3 absent: skipped
    assert float(got) == pytest.approx(dp, rel=1e-6)
    pos, neg = (0.9 + 0.2 + 0.6) / 3, (0.7 + 0.4 + 0.1) / 3
    eo = sum((v - pos) ** 2 for v in (0.9, 0.2, 0.6)) + sum((v - neg) ** 2 for v in (0.7, 0.4, 0.1))
    got = parity_penalty(p, y, g, n_groups=4, relaxation="equalized_odds")
    assert float(got) == pytest.approx(eo, rel=1e-6)
    flat = parity_penalty(torch.full((6,), 0.3), y, g, n_groups=3, relaxation="demographic_parity")
    assert float(flat) == pytest.approx(0.0, abs=1e-12)


def test_penalty_loss_adds_lambda_times_the_gap_and_has_gradients() -> None:
    z = torch.tensor([[0.2, 1.0], [1.5, -0.3], [0.0, 0.4], [-1.0, 2.0]], requires_grad=True)
    y, g, cw = torch.tensor([1, 0, 0, 1]), torch.tensor([0, 0, 1, 1]), torch.tensor([1.0, 3.0])
    loss = FairnessPenalty(cw, 2, lam=2.5, relaxation="demographic_parity")(z, y, g)
    prob = torch.softmax(z, 1)[:, 1]
    gap = parity_penalty(prob, y, g, n_groups=2, relaxation="demographic_parity")
    expected = torch.nn.functional.cross_entropy(z, y, weight=cw) + 2.5 * gap
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    loss.backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())


# ---------------------------------------------------------------------------------- balanced sampling
def test_balanced_epoch_gives_every_group_an_equal_share_and_is_reproducible() -> None:
    groups = np.array([0] * 70 + [1] * 20 + [2] * 7)  # N = 97, G = 3: quotas 33/32/32
    batches = balanced_batches(groups, 16, torch.Generator().manual_seed(1))
    drawn = np.concatenate(batches)
    assert len(drawn) == 97 and [len(b) for b in batches] == [16] * 6 + [1]
    assert all((np.diff(b) >= 0).all() for b in batches)  # sorted within a batch
    shares = np.bincount(groups[drawn], minlength=3)
    assert shares.sum() == 97 and shares.max() - shares.min() <= 1
    times = np.bincount(drawn, minlength=97)
    for g, n_g in ((0, 70), (1, 20), (2, 7)):
        q = shares[g]
        assert set(times[groups == g]) <= {q // n_g, -(-q // n_g)}, g  # floor or ceil of quota / n_g
    again = balanced_batches(groups, 16, torch.Generator().manual_seed(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    other = balanced_batches(groups, 16, torch.Generator().manual_seed(2))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other, strict=True))


# ------------------------------------------------------------------------------------------ factory
def test_training_loss_picks_the_mitigation_and_refuses_what_it_cannot_do() -> None:
    cw, y = torch.ones(2), np.array([0, 1, 0, 1])
    codes = np.array([0, 0, 1, 1])

    def make(mitigation: str, **kw: object) -> TrainingLoss:
        cfg = FinetuneConfig(mitigation=mitigation, mitigation_attributes=["sex"])  # type: ignore[arg-type]
        args: dict = {"groups": codes, "group_names": ["f", "m"], "y": y, "n_classes": 2, **kw}
        return training_loss(cfg, cw, **args)

    assert type(make("none")) is TrainingLoss and type(make("balanced")) is TrainingLoss
    assert type(make("thresholds")) is TrainingLoss
    assert isinstance(make("reweigh"), Reweighed) and isinstance(make("penalty"), FairnessPenalty)
    dro = make("group_dro")
    assert isinstance(dro, GroupDRO) and dro.eta == 0.01  # the documented default
    with pytest.raises(ValueError, match="'reweigh' needs the training windows' groups"):
        make("reweigh", groups=None)
    with pytest.raises(ValueError, match="'penalty' needs a binary task; this one has 3 classes"):
        make("penalty", n_classes=3)


# ------------------------------------------------------------------------------------------- config
def _finetune(**kw: object) -> FinetuneConfig:
    return build_config({"finetune": kw}).finetune


def test_config_defaults_and_option_resolution() -> None:
    cfg = _finetune()
    assert (cfg.mitigation, cfg.mitigation_attributes, cfg.mitigation_options) == ("none", [], {})
    assert cfg.mitigation_settings() == {}
    pen = _finetune(mitigation="penalty", mitigation_attributes=["sex"], mitigation_options={"lambda": 3})
    assert pen.mitigation_settings() == {"lambda": 3, "relaxation": "demographic_parity"}
    thr = _finetune(mitigation="thresholds", mitigation_attributes=["sex", "race"])
    assert thr.mitigation_settings() == {"rate": "tpr"}
    # a `none` cell of a grid accepts (and ignores) the options the other cells use
    assert _finetune(mitigation_options={"eta": 0.1}).mitigation_settings() == {}


@pytest.mark.parametrize(
    ("finetune", "message"),
    [
        ({"mitigation": "reweigh"}, r"'reweigh' needs finetune.mitigation_attributes.*= \[\"sex\"\]"),
        ({"mitigation": "balanced", "mitigation_attributes": ["sex", "sex"]}, "lists an attribute twice"),
        (
            {"mitigation": "penalty", "mitigation_attributes": ["sex"], "mitigation_options": {"eta": 1}},
            r"has \['eta'\], which mitigation 'penalty' does not take; allowed keys: lambda, relaxation",
        ),
        (
            {"mitigation": "reweigh", "mitigation_attributes": ["sex"], "mitigation_options": {"eta": 1}},
            r"which mitigation 'reweigh' does not take; allowed keys: none",
        ),
        ({"mitigation_options": {"step": 1}}, r"allowed keys: eta, lambda, rate, relaxation"),
        (
            {"mitigation": "group_dro", "mitigation_attributes": ["sex"], "mitigation_options": {"eta": 0}},
            r"mitigation_options.eta must be a number > 0 \(got 0\)",
        ),
        (
            {"mitigation": "penalty", "mitigation_attributes": ["s"], "mitigation_options": {"lambda": "x"}},
            r"mitigation_options.lambda must be a number >= 0 \(got 'x'\)",
        ),
        (
            {
                "mitigation": "penalty",
                "mitigation_attributes": ["s"],
                "mitigation_options": {"relaxation": "dp"},
            },
            r"relaxation must be 'demographic_parity' or 'equalized_odds' \(got 'dp'\)",
        ),
        (
            {
                "mitigation": "thresholds",
                "mitigation_attributes": ["s"],
                "mitigation_options": {"rate": "fpr"},
            },
            r"rate must be 'tpr' or 'selection' \(got 'fpr'\)",
        ),
        ({"mitigation": "dro"}, r"finetune.mitigation.*'group_dro'"),
    ],
)
def test_config_messages(finetune: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config({"finetune": finetune})


def test_a_grid_over_mitigations_validates_every_cell() -> None:
    from fairssl.experiments.grid import variants

    cfg = build_config(
        {
            "finetune": {"mitigation_attributes": ["sex"], "mitigation_options": {"eta": 0.2}},
            "grid": {"finetune.mitigation": ["none", "group_dro"]},
        }
    )
    settings = [v.config.finetune.mitigation_settings() for v in variants(cfg)]
    assert settings == [{}, {"eta": 0.2}]
    with pytest.raises(ConfigError, match="'penalty' does not take"):
        build_config({**cfg.to_dict(), "grid": {"finetune.mitigation": ["group_dro", "penalty"]}})
