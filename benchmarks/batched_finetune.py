"""Benchmark: K fine-tuning runs one by one (``finetune``) vs as one stacked model (``finetune_many``).

Setting: the default ``fairssl run`` (quick profile): the simulator's default dataset (3,500 training
and 750 validation windows of 7 channels x 48 steps), the paper's encoder (32/64/96, kernels 24/16/8)
and head (128, dropout 0.6), fine-tuning 12 epochs, batch 128, Adam 1e-3, patience 4. Job i of K is
setup ``SETUPS[i % 7]`` with seed ``i // 7`` (the default study's seven setups, then the next seed), so
K <= 7 shares one data order and K > 7 mixes seeds; the SSL setups start from one random "pre-trained"
encoder (pre-training is not timed). Both ways run in this process on the same inputs, for each torch
thread count, alternating (one by one, batched) so drift on a shared machine hits both; each line also
prints the largest difference between the two ways' validation probabilities (float noise: ~1e-6).

    python benchmarks/batched_finetune.py                    # K = 1, 4, 8, 16; 1 and 2 threads
    python benchmarks/batched_finetune.py --ks 1 4 --threads 1 --epochs 3   # a quick look
    python benchmarks/batched_finetune.py --jobs 3:0 3:1 3:2 --threads 1    # given setup:seed jobs
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fairssl.config import build_config
from fairssl.data.simulate import simulate
from fairssl.finetune.batched import FinetuneJob, finetune_many
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba
from fairssl.ssl.pretrain import build_encoder

SETUPS = ("supervised", "0", "1-first", "1-middle", "2-first-middle", "2-first-last", "3")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8, 16], help="models per batch")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs (default: quick's 12)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--jobs", nargs="+", default=None, help="SETUP:SEED jobs batched (instead of --ks)")
    args = parser.parse_args()
    given = [(j.rsplit(":", 1)[0], int(j.rsplit(":", 1)[1])) for j in args.jobs or []]

    config = build_config()  # the quick profile: what `fairssl run` uses
    ft = (
        config.finetune if args.epochs is None else config.finetune.model_copy(update={"epochs": args.epochs})
    )
    ds = simulate(config.data.simulate)
    tr, va = ds.indices("train"), ds.indices("val")
    X, y = np.asarray(ds.X[tr], dtype=np.float32), np.asarray(ds.y[tr])
    Xv, yv = np.asarray(ds.X[va], dtype=np.float32), np.asarray(ds.y[va])
    torch.manual_seed(99)
    state = build_encoder(config.model, X.shape[1], X.shape[2]).state_dict()
    print(
        f"train {X.shape}, val {Xv.shape}; epochs {ft.epochs}, batch {ft.batch_size}, {ft.optimizer} "
        f"lr {ft.lr}, patience {ft.patience}; device {args.device}"
    )
    warm = [FinetuneJob(get_setup("supervised"))]  # first-call costs (thread pools, kernels) paid here
    finetune(X[:256], y[:256], Xv, yv, setup=warm[0].setup, model=config.model, config=ft, device=args.device)
    finetune_many(X[:256], y[:256], Xv, yv, jobs=warm, model=config.model, config=ft, device=args.device)
    print(f"{'threads':>7} {'K':>3} {'one by one s':>13} {'batched s':>10} {'speed-up':>9} {'max |dp|':>9}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for k in [len(given)] if given else args.ks:
            pairs = given or [(SETUPS[i % len(SETUPS)], i // len(SETUPS)) for i in range(k)]
            jobs = []
            for name, seed in pairs:
                setup = get_setup(name)
                jobs.append(FinetuneJob(setup, seed=seed, encoder_state=state if setup.pretrained else None))
            start = time.perf_counter()
            single = [
                finetune(
                    X,
                    y,
                    Xv,
                    yv,
                    setup=job.setup,
                    model=config.model,
                    config=ft,
                    encoder_state=job.encoder_state,
                    seed=job.seed,
                    device=args.device,
                )
                for job in jobs
            ]
            t_single = time.perf_counter() - start
            start = time.perf_counter()
            many = finetune_many(X, y, Xv, yv, jobs=jobs, model=config.model, config=ft, device=args.device)
            t_many = time.perf_counter() - start
            diffs = [
                float(np.abs(predict_proba(a, Xv) - predict_proba(b, Xv)).max())
                for (a, _), (b, _) in zip(single, many, strict=True)
            ]
            diff = max(diffs)
            for job, d, (_, ra), (_, rb) in zip(jobs, diffs, single, many, strict=True):
                if d > 1e-4:  # not float noise: say where the two ways parted
                    print(
                        f"  {job.setup.name} seed {job.seed}: |dp| {d:.1e}; best epoch {ra.best_epoch} vs "
                        f"{rb.best_epoch}, epochs {len(ra.history)} vs {len(rb.history)}, val_loss "
                        f"{[round(h['val_loss'], 6) for h in ra.history]} vs "
                        f"{[round(h['val_loss'], 6) for h in rb.history]}"
                    )
            print(
                f"{threads:>7} {k:>3} {t_single:>13.2f} {t_many:>10.2f} "
                f"{t_single / t_many:>8.2f}x {diff:>9.1e}"
            )


if __name__ == "__main__":
    main()
