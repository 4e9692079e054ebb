"""Oracle and property tests of fairssl.ssl.ntxent."""

from __future__ import annotations

import math

import pytest
import torch

from fairssl.errors import ConfigError, DataError
from fairssl.ssl.ntxent import NTXentLoss, nt_xent

torch.set_num_threads(1)


def loop_oracle(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """NT-Xent written from the SimCLR paper's definition with plain Python loops in float64."""
    rows = [[float(v) for v in r] for r in torch.cat([z1, z2]).double()]
    rows = [[v / math.sqrt(sum(u * u for u in r)) for v in r] for r in rows]
    n = len(rows)
    b = n // 2

    def sim(i: int, j: int) -> float:
        return sum(a * c for a, c in zip(rows[i], rows[j], strict=True)) / temperature

    total = 0.0
    for i in range(n):
        positive = (i + b) % n
        denominator = sum(math.exp(sim(i, j)) for j in range(n) if j != i)
        total += -math.log(math.exp(sim(i, positive)) / denominator)
    return total / n


def draw(b: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(2, b, d, generator=g, dtype=torch.float64)
    return z[0], z[1]


@pytest.mark.parametrize("b", [1, 2, 5, 16])
@pytest.mark.parametrize("temperature", [0.05, 0.1, 0.5, 2.0])
def test_matches_loop_oracle(b: int, temperature: float) -> None:
    z1, z2 = draw(b, 7, seed=b)
    z2 = z2 + 0.7 * z1  # correlated views so positives matter
    assert abs(nt_xent(z1, z2, temperature=temperature).item() - loop_oracle(z1, z2, temperature)) < 1e-6


def test_float32_matches_oracle() -> None:
    z1, z2 = draw(8, 50, seed=3)
    got = nt_xent(z1.float(), z2.float(), temperature=0.1).item()
    assert abs(got - loop_oracle(z1, z2, 0.1)) < 1e-4


def test_symmetric_in_the_views() -> None:
    z1, z2 = draw(9, 6, seed=1)
    assert torch.allclose(nt_xent(z1, z2), nt_xent(z2, z1), atol=1e-12)


def test_invariant_to_rescaling_rows() -> None:
    z1, z2 = draw(9, 6, seed=2)
    g = torch.Generator().manual_seed(0)
    s1 = torch.rand(9, 1, generator=g, dtype=torch.float64) * 10 + 0.1
    s2 = torch.rand(9, 1, generator=g, dtype=torch.float64) * 10 + 0.1
    assert torch.allclose(nt_xent(z1, z2), nt_xent(s1 * z1, s2 * z2), atol=1e-10)


def test_invariant_to_batch_order_and_rotation() -> None:
    z1, z2 = draw(10, 4, seed=4)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    assert torch.allclose(nt_xent(z1, z2), nt_xent(z1[perm], z2[perm]), atol=1e-10)
    assert torch.allclose(nt_xent(z1, z2), nt_xent(z1 @ q, z2 @ q), atol=1e-10)


def test_gradient_flows_to_both_views() -> None:
    z1, z2 = draw(6, 5, seed=5)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    nt_xent(z1, z2).backward()
    assert z1.grad is not None and z2.grad is not None
    assert bool(torch.isfinite(z1.grad).all()) and z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0


def test_aligned_separated_embeddings_beat_random_ones() -> None:
    b = 16
    eye = torch.eye(b, dtype=torch.float64)  # orthogonal, well separated
    aligned = nt_xent(eye, 3.0 * eye, temperature=0.1).item()
    z1, z2 = draw(b, b, seed=6)
    random = nt_xent(z1, z2, temperature=0.1).item()
    # positive cosine 1, negatives 0: -log(e^10 / (e^10 + (2B-2) e^0)), close to the ideal 0
    assert abs(aligned - math.log(1 + (2 * b - 2) * math.exp(-10))) < 1e-12
    assert random > aligned + 1.0
    swapped = nt_xent(eye, eye.roll(1, dims=0), temperature=0.1).item()  # positives orthogonal: bad
    assert swapped > random


def test_equal_similarities_give_log_2b_minus_1() -> None:
    z = torch.ones(5, 3, dtype=torch.float64)  # every similarity 1: the uniform guess
    assert abs(nt_xent(z, z).item() - math.log(2 * 5 - 1)) < 1e-12


def test_module_matches_function_and_validates() -> None:
    z1, z2 = draw(4, 3, seed=7)
    assert torch.equal(NTXentLoss(temperature=0.3)(z1, z2), nt_xent(z1, z2, temperature=0.3))
    assert "temperature=0.3" in repr(NTXentLoss(0.3))
    for bad in (0.0, -0.1, float("inf"), True):
        with pytest.raises(ConfigError, match=r"NT-Xent temperature must be a finite number > 0, got"):
            NTXentLoss(temperature=bad)
    with pytest.raises(ConfigError, match="got 0"):
        nt_xent(z1, z2, temperature=0)


def test_shape_errors() -> None:
    z = torch.zeros(4, 3)
    for a, b in (
        (z, torch.zeros(5, 3)),
        (z, torch.zeros(4, 2)),
        (torch.zeros(4), torch.zeros(4)),
        (z[:0], z[:0]),
    ):
        with pytest.raises(
            DataError, match=r"NT-Xent needs two projection batches of the same shape \(B, D\)"
        ):
            nt_xent(a, b)
