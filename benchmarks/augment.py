"""Throughput of each augmentation against the full SimCLR pre-training step, measured in one run.

    python benchmarks/augment.py            # MIMIC shape: N=1024 windows of C=76 x T=48
    python benchmarks/augment.py --quick    # smoke size

Prints one row per augmentation: windows/s at N windows per call and the ratio to the windows/s of
the pre-training step (batch 128: two views with the "default" preset, encoder and projection head on
both views, NT-Xent, backward, SGD step). Target: every augmentation >= 10x the step, so that
augmenting never limits pre-training. Also times a NumPy/SciPy per-window, per-channel loop of Um et
al.'s cubic-spline time warp (the reference style) on a few windows, for comparison with our
vectorised ``time_warp``. Torch runs with its default thread count (printed; torch uses the number
of physical cores unless OMP_NUM_THREADS/torch.set_num_threads says otherwise). The machine may be
shared: every timing is the best of several interleaved rounds (see ``best_seconds_per_call``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from fairssl.ssl.augment import AUGMENTATIONS, build_augmentation, make_views
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.ntxent import nt_xent

C, T, BATCH = 76, 48, 128
TRI_AXIAL = [(3 * g, 3 * g + 1, 3 * g + 2) for g in range(C // 3)]  # 25 triples, for timing only

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("noise", "noise", {"sigma": 0.05}),
    ("scaling", "scaling", {"sigma": 0.1}),
    ("negation", "negation", {"p": 0.5}),
    ("time_flip", "time_flip", {"p": 0.5}),
    ("channel_shuffle", "channel_shuffle", {}),
    ("time_segment_permutation", "time_segment_permutation", {"n_segments": 4}),
    ("time_warp", "time_warp", {}),
    ("time_warp per_channel (variant)", "time_warp", {"per_channel": True}),
    ("rotation_3d (25 triples)", "rotation_3d", {"tri_axial": TRI_AXIAL}),
    ("crop_resize", "crop_resize", {}),
    ("masking (time+channel)", "masking", {"time_fraction": 0.1, "channel_fraction": 0.1}),
]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds_per_call(
    items: dict[str, Callable[[], object]], device: torch.device, *, min_time: float, rounds: int
) -> dict[str, float]:
    """Best (lowest) mean time per call of each item over ``rounds`` interleaved rounds.

    In each round every item is repeated for at least ``min_time`` seconds, one item after another, so
    a burst of load from other processes hits all items alike; the minimum over rounds estimates the
    uncontended time of each.
    """
    best = dict.fromkeys(items, float("inf"))
    for fn in items.values():
        fn()  # warm-up
    sync(device)
    for _ in range(rounds):
        for name, fn in items.items():
            reps, start = 0, time.perf_counter()
            while True:
                fn()
                reps += 1
                sync(device)
                elapsed = time.perf_counter() - start
                if elapsed >= min_time:
                    break
            best[name] = min(best[name], elapsed / reps)
    return best


def make_step(device: torch.device, seed: int) -> Callable[[], object]:
    """One pre-training step on a batch of 128 MIMIC-shaped windows (the lead's pretrain loop, inlined)."""
    torch.manual_seed(seed)
    encoder = Encoder(C, n_steps=T).to(device)
    head = ProjectionHead(encoder.out_dim).to(device)
    optimiser = torch.optim.SGD([*encoder.parameters(), *head.parameters()], lr=0.1)
    augmentation = build_augmentation("default")
    generator = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(BATCH, C, T, generator=generator, device=device)

    def step() -> float:
        v1, v2 = make_views(x, augmentation, generator=generator)
        z = head(encoder(torch.cat([v1, v2])))  # (2B, 50): both views in one forward pass
        loss = nt_xent(z[:BATCH], z[BATCH:], temperature=0.1)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return float(loss.detach())

    return step


def um_time_warp_numpy(x: np.ndarray, rng: np.random.Generator, *, sigma: float, knot: int) -> np.ndarray:
    """Reference-style time warp (Um et al. 2017): a SciPy cubic spline per window and channel."""
    n, c, t = x.shape
    out = np.empty_like(x)
    grid = np.arange(t)
    knot_x = np.linspace(0, t - 1, knot + 2)
    for i in range(n):
        for ch in range(c):
            speed = CubicSpline(knot_x, rng.normal(1.0, sigma, knot + 2))(grid)
            warped = np.cumsum(speed)
            warped = warped * (t - 1) / warped[-1]
            out[i, ch] = np.interp(grid, warped, x[i, ch])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke size (N=64, short timings)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n = 64 if args.quick else 1024
    n_ref = 4 if args.quick else 32
    min_time, rounds = (0.02, 2) if args.quick else (0.2, 8)

    source = "torch default" if args.threads == 0 else "--threads"
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()} ({source})")
    print(f"augmentations on N={n} windows of C={C} x T={T}; step on batch {BATCH}")

    step = make_step(device, seed=0)
    generator = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(n, C, T, generator=generator, device=device)

    def bind(fn: Callable[..., torch.Tensor], **params: Any) -> Callable[[], object]:
        return lambda: fn(x, generator=generator, **params)

    items = [(label, bind(AUGMENTATIONS[name], **params)) for label, name, params in CASES]
    for preset in ("paper", "default"):
        items.append((f"preset {preset!r} (one view)", bind(build_augmentation(preset))))

    timings = best_seconds_per_call({"step": step, **dict(items)}, device, min_time=min_time, rounds=rounds)
    step_rate = BATCH / timings["step"]
    rows = [(label, n / timings[label], n / timings[label] / step_rate) for label, _ in items]
    targeted = {label for label, _, _ in CASES if "(variant)" not in label}

    x_np = x[:n_ref].cpu().numpy()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    um_time_warp_numpy(x_np, rng, sigma=0.2, knot=4)
    ref_rate = n_ref / (time.perf_counter() - start)

    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{'augmentation':<{width}} {'windows/s':>12} {'x step':>8}")
    print(f"{'pre-training step (baseline)':<{width}} {step_rate:>12,.0f} {1.0:>8.1f}")
    for label, rate, ratio in rows:
        flag = "  < 10x target" if ratio < 10 and label in targeted else ""
        print(f"{label:<{width}} {rate:>12,.0f} {ratio:>8.1f}{flag}")
    print(f"{'NumPy/SciPy loop time_warp':<{width}} {ref_rate:>12,.0f} {ref_rate / step_rate:>8.2f}")
    warp_rate = next(r[1] for r in rows if r[0].startswith("time_warp per_channel"))
    print(f"\nvectorised time_warp (per channel) is {warp_rate / ref_rate:,.0f}x the per-window SciPy loop")
    slowest = min((r for r in rows if r[0] in targeted), key=lambda r: r[2])
    verdict = "met" if slowest[2] >= 10 else "NOT met"
    print(
        f"target (each of the {len(targeted)} augmentations >= 10x the step; variant and presets for "
        f"information): {verdict}; slowest {slowest[0]} at {slowest[2]:.1f}x"
    )


if __name__ == "__main__":
    main()
