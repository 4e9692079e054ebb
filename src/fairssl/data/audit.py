"""Stage 1 of the assessment: audit a dataset before any model sees it.

For each protected attribute and group the audit reports how many windows and subjects each split holds,
the ground-truth label prevalence ``P(y=1 | g)`` and the *label bias* against a reference group r:

- mean difference   ``MD_g = P(y=1 | g) - P(y=1 | r)``   ideal 0; the further from 0, the more biased;
- disparate impact  ``DI_g = P(y=1 | g) / P(y=1 | r)``   ideal 1; below 0.8 or above 1.25 falls outside
  the four-fifths band (undefined, NaN/inf, when the reference prevalence is 0).

Prevalences use labelled windows only (``y >= 0``); the positive class is 1. It also reports per-channel
statistics and missingness, missingness per group, subject overlap between splits (should be 0), and
one-line warnings: a group with fewer than ``min_positives`` positive or ``min_negatives`` negative test
windows (its fairness metrics will be noisy), an attribute with a :data:`MISSING` group (kept separate,
never folded into another group), subjects shared across splits.

Data-preparation warnings (scaling, extreme and constant channels, time gaps) come from
:mod:`fairssl.data.preparation`.

X is read in chunks of 4,096 windows, so a memory-mapped dataset is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, SPLITS, WindowDataset
from fairssl.data.preparation import EXTREME_VALUE, preparation_warnings
from fairssl.errors import ConfigError

CHUNK = 4096
ALL = "all"


@dataclass(frozen=True, eq=False)
class AuditResult:
    """Tables of a stage-1 audit (see the module docstring); ``to_frames`` returns them by name.

    ``sizes``: index split (``all`` then train/val/test/pool present) x windows, subjects, labelled,
    positives, prevalence. ``channels``: channel, mean, std, min, max (over observed values),
    missing_fraction, n_extreme (observed values with ``|x| > EXTREME_VALUE``).
    ``groups``: one row per attribute x group x split with windows, subjects, share (of the split's
    windows), labelled, positives, negatives, prevalence, mean_difference, disparate_impact,
    missing_fraction, is_reference. ``references``: attribute -> reference group. ``overlap``: pairs of
    splits and the number of subjects they share.
    """

    name: str
    sizes: pd.DataFrame
    channels: pd.DataFrame
    groups: pd.DataFrame
    references: pd.DataFrame
    overlap: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    min_positives: int = 30
    min_negatives: int = 30

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """The tables by name: sizes, channels, groups, references, overlap, warnings."""
        return {
            "sizes": self.sizes,
            "channels": self.channels,
            "groups": self.groups,
            "references": self.references,
            "overlap": self.overlap,
            "warnings": pd.DataFrame({"warning": self.warnings}),
        }

    def label_bias(self, split: str = ALL) -> pd.DataFrame:
        """Rows of ``groups`` for one split: attribute, group, windows, prevalence, MD and DI."""
        cols = [
            "attribute",
            "group",
            "windows",
            "positives",
            "prevalence",
            "mean_difference",
            "disparate_impact",
        ]
        return self.groups.loc[self.groups["split"] == split, cols].reset_index(drop=True)

    def summary_text(self) -> str:
        """A plain-text report: sizes, references, label bias over all windows, warnings."""
        lines = [f"Audit of {self.name!r}", "", "Windows and subjects per split:", self.sizes.to_string(), ""]
        if len(self.references):
            lines += ["Reference groups:"]
            lines += [
                f"  {a}: {r}"
                for a, r in zip(self.references["attribute"], self.references["reference"], strict=True)
            ]
            lines += ["", "Label bias P(y=1|g) vs the reference (all windows):"]
            lines += [self.label_bias().to_string(index=False, float_format=lambda v: f"{v:.3f}"), ""]
        shared = int(self.overlap["shared_subjects"].sum()) if len(self.overlap) else 0
        lines += [f"Subjects shared between splits: {shared}", ""]
        lines += ["Warnings:"] + ([f"  - {w}" for w in self.warnings] or ["  none"])
        return "\n".join(lines)


def _merge_moments(
    n_a: np.ndarray,
    mean_a: np.ndarray,
    m2_a: np.ndarray,
    n_b: np.ndarray,
    mean_b: np.ndarray,
    m2_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chan et al.'s pairwise merge of (count, mean, sum of squared deviations), per channel."""
    n = n_a + n_b
    delta = mean_b - mean_a
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(n > 0, n_b / np.maximum(n, 1), 0.0)
    mean = mean_a + delta * w
    m2 = m2_a + m2_b + delta**2 * n_a * w
    return n, mean, m2


def _scan(ds: WindowDataset) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-channel stats over observed values and the per-window missing fraction (N,), chunk by chunk."""
    n, c, t = ds.X.shape
    count = np.zeros(c)
    mean = np.zeros(c)
    m2 = np.zeros(c)
    missing_ch = np.zeros(c)
    low = np.full(c, np.inf)
    high = np.full(c, -np.inf)
    n_extreme = np.zeros(c, dtype=np.int64)
    window_missing = np.empty(n)
    for lo in range(0, n, CHUNK):
        xb = np.asarray(ds.X[lo : lo + CHUNK], dtype=np.float64)  # (b, C, T)
        observed = np.isfinite(xb)
        if ds.mask is not None:
            observed &= np.asarray(ds.mask[lo : lo + CHUNK], dtype=bool)
        window_missing[lo : lo + len(xb)] = 1.0 - observed.mean(axis=(1, 2))
        missing_ch += (~observed).sum(axis=(0, 2))
        nb = observed.sum(axis=(0, 2)).astype(float)  # (C,)
        vals = np.where(observed, xb, 0.0)
        low = np.minimum(low, np.where(observed, xb, np.inf).min(axis=(0, 2), initial=np.inf))
        high = np.maximum(high, np.where(observed, xb, -np.inf).max(axis=(0, 2), initial=-np.inf))
        n_extreme += (np.abs(vals) > EXTREME_VALUE).sum(axis=(0, 2))
        mb = np.divide(vals.sum(axis=(0, 2)), nb, out=np.zeros(c), where=nb > 0)
        m2b = (np.where(observed, xb - mb[None, :, None], 0.0) ** 2).sum(axis=(0, 2))
        count, mean, m2 = _merge_moments(count, mean, m2, nb, mb, m2b)
    std = np.sqrt(np.divide(m2, count - 1, out=np.full(c, np.nan), where=count > 1))
    channels = pd.DataFrame(
        {
            "channel": list(ds.channel_names),
            "mean": np.where(count > 0, mean, np.nan),
            "std": std,
            "min": np.where(count > 0, low, np.nan),
            "max": np.where(count > 0, high, np.nan),
            "missing_fraction": missing_ch / max(n * t, 1),
            "n_extreme": n_extreme,
        }
    )
    return channels, window_missing


AUDIT_STRATEGIES = ("majority", "rest", "best")
"""Reference strategies of ``evaluation.reference``. Label bias is a property of the data, before any
model: ``rest`` (each group against all others pooled, a per-group reference) and ``best`` (the most
accurate group, which needs a model) are audited against the majority group, as ``majority`` is."""


def _reference(attribute: str, values: pd.Series, reference: str | Mapping[str, str]) -> str:
    groups = sorted(pd.unique(values.astype(str)))
    if isinstance(reference, Mapping) and attribute in reference:
        ref = str(reference[attribute])
        if ref not in groups:
            raise ConfigError(
                f"reference group {ref!r} for attribute {attribute!r} is not in the data; "
                f"groups: {', '.join(groups)}"
            )
        return ref
    if isinstance(reference, str) and reference not in AUDIT_STRATEGIES:
        raise ConfigError(
            f"reference must be one of {', '.join(AUDIT_STRATEGIES)} or a mapping attribute -> group; "
            f"got {reference!r}"
        )
    counts = values.astype(str).value_counts()
    counts = counts.reindex(sorted(counts.index))
    non_missing = counts.drop(MISSING, errors="ignore")
    return str((non_missing if len(non_missing) else counts).idxmax())


def _group_rows(
    frame: pd.DataFrame, attribute: str, split_name: str, ref: str, n_split: int
) -> list[dict[str, Any]]:
    """Rows of the groups table for one attribute within one split's windows ``frame``."""
    labelled = frame["y"] >= 0
    positives = (frame["y"] == 1) & labelled
    stats = pd.DataFrame(
        {
            "windows": frame.groupby("g", observed=True).size(),
            "subjects": frame.groupby("g", observed=True)["subject"].nunique(),
            "labelled": labelled.groupby(frame["g"], observed=True).sum(),
            "positives": positives.groupby(frame["g"], observed=True).sum(),
            "missing_fraction": frame.groupby("g", observed=True)["missing"].mean(),
        }
    )
    stats["prevalence"] = np.divide(
        stats["positives"].to_numpy(float),
        stats["labelled"].to_numpy(float),
        out=np.full(len(stats), np.nan),
        where=stats["labelled"].to_numpy() > 0,
    )
    ref_prev = float(stats["prevalence"].get(ref, np.nan))
    rows = []
    for group, rec in stats.iterrows():
        with np.errstate(divide="ignore", invalid="ignore"):
            di = np.float64(rec["prevalence"]) / np.float64(ref_prev)
        rows.append(
            {
                "attribute": attribute,
                "group": str(group),
                "split": split_name,
                "windows": int(rec["windows"]),
                "subjects": int(rec["subjects"]),
                "share": rec["windows"] / n_split if n_split else np.nan,
                "labelled": int(rec["labelled"]),
                "positives": int(rec["positives"]),
                "negatives": int(rec["labelled"] - rec["positives"]),
                "prevalence": rec["prevalence"],
                "mean_difference": rec["prevalence"] - ref_prev,
                "disparate_impact": float(di),
                "missing_fraction": rec["missing_fraction"],
                "is_reference": str(group) == ref,
            }
        )
    return rows


def audit(
    ds: WindowDataset,
    *,
    min_positives: int = 30,
    min_negatives: int = 30,
    reference: str | Mapping[str, str] = "majority",
) -> AuditResult:
    """Stage-1 audit of ``ds`` (see the module docstring for every table and warning).

    ``reference``: ``"majority"`` (the group with most windows, never the missing group unless it is the
    only one), ``"rest"`` or ``"best"`` (audited against the majority: see :data:`AUDIT_STRATEGIES`), or a
    mapping attribute -> reference group (attributes left out use the majority).
    """
    if min_positives < 0 or min_negatives < 0:
        raise ConfigError(
            f"min_positives and min_negatives must be >= 0; got {min_positives}, {min_negatives}"
        )
    channels, window_missing = _scan(ds)
    base = pd.DataFrame(
        {
            "subject": np.asarray(ds.subject).astype(str),
            "split": np.asarray(ds.split).astype(str),
            "y": np.asarray(ds.y),
            "missing": window_missing,
        }
    )
    split_names = [ALL] + [s for s in SPLITS if (base["split"] == s).any()]

    def part(name: str) -> pd.DataFrame:
        return base if name == ALL else base[base["split"] == name]

    size_rows = []
    for name in split_names:
        frame = part(name)
        lab = frame["y"] >= 0
        pos = int(((frame["y"] == 1) & lab).sum())
        size_rows.append(
            {
                "split": name,
                "windows": len(frame),
                "subjects": frame["subject"].nunique(),
                "labelled": int(lab.sum()),
                "positives": pos,
                "prevalence": pos / lab.sum() if lab.sum() else np.nan,
                "missing_fraction": frame["missing"].mean() if len(frame) else np.nan,
            }
        )
    sizes = pd.DataFrame(size_rows).set_index("split")

    subjects_by_split = {s: set(part(s)["subject"]) for s in split_names if s != ALL}
    overlap = pd.DataFrame(
        [
            {"split_a": a, "split_b": b, "shared_subjects": len(subjects_by_split[a] & subjects_by_split[b])}
            for a, b in combinations(subjects_by_split, 2)
        ],
        columns=["split_a", "split_b", "shared_subjects"],
    )

    warnings: list[str] = []
    group_rows: list[dict[str, Any]] = []
    refs = []
    for attribute in ds.attribute_names:
        values = ds.attributes[attribute].astype(str).reset_index(drop=True)
        ref = _reference(attribute, values, reference)
        refs.append({"attribute": attribute, "reference": ref})
        frame_all = base.assign(g=values.to_numpy())
        for name in split_names:
            frame = frame_all if name == ALL else frame_all[frame_all["split"] == name]
            group_rows += _group_rows(frame, attribute, name, ref, len(frame))
        n_missing = int((values == MISSING).sum())
        if n_missing:
            warnings.append(
                f"attribute {attribute!r} has a {MISSING!r} group ({n_missing} windows, "
                f"{n_missing / len(values):.1%}): kept as its own group, never merged into another"
            )
        test = frame_all[frame_all["split"] == "test"]
        for group in sorted(pd.unique(values)):
            in_test = test[test["g"] == group]
            pos = int((in_test["y"] == 1).sum())
            neg = int((in_test["y"] == 0).sum())
            if pos < min_positives:
                warnings.append(
                    f"attribute {attribute!r} group {str(group)!r} has {pos} positive test windows "
                    f"(< {min_positives}): its fairness metrics will be unreliable; merge groups or add data"
                )
            if neg < min_negatives:
                warnings.append(
                    f"attribute {attribute!r} group {str(group)!r} has {neg} negative test windows "
                    f"(< {min_negatives}): its fairness metrics will be unreliable; merge groups or add data"
                )
    for split_a, split_b, shared in overlap.itertuples(index=False):
        if shared:
            warnings.append(
                f"{shared} subject(s) are in both {split_a} and {split_b}; "
                "splits must be subject-disjoint: re-split by subject"
            )
    warnings += preparation_warnings(channels, ds.info)
    warnings += [str(w) for w in ds.info.get("warnings", [])]  # what the loader noticed
    groups = pd.DataFrame(
        group_rows,
        columns=[
            "attribute",
            "group",
            "split",
            "windows",
            "subjects",
            "share",
            "labelled",
            "positives",
            "negatives",
            "prevalence",
            "mean_difference",
            "disparate_impact",
            "missing_fraction",
            "is_reference",
        ],
    )
    return AuditResult(
        name=ds.name,
        sizes=sizes,
        channels=channels,
        groups=groups,
        references=pd.DataFrame(refs, columns=["attribute", "reference"]),
        overlap=overlap,
        warnings=warnings,
        min_positives=min_positives,
        min_negatives=min_negatives,
    )


def render_rich(result: AuditResult) -> Any:
    """A ``rich`` renderable (sizes, label bias over all windows, warnings) for the CLI to print."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    sizes = Table(title=f"Audit of {result.name}: windows per split")
    for col in ["split", *result.sizes.columns]:
        sizes.add_column(col, justify="left" if col == "split" else "right")
    for rec in result.sizes.reset_index().itertuples(index=False):
        sizes.add_row(*[_fmt(v) for v in rec])
    bias = Table(title="Label bias P(y=1|g) against the reference group (all windows)")
    lb = result.label_bias()
    for col in lb.columns:
        bias.add_column(col, justify="left" if col in ("attribute", "group") else "right")
    for rec in lb.itertuples(index=False):
        bias.add_row(*[_fmt(v) for v in rec])
    notes = Text("\n".join(f"! {w}" for w in result.warnings) or "no warnings", style="yellow")
    return Group(sizes, bias, notes)


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "nan" if np.isnan(value) else f"{value:.3f}"
    return str(value)
