"""The objectives' losses against hand-written loops, their hooks, and the checking of their options."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from fairssl.config import ModelConfig, PretrainConfig, build_config
from fairssl.errors import ConfigError, DataError
from fairssl.runtime import seed_everything
from fairssl.ssl.augment import make_views
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.ntxent import nt_xent
from fairssl.ssl.objectives import OBJECTIVES, build_objective, check_objective_options, objective_class
from fairssl.ssl.objectives.byol import byol_loss, ema_update
from fairssl.ssl.objectives.masked import feature_map, masked_mse, patch_mask
from fairssl.ssl.objectives.vicreg import vicreg_loss
from fairssl.ssl.pretrain import build_encoder

MODEL = ModelConfig(widths=[8, 8], kernels=[5, 3], projection=[16, 8])
C, T = 3, 24


def built(method: str, **options: float) -> tuple[Encoder, Any]:
    seed_everything(0)
    encoder = build_encoder(MODEL, C, T)
    config = PretrainConfig(method=method, objective=options, augmentation="default")
    return encoder, build_objective(method, encoder, model=MODEL, config=config, window_shape=(C, T))


# --------------------------------------------------------------------------------------------- VICReg
def vicreg_oracle(z1: list[list[float]], z2: list[list[float]], lam: float, mu: float, nu: float) -> float:
    gamma, eps = 1.0, 1e-4
    b, p = len(z1), len(z1[0])

    def mean(z: list[list[float]], j: int) -> float:
        return sum(z[i][j] for i in range(b)) / b

    def variance(z: list[list[float]]) -> float:
        total = 0.0
        for j in range(p):
            var = sum((z[i][j] - mean(z, j)) ** 2 for i in range(b)) / (b - 1)
            total += max(0.0, gamma - math.sqrt(var + eps))
        return total / p

    def covariance(z: list[list[float]]) -> float:
        total = 0.0
        for j in range(p):
            for k in range(p):
                if j != k:
                    cov = sum((z[i][j] - mean(z, j)) * (z[i][k] - mean(z, k)) for i in range(b)) / (b - 1)
                    total += cov**2
        return total / p

    invariance = sum((z1[i][j] - z2[i][j]) ** 2 for i in range(b) for j in range(p)) / (b * p)
    return lam * invariance + mu * (variance(z1) + variance(z2)) / 2 + nu * (covariance(z1) + covariance(z2))


@pytest.mark.parametrize(("lam", "mu", "nu"), [(25.0, 25.0, 1.0), (1.0, 3.0, 0.5)])
def test_vicreg_matches_a_loop_over_dimensions_and_pairs(lam: float, mu: float, nu: float) -> None:
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([0.3, 2.0, 0.8, 1.5], dtype=torch.float64)  # some columns under gamma = 1
    z1 = torch.randn(6, 4, generator=g, dtype=torch.float64) * scales
    z2 = z1 + 0.3 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    got = vicreg_loss(z1, z2, invariance_weight=lam, variance_weight=mu, covariance_weight=nu).item()
    assert abs(got - vicreg_oracle(z1.tolist(), z2.tolist(), lam, mu, nu)) < 1e-10


def test_vicreg_of_collapsed_embeddings_is_the_variance_hinge() -> None:
    z = torch.ones(8, 5, dtype=torch.float64)
    assert math.isclose(vicreg_loss(z, z).item(), 25.0 * (1.0 - math.sqrt(1e-4)), rel_tol=1e-12)
    with pytest.raises(DataError, match="B >= 2"):
        vicreg_loss(z[:1], z[:1])


# ----------------------------------------------------------------------------------------------- BYOL
def test_byol_loss_is_two_minus_two_cosine_and_stops_the_target_gradient() -> None:
    g = torch.Generator().manual_seed(1)
    p = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    expected = 0.0
    for a, b in zip(p.tolist(), t.tolist(), strict=True):
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        expected += 2.0 - 2.0 * dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
    loss = byol_loss(p, t)
    assert abs(loss.item() - expected / 5) < 1e-12
    loss.backward()
    assert p.grad is not None and t.grad is None
    assert byol_loss(p, 3.0 * p).item() < 1e-12  # aligned: 0, whatever the scale


def test_ema_update_follows_the_formula() -> None:
    torch.manual_seed(0)
    target, online = nn.Linear(3, 2), nn.Linear(3, 2)
    before = [q.detach().clone() for q in target.parameters()]
    ema_update(target, online, tau=0.9)
    for old, new, o in zip(before, target.parameters(), online.parameters(), strict=True):
        for a, b, c in zip(old.flatten().tolist(), new.flatten().tolist(), o.flatten().tolist(), strict=True):
            assert abs(b - (0.9 * a + 0.1 * c)) < 1e-6


def test_byol_objective_pairs_each_prediction_with_the_other_views_target() -> None:
    encoder, objective = built("byol", tau=0.5)
    encoder.eval()
    objective.train(False)
    x = torch.randn(6, C, T, generator=torch.Generator().manual_seed(2))
    gen = torch.Generator().manual_seed(3)
    got = objective.loss(encoder, x, gen)
    v1, v2 = make_views(x, objective.augmentation, generator=torch.Generator().manual_seed(3))
    online = objective.trainable
    target = objective.frozen

    def pred(v: torch.Tensor) -> torch.Tensor:
        return online["predictor"](online["projector"](encoder(v)))

    def targ(v: torch.Tensor) -> torch.Tensor:
        return target["projector"](target["encoder"](v))

    expected = byol_loss(pred(v1), targ(v2)) + byol_loss(pred(v2), targ(v1))
    assert torch.allclose(got, expected, atol=1e-6)
    assert 0.0 <= got.item() <= 8.0


def test_byol_target_is_a_frozen_copy_moved_by_after_step() -> None:
    encoder, objective = built("byol", tau=0.75)
    target = objective.frozen["encoder"]
    assert all(not q.requires_grad for q in target.parameters())
    ids = {id(q) for q in objective.parameters()}
    assert not ids & {id(q) for q in target.parameters()}  # never given to the optimiser
    for a, b in zip(target.parameters(), encoder.parameters(), strict=True):
        assert torch.equal(a, b)  # starts as a copy
    old = [q.detach().clone() for q in target.parameters()]
    with torch.no_grad():
        for q in encoder.parameters():
            q.add_(1.0)
    objective.after_step(encoder)
    for o, new, e in zip(old, target.parameters(), encoder.parameters(), strict=True):
        assert torch.allclose(new, 0.75 * o + 0.25 * e, atol=1e-6)
    assert "encoder.conv1.0.weight" in objective.state_dict()["frozen"]  # checkpointed


# --------------------------------------------------------------------------------------------- masked
def test_patch_mask_masks_whole_patches_at_the_configured_ratio() -> None:
    gen = torch.Generator().manual_seed(0)
    mask = patch_mask(50, 20, mask_ratio=0.5, patch_length=8, generator=gen)  # patches 8, 8, 4
    assert mask.shape == (50, 20) and mask.dtype == torch.bool
    for row in mask.tolist():
        patches = [row[0:8], row[8:16], row[16:20]]
        assert all(len(set(p)) == 1 for p in patches)  # a patch is masked whole or not at all
        assert sum(p[0] for p in patches) == 2  # round(0.5 * 3) = 2 (halves up)
    assert len({tuple(r) for r in mask.tolist()}) > 1  # drawn per window
    tiny = patch_mask(4, 20, mask_ratio=0.01, patch_length=4, generator=gen)  # at least one patch masked
    full = patch_mask(4, 20, mask_ratio=0.99, patch_length=4, generator=gen)  # at least one visible
    assert (tiny.sum(dim=1) == 4).all() and (full.sum(dim=1) == 16).all()


def test_masked_mse_counts_masked_positions_only() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 2, 5, generator=g, dtype=torch.float64)
    rec = torch.randn(3, 2, 5, generator=g, dtype=torch.float64)
    mask = torch.rand(3, 5, generator=g) < 0.5
    mask[0, 0] = True
    total, n = 0.0, 0
    for b in range(3):
        for c in range(2):
            for t in range(5):
                if mask[b, t]:
                    total += (rec[b, c, t].item() - x[b, c, t].item()) ** 2
                    n += 1
    assert abs(masked_mse(rec, x, mask).item() - total / n) < 1e-12
    perfect_where_masked = torch.where(mask[:, None, :], x, x + 100.0)
    assert masked_mse(perfect_where_masked, x, mask).item() == 0.0


def test_masked_objective_hides_the_patches_and_scores_them() -> None:
    encoder, objective = built("masked", mask_ratio=0.5, patch_length=8)
    encoder.eval()
    objective.train(False)
    x = torch.randn(5, C, T, generator=torch.Generator().manual_seed(5))
    got = objective.loss(encoder, x, torch.Generator().manual_seed(6))
    mask = patch_mask(5, T, mask_ratio=0.5, patch_length=8, generator=torch.Generator().manual_seed(6))
    hidden = x.clone()
    for b in range(5):
        for t in range(T):
            if mask[b, t]:
                hidden[b, :, t] = 0.0
    rec = objective.trainable["decoder"](feature_map(encoder, hidden))
    assert rec.shape == x.shape
    assert torch.equal(feature_map(encoder, x).amax(dim=2), encoder(x))  # the encoder before its pool
    assert torch.allclose(got, masked_mse(rec, x, mask), atol=1e-7)


# --------------------------------------------------------------------------------------------- SimCLR
def test_simclr_objective_is_nt_xent_of_two_views() -> None:
    encoder, objective = built("simclr")
    encoder.eval()
    objective.train(False)
    x = torch.randn(6, C, T, generator=torch.Generator().manual_seed(7))
    got = objective.loss(encoder, x, torch.Generator().manual_seed(8))
    v1, v2 = make_views(x, objective.augmentation, generator=torch.Generator().manual_seed(8))
    head = objective.trainable["head"]
    assert torch.equal(got, nt_xent(head(encoder(v1)), head(encoder(v2)), temperature=0.1))


@pytest.mark.parametrize("method", sorted(OBJECTIVES))
def test_state_dict_round_trip_restores_every_module(method: str) -> None:
    _, a = built(method)
    torch.manual_seed(99)  # different initial weights
    encoder_b = build_encoder(MODEL, C, T)
    config = PretrainConfig(method=method, augmentation="default")
    b = build_objective(method, encoder_b, model=MODEL, config=config, window_shape=(C, T))
    b.load_state_dict(a.state_dict())
    for part in ("trainable", "frozen"):
        sa, sb = a.state_dict()[part], b.state_dict()[part]
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.parameters(), "every objective trains a head"


# -------------------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("method", "options", "match"),
    [
        (
            "masked",
            {"mask_ratoi": 0.5},
            r"key 'mask_ratoi' is not an option of .*'masked'; allowed: "
            r"decoder_hidden, mask_ratio, patch_length$",
        ),
        ("simclr", {"tau": 0.9}, r"allowed: none \(leave pretrain.objective empty\)"),
        (
            "masked",
            {"mask_ratio": 1.0},
            r"mask_ratio of .* must be a number in \(0, 1\), got 1.0",
        ),
        ("masked", {"patch_length": 2.5}, r"patch_length .* must be an integer in \[1, inf\), got 2.5"),
        ("byol", {"tau": True}, r"tau .* must be a number in \[0, 1\), got True"),
        ("vicreg", {"gamma": 0}, r"gamma .* in \(0, inf\)"),
        ("vicreg", {"eps": float("nan")}, r"eps .* got nan"),
    ],
)
def test_bad_options_give_one_line_naming_the_key(method: str, options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        check_objective_options(method, options)
    assert "\n" not in str(err.value)


def test_options_resolve_on_top_of_the_defaults() -> None:
    assert check_objective_options("masked", {"mask_ratio": 0.25}) == {
        "mask_ratio": 0.25,
        "patch_length": 8,
        "decoder_hidden": 256,
    }
    assert check_objective_options("byol", {}) == {"tau": 0.99}
    with pytest.raises(ConfigError, match=r"unknown pretrain.method 'mae'; allowed: simclr, vicreg"):
        objective_class("mae")


def test_the_config_checks_the_options_of_its_method() -> None:
    cfg = build_config({"pretrain": {"method": "masked", "objective": {"mask_ratio": 0.3}}})
    assert cfg.pretrain.method == "masked" and cfg.pretrain.objective == {"mask_ratio": 0.3}
    assert build_config({}).pretrain.method == "simclr" and build_config({}).pretrain.objective == {}
    with pytest.raises(ConfigError, match=r"'pretrain'.*'mask_ratio' is not an option of pretrain.method"):
        build_config({"pretrain": {"objective": {"mask_ratio": 0.3}}})  # simclr takes none
    with pytest.raises(ConfigError, match=r"pretrain.method"):
        build_config({"pretrain": {"method": "mae"}})


def test_masked_needs_two_patches_per_window() -> None:
    seed_everything(0)
    encoder = build_encoder(MODEL, C, T)
    config = PretrainConfig(method="masked", objective={"patch_length": 24})
    with pytest.raises(ConfigError, match=r"patch_length = 24 .* 24 steps .* use patch_length <= 12"):
        build_objective("masked", encoder, model=MODEL, config=config, window_shape=(C, T))


def test_objective_registries_agree() -> None:
    """One name set: the config's Literal, the objectives registry and the torch-free option tables."""
    from typing import get_args

    from fairssl.config import PretrainConfig
    from fairssl.objective_options import OBJECTIVE_OPTIONS
    from fairssl.ssl.objectives import OBJECTIVES

    literal = set(get_args(PretrainConfig.model_fields["method"].annotation))
    assert literal == set(OBJECTIVES) == set(OBJECTIVE_OPTIONS)
    for name, cls in OBJECTIVES.items():
        assert cls.options is OBJECTIVE_OPTIONS[name] or (not cls.options and not OBJECTIVE_OPTIONS[name])


def test_config_checks_objective_options_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fairssl.config import build_config\n"
        "from fairssl.errors import ConfigError\n"
        "build_config({'pretrain': {'method': 'masked', 'objective': {'mask_ratio': 0.3}}})\n"
        "try:\n"
        "    build_config({'pretrain': {'method': 'byol', 'objective': {'mask_ratio': 0.3}}})\n"
        "except ConfigError as e:\n"
        "    print('refused:', e)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "refused:" in out and "mask_ratio" in out and "tau" in out
    assert out.strip().endswith("False")
