"""Does SSL matter on the simulator? Supervised vs one SSL setup, test AUROC by labelled fraction.

    python benchmarks/simulator_ssl.py                      # 1,000 subjects x 10 windows, 3 seeds
    python benchmarks/simulator_ssl.py --quick              # smoke size (a minute or two)
    python benchmarks/simulator_ssl.py --set label_bias.rate=0.3 --fractions 0.05 1.0

For each seed: one simulated dataset (the simulator's seed = the seed), one SimCLR encoder pre-trained on
all pool + train windows (labels unused; the same windows whatever the labelled fraction), then for each
labelled fraction the supervised baseline and the SSL setup fine-tuned on the labelled train windows with
the quick profile's settings (fairssl's own ``pretrain`` and ``finetune``). Prints mean test AUROC (and the
Bayes scorer's, the ceiling) per fraction, the SSL - supervised difference with its range over seeds,
and the parity deviation of both on the clean labels. A live trade-off: SSL ahead at small fractions,
level or behind at 1.0.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from fairssl.config import build_config
from fairssl.data.simulate import simulate, true_risk
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.parity import parity_deviation
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba
from fairssl.ssl.pretrain import pretrain


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _overrides(items: list[str]) -> dict[str, Any]:
    """``a.b=v`` items -> nested dict for ``data.simulate``."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _value(value)
    return out


def _pd(y_true: np.ndarray, prob: np.ndarray, attrs: Any, subjects: np.ndarray) -> float:
    table = fairness_table(y_true, (prob >= 0.5).astype(int), attrs, min_group_size=30, subjects=subjects)
    return parity_deviation(table)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    sim = {"n_subjects": args.subjects, "windows_per_subject": args.windows, **_overrides(args.set)}
    study = build_config(
        {
            "data": {"simulate": sim},
            "model": {"widths": args.widths},
            "pretrain": {"augmentation": args.augmentation, "epochs": args.pretrain_epochs},
            "finetune": {"epochs": args.finetune_epochs, "batch_size": args.finetune_batch},
        },
        profile="quick",
    )
    rows = []
    for seed in args.seeds:
        full = simulate(study.data.simulate, seed=seed)
        unlabelled = np.flatnonzero(np.isin(full.split, ("pool", "train")))
        t0 = time.perf_counter()
        encoder, _ = pretrain(
            full.X[unlabelled],
            full.X[full.indices("val")],
            model=study.model,
            config=study.pretrain,
            seed=seed,
        )
        t_pre = time.perf_counter() - t0
        state = encoder.state_dict()
        for frac in args.fractions:
            ds = simulate(study.data.simulate.model_copy(update={"labelled_fraction": frac}), seed=seed)
            tr, va, te = ds.indices("train"), ds.indices("val"), ds.indices("test")
            row: dict[str, Any] = {"seed": seed, "fraction": frac, "n_train": len(tr), "pretrain_s": t_pre}
            bayes, y_true = true_risk(ds)[te], np.asarray(ds.y_clean)[te]
            row["bayes"] = roc_auc_score(y_true, bayes)
            for name, setup in (("supervised", "supervised"), ("ssl", args.setup)):
                t1 = time.perf_counter()
                net, _ = finetune(
                    ds.X[tr], ds.y[tr], ds.X[va], ds.y[va],
                    setup=get_setup(setup), model=study.model, config=study.finetune,
                    encoder_state=None if setup == "supervised" else state, seed=seed,
                )  # fmt: skip
                prob = predict_proba(net, ds.X[te])[:, 1]
                row[name] = roc_auc_score(y_true, prob)
                row[f"{name}_pd"] = _pd(y_true, prob, ds.attributes.iloc[te], ds.subject[te])
                row[f"{name}_s"] = time.perf_counter() - t1
            rows.append(row)
            print(
                f"seed {seed} fraction {frac:<5} n_train {len(tr):>5}  bayes {row['bayes']:.3f}  "
                f"supervised {row['supervised']:.3f}  ssl {row['ssl']:.3f}  (pretrain {t_pre:.0f}s)",
                flush=True,
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Mean over seeds per fraction; diff = ssl - supervised (min..max over seeds)."""
    lines = [
        "| labelled fraction | train windows | Bayes AUROC | supervised AUROC | SSL AUROC "
        "| SSL - sup (min..max) | PD sup | PD SSL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for frac in sorted({r["fraction"] for r in rows}):
        rs = [r for r in rows if r["fraction"] == frac]
        diff = np.array([r["ssl"] - r["supervised"] for r in rs])

        def m(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return float(np.nanmean([r[key] for r in rs]))

        lines.append(
            f"| {frac} | {m('n_train'):.0f} | {m('bayes'):.3f} | {m('supervised'):.3f} | {m('ssl'):.3f} | "
            f"{diff.mean():+.3f} ({diff.min():+.3f}..{diff.max():+.3f}) | {m('supervised_pd'):.3f} | "
            f"{m('ssl_pd'):.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke size: 300 subjects x 6 windows, 2 seeds")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.02, 0.1, 0.5, 1.0])
    parser.add_argument("--setup", default="0", help="the SSL setup (default 0: all layers fine-tuned)")
    parser.add_argument("--augmentation", default="default", help="pre-training augmentation preset")
    parser.add_argument("--widths", type=int, nargs=3, default=[32, 64, 96])
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--finetune-epochs", type=int, default=12)
    parser.add_argument("--finetune-batch", type=int, default=128, help="fine-tuning batch size")
    parser.add_argument("--set", action="append", default=[], help="simulator knob, e.g. label_bias.rate=0.3")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.windows, args.seeds = 300, 6, args.seeds[:2]
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    rows = run(args)
    print(f"\n{table(rows)}\n\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
