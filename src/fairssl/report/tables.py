"""Summary tables and the plain-language headline, from ``results/summary.csv``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.report.figures import setup_order


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per setup: seeds, mean AUROC, mean parity deviation, mean improvement over supervised."""
    cols = {"auroc": "AUROC", "parity_deviation": "parity deviation"}
    if "improvement" in summary:
        cols["improvement"] = "PD improvement vs supervised"
    g = summary.groupby("setup")
    table = pd.DataFrame({"seeds": g["seed"].nunique()})
    for col, name in cols.items():
        table[name] = g[col].mean()
    table = table.reindex(setup_order(summary["setup"].astype(str).unique()))
    return table.rename_axis("setup").reset_index()


def headline(summary: pd.DataFrame) -> str:
    """One sentence: the setup with the best parity deviation among those within 1 AUROC point of the best."""
    table = summary_table(summary).set_index("setup")
    if "supervised" not in table.index or len(table) < 2:
        return "Add the supervised baseline and at least one SSL setup to compare."
    sup = table.loc["supervised"]
    ssl = table.drop(index="supervised")
    ok = ssl[ssl["AUROC"] >= ssl["AUROC"].max() - 0.01]
    best = ok["parity deviation"].idxmin()
    row = ssl.loc[best]
    rel = (
        (sup["parity deviation"] - row["parity deviation"]) / sup["parity deviation"]
        if sup["parity deviation"]
        else np.nan
    )
    verb = "reduced" if rel > 0 else "increased"
    return (
        f"Setup {best} {verb} parity deviation by {abs(rel) * 100:.0f}% relative to supervised "
        f"({row['parity deviation']:.3f} vs {sup['parity deviation']:.3f}) at "
        f"{(row['AUROC'] - sup['AUROC']) * 100:+.1f} AUROC points, mean of {int(row['seeds'])} seed(s)."
    )
