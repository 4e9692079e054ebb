"""Throughput of one pre-training step of every objective and encoder architecture against a model-only
step, measured in one run.

    python benchmarks/pretrain.py            # MIMIC shape: C=76, T=48, batch 128, paper sizes
    python benchmarks/pretrain.py --quick    # smoke size
    python benchmarks/pretrain.py --methods simclr byol --archs cnn transformer --device cuda

Every architecture (:data:`fairssl.ssl.encoders.ARCHITECTURES`) is built with the paper's sizes (widths
32/64/96, kernels 24/16/8; the transformer: patches of 8 steps, 4 heads). Per architecture and method
(:data:`fairssl.ssl.objectives.OBJECTIVES`) three steps are timed on batches of 128 windows:

- *model only*: encoder forward + backward on one batch (one view) with a dummy loss (the mean of the
  representation), SGD step. The floor every objective pays at least once per batch.
- *objective, no augmentation*: the objective's full step (``objective.loss``, backward, SGD step,
  ``after_step``) with the augmentation replaced by the identity: what the objective's heads, extra
  passes (two views, BYOL's target) and loss cost. Same as the full step for ``masked`` (no views).
- *full*: the objective's step as pre-training runs it (``pretrain.augmentation = "default"``).

Printed per architecture and method: windows/s of each, and the ratios full / model-only (of the same
architecture) (1/ratio = how many
model-only steps one pre-training step costs; two views alone make it about 0.5) and
full / no-augmentation (the share of the step left after augmenting; 1 for ``masked``). Steps of
every kind alternate in rounds (the machine may be shared); each rate is the best over the rounds.
Batches cycle through a pool of windows. Torch runs with its default thread count (printed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor

from fairssl.config import ModelConfig, PretrainConfig
from fairssl.ssl.augment import build_augmentation
from fairssl.ssl.encoders import ARCHITECTURES
from fairssl.ssl.objectives import OBJECTIVES, build_objective
from fairssl.ssl.pretrain import build_encoder

C, T, BATCH = 76, 48, 128
MODEL = ModelConfig()  # the paper's encoder (32/64/96, kernels 24/16/8) and projection 256-128-50


def arch_model(arch: str) -> ModelConfig:
    """The paper's sizes with ``model.arch = arch``."""
    return MODEL.model_copy(update={"arch": arch})


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_only_step(model: ModelConfig, device: torch.device) -> Callable[[Tensor], float]:
    """Encoder forward + backward on one view with a dummy loss (mean representation), SGD step."""
    torch.manual_seed(1)
    encoder = build_encoder(model, C, T).to(device)
    encoder.train()
    optimiser = torch.optim.SGD(encoder.parameters(), lr=0.01)

    def step(x: Tensor) -> float:
        loss = encoder(x).mean()  # (B, D) -> scalar
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return float(loss.detach())

    return step


def objective_step(
    method: str, model: ModelConfig, device: torch.device, *, augment: bool, generator: torch.Generator
) -> Callable[[Tensor], float]:
    """One pre-training step of ``method`` as :func:`fairssl.ssl.pretrain.pretrain` runs it."""
    torch.manual_seed(1)
    encoder = build_encoder(model, C, T).to(device)
    config = PretrainConfig(method=method, augmentation="default")
    objective = build_objective(method, encoder, model=model, config=config, window_shape=(C, T))
    if not augment and hasattr(objective, "augmentation"):
        objective.augmentation = build_augmentation("none")  # the identity: views are the batch itself
    optimiser = torch.optim.SGD([*encoder.parameters(), *objective.parameters()], lr=0.01)
    encoder.train()
    objective.train()

    def step(x: Tensor) -> float:
        loss = objective.loss(encoder, x, generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        objective.after_step(encoder)
        return float(loss.detach())

    return step


def rate(fn: Callable[[Tensor], float], pool: Tensor, n_steps: int, device: torch.device) -> float:
    """Windows per second of ``n_steps`` calls of ``fn`` on batches cycling through ``pool``."""
    sync(device)
    start = time.perf_counter()
    for i in range(n_steps):
        fn(pool[i % pool.shape[0]])
    sync(device)
    return n_steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke size (few steps, two rounds)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--methods", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    parser.add_argument("--archs", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_batches, n_steps, rounds = (3, 3, 2) if args.quick else (8, 10, 5)

    source = "torch default" if args.threads == 0 else "--threads"
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()} ({source})")
    print(f"batch {BATCH} windows of C={C} x T={T}; paper sizes; {rounds} rounds of {n_steps} steps")

    generator = torch.Generator(device=device).manual_seed(0)
    pool = torch.randn(n_batches, BATCH, C, T, generator=generator, device=device)  # (batches, B, C, T)
    steps: dict[tuple[str, str], Callable[[Tensor], float]] = {}
    for arch in args.archs:
        model = arch_model(arch)
        steps[(arch, "model only")] = model_only_step(model, device)
        for method in args.methods:
            bare = objective_step(method, model, device, augment=False, generator=generator)
            steps[(arch, f"{method} no-aug")] = bare
            steps[(arch, method)] = objective_step(method, model, device, augment=True, generator=generator)
    for fn in steps.values():
        fn(pool[0])  # warm-up
    best = dict.fromkeys(steps, 0.0)
    for _ in range(rounds):
        for name, fn in steps.items():
            best[name] = max(best[name], rate(fn, pool, n_steps, device))

    print("\nmodel only = encoder, one view, dummy loss; ratios against the same architecture's\n")
    print(f"{'arch':<12} {'method':<11} {'full w/s':>10} {'no-aug w/s':>11}", end="")
    print(f" {'full/model':>11} {'full/no-aug':>12}")
    for arch in args.archs:
        model_rate = best[(arch, "model only")]
        print(f"{arch:<12} {'model only':<11} {model_rate:>10,.0f}")
        for method in args.methods:
            full, bare = best[(arch, method)], best[(arch, f"{method} no-aug")]
            ratios = f"{full / model_rate:>11.2f} {full / bare:>12.2f}"
            print(f"{arch:<12} {method:<11} {full:>10,.0f} {bare:>11,.0f} {ratios}")


if __name__ == "__main__":
    main()
