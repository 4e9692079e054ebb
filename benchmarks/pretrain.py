"""Throughput of the full SimCLR pre-training step against the model-only step, measured in one run.

    python benchmarks/pretrain.py            # MIMIC shape: C=76, T=48, batch 128, "default" preset
    python benchmarks/pretrain.py --quick    # smoke size

Full step: draw two views of a batch with the "default" augmentation preset, encoder + projection head
on both views (one forward pass of the 2B stacked views), NT-Xent (temperature 0.1), backward, SGD
step. Model-only step: the same forward/backward/optimiser on two pre-made views. The fraction
full / model-only says how much augmenting costs; target >= 0.7 (augmentation takes at most ~30% of
a step). Batches cycle through a pool of windows so the augmentation sees fresh inputs. Steps of the
two kinds alternate in rounds (the machine may be shared); each rate is the best over the rounds and
the fraction is best full / best model-only (the median of the per-round fractions is printed too).
Torch runs with its default thread count (printed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from fairssl.ssl.augment import build_augmentation, make_views
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.ntxent import nt_xent

C, T, BATCH = 76, 48, 128


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_model_step(device: torch.device, seed: int) -> Callable[[Tensor, Tensor], float]:
    """SGD step on two views (B, C, T): encoder + projection on both, NT-Xent, backward, update."""
    torch.manual_seed(seed)
    encoder = Encoder(C, n_steps=T).to(device)
    head = ProjectionHead(encoder.out_dim).to(device)
    optimiser = torch.optim.SGD([*encoder.parameters(), *head.parameters()], lr=0.1)

    def step(v1: Tensor, v2: Tensor) -> float:
        b = v1.shape[0]
        z = head(encoder(torch.cat([v1, v2])))  # (2B, 50)
        loss = nt_xent(z[:b], z[b:], temperature=0.1)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return float(loss.detach())

    return step


def rate(fn: Callable[[int], object], n_steps: int, device: torch.device) -> float:
    """Windows per second of ``n_steps`` calls ``fn(i)``, each on one batch of BATCH windows."""
    sync(device)
    start = time.perf_counter()
    for i in range(n_steps):
        fn(i)
    sync(device)
    return n_steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke size (few steps, one round)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_batches, n_steps, rounds = (4, 3, 2) if args.quick else (16, 10, 10)

    source = "torch default" if args.threads == 0 else "--threads"
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()} ({source})")
    print(f"batch {BATCH} windows of C={C} x T={T}; preset 'default'; {rounds} rounds of {n_steps} steps")

    generator = torch.Generator(device=device).manual_seed(0)
    pool = torch.randn(n_batches, BATCH, C, T, generator=generator, device=device)  # (batches, B, C, T)
    augmentation = build_augmentation("default")
    views = [make_views(pool[i], augmentation, generator=generator) for i in range(n_batches)]

    full_step = make_model_step(device, seed=1)
    model_step = make_model_step(device, seed=1)

    def full(i: int) -> object:
        v1, v2 = make_views(pool[i % n_batches], augmentation, generator=generator)
        return full_step(v1, v2)

    def model_only(i: int) -> object:
        v1, v2 = views[i % n_batches]
        return model_step(v1, v2)

    full(0)  # warm-up
    model_only(0)
    full_rates, model_rates = [], []
    for _ in range(rounds):
        model_rates.append(rate(model_only, n_steps, device))
        full_rates.append(rate(full, n_steps, device))
    fractions = [f / m for f, m in zip(full_rates, model_rates, strict=True)]
    fraction = max(full_rates) / max(model_rates)
    print(f"\n{'step':<34} {'windows/s':>10}")
    print(f"{'model only (pre-made views)':<34} {max(model_rates):>10,.0f}")
    print(f"{'full (augment + model)':<34} {max(full_rates):>10,.0f}")
    print(
        f"fraction full / model-only: {fraction:.2f} (best rates; per-round median "
        f"{float(np.median(fractions)):.2f}, range {min(fractions):.2f}-{max(fractions):.2f}); "
        "target >= 0.7: " + ("met" if fraction >= 0.7 else "NOT met")
    )


if __name__ == "__main__":
    main()
