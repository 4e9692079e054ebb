"""Benchmark: calibration of study-level inference (coverage of intervals, type-I error of verdicts).

A known data-generating process (DGP) stands in for a study: subjects with a protected ``group`` (a 60%,
b 40%, b has a higher base rate) and a null ``age`` attribute (50/50, no effect), windows with a latent
z = subject effect + window noise and a label y ~ Bernoulli(sigmoid(z - 1)). A "model" of arm (beta,
delta) scores a window with logit

    beta * z + 0.8 * noise - 1 + u + (delta + v) * [group = b],    (u, v) ~ N(0, tau^2) per training seed

(beta: discrimination; delta: a group-specific offset, the model's bias; u, v: training randomness). A
study draws one test set of subjects, fine-tunes n seeds of every arm (draws (u, v) per seed and arm),
resamples the test subjects B times (:func:`~fairssl.evaluation.resampling.resample_models`, the real
fairness code) and runs :func:`~fairssl.evaluation.inference.study_inference`.

Truth. The estimand of a setup is E_(u,v)[value of the model on the whole population]. It is computed,
not simulated: each group's confusion-cell probabilities are one-dimensional Gauss-Hermite integrals over
z; the expected counts (floats) go through the fairness code's own plan, ratios and pooling (the null
attribute gets identical counts in both groups, so its parity deviation is exactly 0); the population
AUROC is an integral of the score densities on a grid; the expectation over seeds is a 200 x 200 lattice
of normal quantiles in (u, v) for PD (it has kinks) and a Gauss-Hermite rule for AUROC.

Reported per design (mean over --reps studies, with Monte-Carlo standard errors):

- coverage of the 95% interval of the supervised parity deviation (pooled, and per attribute: ``group``
  with a real disparity, ``age`` with none, so its truth 0 sits on PD's kink), of the PD change and of
  the AUROC change (ssl - supervised), read at 95% (``correction = none``);
- "(bias-corr. centre)": coverage of the PD change's interval moved to the bias-corrected change
  2 d - mean(d*) (the same width; the reported interval is centred on the plug-in change d, which
  covers better: the bootstrap bias estimate of PD is noisy and the two arms' biases largely cancel);
- se/sd: mean reported SE of the change over the across-study SD of its interval's centre (1 = honest,
  > 1 conservative);
- any-verdict rate: the share of studies with at least one non-null verdict ("fairer", "less fair",
  "more/less accurate") under the default policy (Holm, alpha 0.05): the type-I error for null designs,
  the power for non-null ones.

    python benchmarks/inference_calibration.py                  # 400 studies per design, B = 200
    python benchmarks/inference_calibration.py --reps 200 --jobs 2
    python benchmarks/inference_calibration.py --quick          # 20 studies, 2 designs: smoke run

Designs: seeds 1/2/3/5 x tau small/large x 100/400 test subjects x null/non-null (32 by default; narrow
them with --seeds, --tau, --subjects, --effects).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import special, stats

from fairssl.evaluation.counts import encode_groups
from fairssl.evaluation.inference import InferenceSettings, StudyDraws, study_inference
from fairssl.evaluation.parity import attribute_parity_values, pool_attributes
from fairssl.evaluation.plans import evaluate_plan, plan_comparisons, plan_table
from fairssl.evaluation.resampling import ModelDraws, resample_models

REFERENCE = {"group": "a", "age": "young"}
"""Named references: with ``majority`` a 50/50 attribute's reference would flip between test sets."""
P_B = 0.4  # share of group b
MU_B = 0.4  # group b's subject effect shift (a higher base rate)
NOISE = 0.8  # SD of the scorer's window noise
INTERCEPT = -1.0
VERDICTS_NON_NULL = ("fairer", "less_fair", "more_accurate", "less_accurate")


@dataclass(frozen=True)
class Arm:
    """A setup's scorer: slope on the latent z and group-b offset (its bias)."""

    beta: float = 1.0
    delta: float = 0.0


SSL_ARM = Arm(beta=0.8, delta=-0.3)
"""The non-null SSL arm: less discriminating and less biased (near its fairest offset, where some of its
parity ratios cross 1): lower AUROC and lower parity deviation than ``Arm()``."""


@dataclass(frozen=True)
class Design:
    """One simulated study design."""

    n_seeds: int = 3
    tau: float = 0.15
    n_subjects: int = 100
    windows: int = 10
    effect: bool = True
    n_boot: int = 200
    ssl_arm: Arm = SSL_ARM

    @property
    def arms(self) -> Mapping[str, Arm]:
        """Null: two arms that differ only by seed; effect: ``supervised`` vs ``ssl_arm``."""
        return {"supervised": Arm(), "ssl": self.ssl_arm if self.effect else Arm()}

    @property
    def label(self) -> str:
        kind = "effect" if self.effect else "null"
        return f"{kind:6s} seeds={self.n_seeds} tau={self.tau:<4g} subjects={self.n_subjects}"


@dataclass(frozen=True)
class Split:
    """Windows of one test set: labels, latent, scorer noise, subject ids, attributes."""

    y: np.ndarray
    z: np.ndarray
    noise: np.ndarray
    subjects: np.ndarray
    frame: pd.DataFrame
    is_b: np.ndarray = field(repr=False)


# ----------------------------------------------------------------------------------------------- the DGP
def sample_test_set(rng: np.random.Generator, n_subjects: int, windows: int) -> Split:
    """``n_subjects`` subjects with ``windows`` windows each (windows of one subject share its effect)."""
    is_b = rng.random(n_subjects) < P_B
    old = rng.random(n_subjects) < 0.5
    effect = rng.normal(0.0, 1.0, n_subjects) + MU_B * is_b
    subj = np.repeat(np.arange(n_subjects), windows)
    z = effect[subj] + rng.normal(0.0, 1.0, subj.size)
    y = (rng.random(subj.size) < special.expit(z - 1.0)).astype(np.int64)
    noise = rng.normal(0.0, 1.0, subj.size)
    frame = pd.DataFrame(
        {"group": np.where(is_b, "b", "a")[subj], "age": np.where(old, "old", "young")[subj]}
    )
    return Split(y=y, z=z, noise=noise, subjects=subj, frame=frame, is_b=is_b[subj])


def scores(test: Split, arm: Arm, u: float, v: float) -> np.ndarray:
    """P(y = 1) of the arm's model with seed offsets (u, v) on every window of ``test``."""
    logit = arm.beta * test.z + NOISE * test.noise + INTERCEPT + u + (arm.delta + v) * test.is_b
    return special.expit(logit)


# --------------------------------------------------------------------------------------------- the truth
def _z_nodes(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / np.sqrt(2 * np.pi)  # E f(X), X ~ N(0, 1) = sum w f(x)


def population_counts(arm: Arm, u: np.ndarray, v: np.ndarray, *, total: float = 1e6) -> np.ndarray:
    """Expected confusion counts (K, 2, 4) per group (a, b) of a population of ``total`` windows.

    Cells in :data:`fairssl.evaluation.counts.CELLS` order (tn, fp, fn, tp); model k has offsets
    (u_k, v_k). Each cell is a Gauss-Hermite integral over z | group ~ N(mu_group, 2):
    P(y=1, pred=1 | z) = sigmoid(z - 1) * Phi((beta z + c_group) / 0.8).
    """
    x, w = _z_nodes()
    u, v = np.atleast_1d(u)[:, None], np.atleast_1d(v)[:, None]  # (K, 1)
    out = np.empty((u.shape[0], 2, 4))
    for g, share in enumerate((1 - P_B, P_B)):
        z = MU_B * g + np.sqrt(2.0) * x  # (n,)
        py = special.expit(z - 1.0)
        pp = special.ndtr((arm.beta * z + INTERCEPT + u + (arm.delta + v) * g) / NOISE)  # (K, n)
        pos, tp, fp = w @ py, (py * pp) @ w, ((1 - py) * pp) @ w
        out[:, g] = share * total * np.stack([1 - pos - fp, fp, pos - tp, tp], axis=1)
    return out


def population_parity(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Parity deviation (K,) of population counts (K, 2, 4): pooled and per attribute, with the fairness
    code's own plan, ratios and pooling. The null attribute ``age`` gets identical counts in both groups,
    so its parity deviation is exactly 0."""
    by_attribute = {"group": counts, "age": np.repeat(counts.sum(axis=1, keepdims=True) / 2, 2, axis=1)}
    values, tables = [], []
    for attribute, cnt in by_attribute.items():
        codes = encode_groups(pd.DataFrame({attribute: sorted(set(_GROUPS[attribute]))}))[0]
        plan = plan_comparisons(codes, cnt[0], reference=REFERENCE, min_group_size=1)
        cnt = cnt[:, [codes.groups.index(gname) for gname in _GROUPS[attribute]]]  # to the codes' order
        tables.append(plan_table(plan, cnt[0]))
        values.append(evaluate_plan(plan, cnt)[0])
    table = pd.concat(tables, ignore_index=True)
    per = attribute_parity_values(np.concatenate(values, axis=1), table)  # (K, A), A in table order
    names = list(dict.fromkeys(table["attribute"].astype(str)))
    out = {"parity_deviation": pool_attributes(per)}
    out.update({f"parity_deviation:{a}": per[:, i] for i, a in enumerate(names)})
    return out


_GROUPS = {"group": ("a", "b"), "age": ("young", "old")}
"""Group names in the order of the count arrays' second axis."""


def population_auroc(arm: Arm, v: float) -> float:
    """Window-level population AUROC (it does not depend on u): the integral of f_pos(l) F_neg(l) over the
    logit l, each density a Gauss-Hermite mixture over z of N(beta z + c_group, 0.8^2)."""
    x, w = _z_nodes()
    grid = np.linspace(-14.0, 14.0, 4001)
    f1 = np.zeros_like(grid)
    f0 = np.zeros_like(grid)
    n1 = n0 = 0.0
    for g, share in enumerate((1 - P_B, P_B)):
        z = MU_B * g + np.sqrt(2.0) * x
        py = special.expit(z - 1.0)
        centre = arm.beta * z + INTERCEPT + (arm.delta + v) * g
        std = (grid[:, None] - centre[None, :]) / NOISE
        f1 += share * (np.exp(-0.5 * std**2) / (NOISE * np.sqrt(2 * np.pi))) @ (w * py)
        f0 += share * special.ndtr(std) @ (w * (1 - py))
        n1 += share * float(w @ py)
        n0 += share * float(w @ (1 - py))
    return float(np.trapezoid(f1 * f0, grid) / (n1 * n0))


@lru_cache(maxsize=64)
def truth(arm: Arm, tau: float, *, grid: int = 200) -> dict[str, float]:
    """E over training seeds (u, v ~ N(0, tau^2)) of the arm's population AUROC and parity deviation
    (pooled, ``parity_deviation:group`` and ``parity_deviation:age``, the latter exactly 0).

    PD: the mean over a ``grid`` x ``grid`` lattice of normal quantiles (midpoints of equal-probability
    cells) in (u, v), since PD has kinks where a ratio crosses 1 and a Gauss-Hermite rule converges
    slowly there. AUROC is smooth and depends on v alone: a 7-node Gauss-Hermite rule.
    """
    q = tau * stats.norm.ppf((np.arange(grid) + 0.5) / grid)
    uu, vv = np.meshgrid(q, q, indexing="ij")
    parity = population_parity(population_counts(arm, uu.ravel(), vv.ravel()))
    x, w = np.polynomial.hermite_e.hermegauss(7)
    auroc = np.array([population_auroc(arm, float(b)) for b in tau * x])
    return {"auroc": float(w @ auroc / w.sum()), **{k: float(v.mean()) for k, v in parity.items()}}


# ------------------------------------------------------------------------------------------- one study
def simulate_study(design: Design, rng: np.random.Generator, *, boot_seed: int = 0) -> StudyDraws:
    """One study: a test set, n seeds per arm (independent (u, v) per seed and arm), B shared resamples."""
    test = sample_test_set(rng, design.n_subjects, design.windows)
    model_scores, setups, seeds = [], [], []
    for seed in range(design.n_seeds):
        for name, arm in design.arms.items():
            u, v = rng.normal(0.0, design.tau, 2)
            model_scores.append(scores(test, arm, u, v))
            setups.append(name)
            seeds.append(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a small group's rates in a rare test set
        draws = resample_models(
            test.y,
            model_scores,
            test.frame,
            test.subjects,
            n_boot=design.n_boot,
            seed=boot_seed,
            reference=REFERENCE,
        )
    return StudyDraws(tuple(setups), tuple(seeds), draws)


def first_seeds(study: StudyDraws, n: int) -> StudyDraws:
    """The same study restricted to seeds < n (the same resamples, so still the full resampling path)."""
    keep = [i for i, s in enumerate(study.seeds) if s < n]
    d = study.draws
    sub = ModelDraws(d.quantities, d.values[keep], d.draws[:, keep], d.n_subjects)
    return StudyDraws(tuple(study.setups[i] for i in keep), tuple(study.seeds[i] for i in keep), sub)


def evaluate(study: StudyDraws, truths: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """One study's record: 95% coverage indicators, change estimates and SEs, verdicts (Holm)."""
    tested = study_inference(study)  # the default policy: Holm, alpha 0.05
    at95 = study_inference(study, InferenceSettings(correction="none"))  # every interval at 95%
    est = at95.estimates.set_index(["setup", "quantity"])
    sup = est.loc[("supervised", "parity_deviation")]
    true_pd = truths["supervised"]["parity_deviation"]
    rec: dict[str, float] = {
        "cover_pd": float(sup["ci_low"] <= true_pd <= sup["ci_high"]),
        "est_pd": float(sup["estimate_bc"]),  # the interval's centre (bias-corrected)
        "plugin_pd": float(sup["estimate"]),
        "se_pd": float(sup["se"]),
    }
    for attribute in ("group", "age"):  # per-attribute values are shown with intervals too
        q = f"parity_deviation:{attribute}"
        row = est.loc[("supervised", q)]
        rec[f"cover_pd_{attribute}"] = float(row["ci_low"] <= truths["supervised"][q] <= row["ci_high"])
    changes = at95.changes.set_index(["setup", "baseline", "quantity"])
    for q, key in (("parity_deviation", "pd_change"), ("auroc", "auroc_change")):
        row = changes.loc[("ssl", "supervised", q)]
        true = truths["ssl"][q] - truths["supervised"][q]
        rec[f"cover_{key}"] = float(row["ci_low"] <= true <= row["ci_high"])
        rec[f"est_{key}"] = float(row["estimate_bc"])  # the interval's centre (plug-in for changes)
        rec[f"se_{key}"] = float(row["se"])
        rec[f"plugin_{key}"] = float(row["estimate"])
        half = (row["ci_high"] - row["ci_low"]) / 2  # the same interval, centred on the bias-corrected change
        rec[f"cover_{key}_bias_corrected"] = float(abs(row["estimate"] - row["bias"] - true) <= half)
    verdicts = tested.changes.loc[tested.changes["in_family"], "verdict"]
    rec["any_verdict"] = float(verdicts.isin(VERDICTS_NON_NULL).any())
    rec["any_verdict_all_rows"] = float(tested.changes["verdict"].isin(VERDICTS_NON_NULL).any())
    return rec


def design_truths(design: Design) -> dict[str, dict[str, float]]:
    """Truth per arm; identical arms share one value, so a null design's true change is exactly 0."""
    return {name: truth(arm, design.tau) for name, arm in design.arms.items()}


def run_design(design: Design, reps: int, *, start: int = 0, master_seed: int = 2024) -> pd.DataFrame:
    """``reps`` independent studies of ``design`` (study r uses generator (master_seed, r))."""
    truths = design_truths(design)
    rows = []
    for r in range(start, start + reps):
        rng = np.random.default_rng([master_seed, r])
        t0 = time.perf_counter()
        study = simulate_study(design, rng, boot_seed=r)
        rec = evaluate(study, truths)
        rec["seconds"] = time.perf_counter() - t0
        rows.append(rec)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- report
def _share(x: pd.Series) -> str:
    p = float(x.mean())
    return f"{p:.3f}±{np.sqrt(p * (1 - p) / len(x)):.3f}"


def summarise(design: Design, frame: pd.DataFrame) -> dict[str, str]:
    out = {"design": design.label, "reps": str(len(frame))}
    out["cov PD"] = _share(frame["cover_pd"])
    out["cov PD:group"] = _share(frame["cover_pd_group"])
    out["cov PD:age"] = _share(frame["cover_pd_age"])
    out["cov PD chg"] = _share(frame["cover_pd_change"])
    out["(bias-corr. centre)"] = _share(frame["cover_pd_change_bias_corrected"])
    out["cov AUROC chg"] = _share(frame["cover_auroc_change"])
    for key, name in (("pd_change", "se/sd PD chg"), ("auroc_change", "se/sd AUROC chg")):
        sd = frame[f"est_{key}"].std(ddof=1)
        out[name] = f"{frame[f'se_{key}'].mean() / sd:.2f}" if sd > 0 else "nan"
    out["any verdict"] = _share(frame["any_verdict"])
    out["s/study"] = f"{frame['seconds'].mean():.2f}"
    return out


def _job(args: tuple[Design, int, int, int]) -> tuple[Design, pd.DataFrame]:
    design, reps, start, master_seed = args
    return design, run_design(design, reps, start=start, master_seed=master_seed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=400, help="studies per design (default 400)")
    parser.add_argument("--boot", type=int, default=200, help="resamples of test subjects B (default 200)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 5], help="seeds per arm")
    parser.add_argument("--tau", type=float, nargs="+", default=[0.1, 0.4], help="training-noise SDs")
    parser.add_argument("--subjects", type=int, nargs="+", default=[100, 400], help="test subjects")
    parser.add_argument("--windows", type=int, default=10, help="windows per subject (default 10)")
    parser.add_argument(
        "--effects", nargs="+", choices=["null", "effect"], default=["null", "effect"], help="designs"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--master-seed", type=int, default=2024, help="seed of every study's generator")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 studies, B = 50, 2 designs")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.boot, args.seeds, args.tau, args.subjects = 20, 50, [3], [0.1], [100]

    designs = [
        Design(n_seeds=n, tau=t, n_subjects=s, windows=args.windows, effect=e == "effect", n_boot=args.boot)
        for e, n, t, s in itertools.product(args.effects, args.seeds, args.tau, args.subjects)
    ]
    print(f"{len(designs)} designs x {args.reps} studies, B = {args.boot}, {args.windows} windows/subject")
    for arms in {d.effect: d for d in designs}.values():
        for tau in args.tau:
            t = design_truths(Design(tau=tau, effect=arms.effect))
            text = ", ".join(
                f"{a}: PD {v['parity_deviation']:.4f} (group {v['parity_deviation:group']:.4f}, age 0) "
                f"AUROC {v['auroc']:.4f}"
                for a, v in t.items()
            )
            print(f"truth ({'effect' if arms.effect else 'null'}, tau={tau:g}): {text}")

    chunk = max(1, -(-args.reps // max(1, args.jobs)))
    jobs = [
        (d, min(chunk, args.reps - start), start, args.master_seed)
        for d in designs
        for start in range(0, args.reps, chunk)
    ]
    t0 = time.perf_counter()
    results: dict[Design, list[pd.DataFrame]] = {d: [] for d in designs}
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            for design, frame in pool.map(_job, jobs):
                results[design].append(frame)
    else:
        for job in jobs:
            design, frame = _job(job)
            results[design].append(frame)
    table = pd.DataFrame([summarise(d, pd.concat(results[d], ignore_index=True)) for d in designs])
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 60):
        print(table.to_string(index=False))
    print(
        f"\ntotal {time.perf_counter() - t0:.0f} s wall on {args.jobs} process(es). cov: share of 95% "
        "intervals (correction none) holding the truth ± Monte-Carlo SE; se/sd: mean SE of the change / SD "
        "of its interval's centre across studies; (bias-corr. centre): the PD change's interval moved to "
        "the bias-corrected change; any verdict: share of studies with a non-null verdict in the family "
        "(Holm, alpha 0.05): type-I error in null designs, power in effect designs. With one seed, "
        "intervals cover test sampling only (not the training noise tau) and no verdict is given by design."
    )


if __name__ == "__main__":
    main()
