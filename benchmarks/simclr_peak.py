"""How close the SimCLR step comes to this machine's fp32 matmul peak, and where the rest of the time goes.

    python benchmarks/simclr_peak.py             # MIMIC shape: C=76, T=48, batch 128 (two views), paper sizes
    python benchmarks/simclr_peak.py --quick     # smoke size
    python benchmarks/simclr_peak.py --device cuda

Measured in one process, with the same threads:

1. *peak*: the best rate of a square fp32 matmul (``torch.mm``, n = 1024 on CPU, 4096 on a GPU), in
   GFLOP/s = 2 n^3 / seconds. The ceiling of dense fp32 arithmetic on this machine today.
2. *work*: the floating-point operations of one SimCLR step (both views' encoder and projection, NT-Xent,
   backward), counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products,
   forward and backward; element-wise work is not counted, so the achieved rate is a lower bound).
3. *achieved*: work / best step time, for the full step (``default`` augmentations) and with the
   augmentation replaced by the identity; printed as GFLOP/s and as a share of the peak (target: 50%).
4. *profile*: ``torch.profiler`` over a few full steps, the operators by self time: where the time that is
   not dense arithmetic goes (augmentation, element-wise ops, small-kernel convolution overheads, the
   optimiser).
5. *per layer*: each convolution of the encoder alone (forward + backward on a two-view batch; no input
   gradient for the first, whose input is data) against the same work as plain matrix products of the
   im2col shapes (forward and weight gradient; input gradient for later layers): how far each layer is from
   what the BLAS reaches on its own shapes, which is the ceiling an implementation of this encoder has.

A share far below 50% with convolutions dominating the profile means the kernels are too small for the
BLAS to reach its peak (the paper's encoder has 32-96 channels and windows of 3-25 steps after pooling);
a large augmentation or element-wise share means the step is memory-bound, not compute-bound.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from pretrain import BATCH, MODEL, C, T, objective_step, sync


def matmul_peak(device: torch.device, n: int, reps: int, rounds: int) -> float:
    """Best fp32 GFLOP/s of ``reps`` n x n matmuls over ``rounds``."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, generator=g, device=device)
    b = torch.randn(n, n, generator=g, device=device)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(rounds):
        sync(device)
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        sync(device)
        best = min(best, (time.perf_counter() - start) / reps)
    return 2 * n**3 / best / 1e9


def step_flops(step: Callable[[Tensor], float], batch: Tensor) -> int:
    """Floating-point operations of one call of ``step`` (matmuls and convolutions, forward and backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step(batch)
    return int(counter.get_total_flops())


def best_seconds(
    step: Callable[[Tensor], float], pool: Tensor, n_steps: int, rounds: int, device: torch.device
) -> float:
    """Best mean seconds per step over ``rounds`` of ``n_steps`` steps cycling through ``pool``."""
    best = float("inf")
    for _ in range(rounds):
        sync(device)
        start = time.perf_counter()
        for i in range(n_steps):
            step(pool[i % pool.shape[0]])
        sync(device)
        best = min(best, (time.perf_counter() - start) / n_steps)
    return best


def conv_layers(n: int, device: torch.device) -> list[tuple[int, int, int, int, int]]:
    """(N, C_in, T_in, C_out, K) of each convolution of the paper's encoder on ``n`` windows (valid
    padding, max-pooling halves nothing: the paper's encoder uses stride-1 convolutions only)."""
    out, channels, steps = [], C, T
    for width, kernel in zip(MODEL.widths, MODEL.kernels, strict=True):
        out.append((n, channels, steps, width, kernel))
        channels, steps = width, steps - kernel + 1
    return out


def gemm_rate(m: int, k: int, n: int, device: torch.device, reps: int) -> float:
    """Best GFLOP/s of an (m x k) @ (k x n) fp32 product."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    torch.mm(a, b)
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    sync(device)
    return 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9


def layer_report(device: torch.device, reps: int) -> None:
    """Print each convolution's GFLOP/s against its im2col GEMMs' (see the module docstring, item 5)."""
    print("\nper convolution (two views), fwd + bwd, against the same work as matrix products:")
    for i, (n, c, t, o, k) in enumerate(conv_layers(2 * BATCH, device)):
        t_out = t - k + 1
        x = torch.randn(n, c, t, device=device, requires_grad=i > 0)
        w = torch.randn(o, c, k, device=device, requires_grad=True)
        torch.nn.functional.conv1d(x, w).square().sum().backward()
        sync(device)
        start = time.perf_counter()
        for _ in range(reps):
            torch.nn.functional.conv1d(x, w).square().sum().backward()
        sync(device)
        seconds = (time.perf_counter() - start) / reps
        gemm = 2 * n * t_out * c * k * o  # one product of the im2col shapes
        products = [(n * t_out, c * k, o), (c * k, n * t_out, o)] + ([(n * t_out, o, c * k)] if i > 0 else [])
        rates = [gemm_rate(m, kk, nn, device, reps) for m, kk, nn in products]
        ceiling = len(products) / sum(1 / r for r in rates)  # the products one after the other
        print(
            f"  conv{i + 1} ({c}->{o}, K={k}, T={t}): {gemm * len(products) / seconds / 1e9:7.1f} GFLOP/s; "
            f"im2col GEMMs {', '.join(f'{r:.0f}' for r in rates)} GFLOP/s (together {ceiling:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke size (few steps and rounds)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_steps, rounds = (2, 2) if args.quick else (10, 5)
    n = 4096 if device.type == "cuda" else 1024
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print(f"SimCLR step: batch {BATCH} windows of C={C} x T={T} (two views), the paper's encoder and head")

    g = torch.Generator(device=device).manual_seed(0)
    pool = torch.randn(4, BATCH, C, T, generator=g, device=device)
    full = objective_step("simclr", MODEL, device, augment=True, generator=g)
    bare = objective_step("simclr", MODEL, device, augment=False, generator=g)
    full(pool[0])
    bare(pool[0])
    flops = step_flops(bare, pool[0])
    peak = matmul_peak(device, n, reps=3 if args.quick else 20, rounds=rounds)
    t_full = best_seconds(full, pool, n_steps, rounds, device)
    t_bare = best_seconds(bare, pool, n_steps, rounds, device)
    peak_again = matmul_peak(device, n, reps=3 if args.quick else 20, rounds=rounds)  # the machine may drift
    peak = max(peak, peak_again)

    print(f"\nfp32 matmul peak (n = {n}): {peak:8.1f} GFLOP/s")
    print(f"work of one step (matmul + conv, fwd + bwd): {flops / 1e9:8.2f} GFLOP")
    for name, t in (("full step (default augmentations)", t_full), ("step without augmentation", t_bare)):
        rate = flops / t / 1e9
        print(f"{name:36s} {t * 1e3:8.1f} ms  {rate:8.1f} GFLOP/s  {rate / peak:6.1%} of peak (target 50%)")
    print(f"augmentation's share of the full step: {max(t_full - t_bare, 0.0) / t_full:6.1%}")

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for i in range(n_steps):
            full(pool[i % pool.shape[0]])
        sync(device)
    layer_report(device, reps=3 if args.quick else 10)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\nprofile of {n_steps} full steps, operators by self CPU time (share of {total / 1e3:.0f} ms):")
    for e in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:14]:
        print(
            f"  {e.key[:48]:48s} {e.self_cpu_time_total / 1e3:9.1f} ms  {e.self_cpu_time_total / total:6.1%}"
        )


if __name__ == "__main__":
    main()
