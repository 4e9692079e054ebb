"""The report's across-variants section: a grid study's variants (e.g. pre-training pools) side by side.

Each variant is assessed on its own (its own supervised baseline, tests and report under
``variants/<slug>/``); this section only lays their per-setup results next to each other, so a reader can
see whether, say, a balanced pre-training pool changed the fairness of the SSL setups.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from fairssl.report.conventions import variant_names
from fairssl.report.html_table import html_table, verdict_cell
from fairssl.report.page import ReportWriter, Section
from fairssl.report.variant_figures import (
    fairness_across_variants,
    pool_share_table,
    variant_comparison_table,
)


def variants_section(writer: ReportWriter, comp: pd.DataFrame, pool: pd.DataFrame) -> Section:
    """From :func:`~fairssl.report.comparison.setup_comparison` of the (stacked) summary and
    ``results/pool.csv``."""
    sec = Section(
        "variants",
        "Across variants",
        "The setups of every variant of the grid side by side: mean over seeds with 95% intervals. Each "
        "variant's improvement and verdict are against its own supervised baseline (same seeds). The "
        "supervised model does not use the pre-training pool, so across pools its values differ by chance "
        "only; differences between variants that the intervals do not separate are not evidence.",
    )
    names = variant_names(comp)
    if len(names) < 2:
        sec.notes.append(
            "This study has one variant. To compare pre-training pools (or any other setting), give the "
            'config a grid axis, e.g. [grid] pretrain.pool = ["full", "balanced:race", "exclude:race=black"].'
        )
        shares = pool_share_table(pool)
        if not shares.empty:
            writer.save_table("pool_shares", shares)
            sec.table("Pre-training pool composition", html_table(shares, table_id="pool-table"))
        return sec
    sec.figure(
        writer.figure(
            "fairness_across_variants",
            "Fairness and AUROC across variants",
            "Per setup, one point per variant (mean over seeds, 95% CI). Top: parity deviation (lower is "
            "fairer); middle: AUROC; bottom: relative parity-deviation improvement over the same variant's "
            "supervised run (> 0: fairer).",
            partial(fairness_across_variants, comp),
        )
    )
    table = variant_comparison_table(comp)
    writer.save_table("variant_comparison", table)
    display = table.assign(verdict=pd.Series([verdict_cell(v) for v in table["verdict"]], dtype=object))
    sec.table("Setups per variant", html_table(display, table_id="variant-table"))
    shares = pool_share_table(pool)
    if shares.empty:
        sec.notes.append("No pre-training pool shares stored (results/pool.csv): run `fairssl run` again.")
    else:
        writer.save_table("pool_shares", shares)
        sec.table(
            "Pre-training pool composition",
            html_table(shares, table_id="pool-table"),
            "Share of the pre-training windows per group (mean over seeds) and the window count; a variant "
            "that does not change the pool shows the full pool's shares.",
        )
    return sec
