"""Several finished studies side by side (``fairssl compare``): e.g. one study per bias source.

Each study keeps its own baseline, seeds and tests; here their per-setup results are only laid next to
each other, like a grid's variants (:mod:`~fairssl.report.variant_figures`): one figure (parity deviation,
AUROC and improvement over the study's own supervised baseline, one colour per study), one table
(``comparison.csv`` and ``comparison.md``). A grid study contributes one entry per variant
(``<study>/<variant>``).

Given a difference-in-differences table against a reference study (computed by
:func:`fairssl.experiments.compare.compare_studies` with
:func:`~fairssl.evaluation.did.difference_in_differences`), ``comparison.md`` gains its section and
``did.csv`` holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fairssl.errors import DataError
from fairssl.report.comparison import setup_comparison
from fairssl.report.conventions import VARIANT, split_variants
from fairssl.report.formatting import fmt_ci, fmt_number
from fairssl.report.inputs import StoredResults, read_stored_results
from fairssl.report.markdown import md_table
from fairssl.report.plotting import FORMATS, save, style
from fairssl.report.variant_figures import fairness_across_variants, variant_comparison_table


def stacked_comparison(
    run_dirs: Sequence[Path],
    names: Sequence[str] | None = None,
    *,
    stored: Sequence[StoredResults] | None = None,
) -> pd.DataFrame:
    """:func:`~fairssl.report.comparison.setup_comparison` of each study (each grid variant), stacked with a
    ``variant`` column holding the study's name (default: its folder name; ``<name>/<variant>`` in a grid).
    ``stored``: the studies' results already read (one per folder), else read here."""
    if names is not None and len(names) != len(run_dirs):
        raise DataError(f"got {len(names)} names for {len(run_dirs)} run folders; give one name per folder")
    frames = []
    for i, root in enumerate(run_dirs):
        name = names[i] if names is not None else Path(root).name
        results = stored[i] if stored is not None else read_stored_results(Path(root))
        parts = split_variants(results.comparison)
        for variant, rows in parts:
            label = name if len(parts) == 1 else f"{name}/{variant}"
            comp = setup_comparison(rows.drop(columns=[VARIANT], errors="ignore"))
            frames.append(comp.assign(**{VARIANT: label}))
    labels = [str(f[VARIANT].iloc[0]) for f in frames if not f.empty]
    if len(set(labels)) != len(labels):
        raise DataError(f"two studies share a name ({', '.join(labels)}); give distinct --name values")
    return pd.concat(frames, ignore_index=True)


def compare_studies(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    names: Sequence[str] | None = None,
    did: pd.DataFrame | None = None,
    reference: str = "",
    stored: Sequence[StoredResults] | None = None,
    formats: Sequence[str] = FORMATS,
) -> Path:
    """Write ``<out>/comparison.md``, ``comparison.csv`` (the stacked per-setup comparison at full
    precision) and ``figures/fairness_across_studies.{png,pdf}``; with a ``did`` table (against the
    study named ``reference``) also ``did.csv`` and its section; returns the Markdown's path. ``stored``:
    the studies' results already read (see :func:`stacked_comparison`).

    Raises DataError when fewer than two folders are given or one is not a finished run folder.
    """
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise DataError("compare needs at least two run folders (e.g. fairssl compare runs/a runs/b)")
    comp = stacked_comparison(dirs, names, stored=stored)
    did_lines = did_section(did, reference) if did is not None else []
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    comp.to_csv(out_dir / "comparison.csv", index=False)
    if did is not None:
        did.to_csv(out_dir / "did.csv", index=False)
    with style():
        save(
            fairness_across_variants(comp, legend_title="study"),
            out_dir / "figures",
            "fairness_across_studies",
            formats=formats,
        )
    table = variant_comparison_table(comp).rename(columns={VARIANT: "study"})
    text = "\n".join(
        [
            "# Studies side by side",
            "",
            "Per setup: mean over seeds [95% CI]; PD improvement against each study's own supervised "
            "baseline (same seeds), (PD_supervised - PD_setup) / PD_supervised, > 0: fairer.",
            "",
            md_table(table),
            "",
            "![Fairness and AUROC across studies](figures/fairness_across_studies.png)",
            "",
            *did_lines,
            "Studies: " + ", ".join(f"`{d}`" for d in dirs),
            "",
        ]
    )
    path = out_dir / "comparison.md"
    path.write_text(text, encoding="utf-8")
    return path


_KIND_TEXT = {
    "supervised": "supervised",
    "matched": "supervised degraded to equal AUROC",
    "checkpoint": "supervised checkpoint at equal validation AUROC",
    "control": "random:<setup>",
}
_DID_TEXT = {
    "lower": "lowers PD more than without the bias",
    "higher": "lowers PD less (or raises it more) than without the bias",
    "not_distinguishable": "not distinguishable",
    "at_chance": "no test: a model may be at chance",
    "one_seed": "no test: one seed",
    "no_interval": "no test: no interval",
}


def did_section(did: pd.DataFrame, reference: str) -> list[str]:
    """Markdown lines of the difference-in-differences table against ``reference`` (empty table: a line
    saying that no setup was found in both)."""
    head = [f"## Against {reference}: difference in differences", ""]
    if did.empty:
        return [*head, f"No setup and baseline was found both in {reference} and in another study.", ""]
    table = pd.DataFrame(
        {
            "study": did["study"],
            "variant": did["variant"],
            "setup": did["setup"],
            "against": did["baseline_kind"].map(_KIND_TEXT),
            "PD change": did["change"].map(lambda v: fmt_number(v, 3)),
            f"in {reference}": did["change_reference"].map(lambda v: fmt_number(v, 3)),
            "difference [corrected CI]": [
                fmt_ci(d, lo, hi) for d, lo, hi in zip(did["did"], did["ci_low"], did["ci_high"], strict=True)
            ],
            "adjusted p": did["p_adjusted"].map(lambda v: fmt_number(v, 3)),
            "detectable (80%)": did["mde"].map(lambda v: fmt_number(v, 3)),
            "verdict": did["verdict"].map(lambda v: _DID_TEXT.get(str(v), str(v))),
        }
    )
    if table["variant"].nunique() <= 1:  # no grid (or one point): the column says nothing
        table = table.drop(columns="variant")
    n = int(did["p_value"].notna().sum())
    return [
        *head,
        f"Per setup: its paired parity-deviation change (setup - baseline) in each study minus the same "
        f"change in {reference}. Below 0: the setup lowers PD more under that study's bias than without "
        f"it. SE = sqrt(SE_study^2 + SE_{reference}^2) on the smaller of the two studies' degrees of "
        f"freedom; the {n} tested differences form one family (Holm), each interval at its corrected level, "
        "so a verdict is printed exactly when the interval excludes 0. 'detectable (80%)': the smallest "
        "difference this comparison finds with 80% power; a smaller one may exist behind 'not "
        "distinguishable'.",
        "",
        md_table(table),
        "",
    ]
