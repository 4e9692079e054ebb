"""The self-contained HTML report, built only from a run folder's stored tables.

``build_report(run_dir)`` reads ``results/`` and ``dataset/``, draws the figures (PNG + SVG under
``figures/``), and writes ``report.html`` with the images embedded (opens offline).
"""

from __future__ import annotations

import base64
import html
import platform
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from fairssl import __version__
from fairssl.errors import DataError
from fairssl.report import figures
from fairssl.report.tables import headline, summary_table


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def _embed(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() and path.stat().st_size > 1 else pd.DataFrame()


def build_report(run_dir: str | Path) -> Path:
    """(Re)build ``report.html`` of a run folder from its stored results; returns its path."""
    root = Path(run_dir)
    summary = _read(root / "results" / "summary.csv")
    if summary.empty:
        raise DataError(
            f"{root} has no results/summary.csv; run `fairssl run` first (or point at a run folder)"
        )
    figs_dir = root / "figures"
    images = []
    fig = figures.metric_by_setup(summary, "auroc", ylabel="test AUROC")
    images.append(
        (
            "Performance by setup",
            "Test AUROC per setup: grey points are seeds, large points the mean with its 95% CI.",
            _embed(figures.save(fig, figs_dir, "auroc_by_setup")),
        )
    )
    fig = figures.metric_by_setup(
        summary, "parity_deviation", ylabel="parity deviation", band=figures.FOUR_FIFTHS
    )
    images.append(
        (
            "Parity deviation by setup",
            "Mean |1 - ratio| over the six fairness ratios and all "
            "attributes (lower is fairer; the dotted line marks the four-fifths band).",
            _embed(figures.save(fig, figs_dir, "parity_deviation_by_setup")),
        )
    )
    cka = _read(root / "results" / "cka.csv")
    if not cka.empty:
        fig = figures.cka_heatmaps(cka)
        images.append(
            (
                "Where the difference lives: CKA",
                "Debiased linear CKA between the supervised "
                "model's conv layers (rows) and each SSL setup's (columns) on the test windows.",
                _embed(figures.save(fig, figs_dir, "cka_heatmaps")),
            )
        )
    audit = {name: _read(root / "dataset" / f"{name}.csv") for name in ("splits", "groups", "label_bias")}
    env = Environment(loader=PackageLoader("fairssl.report", "templates"), autoescape=select_autoescape())
    page = env.get_template("report.html").render(
        title=root.name,
        headline=headline(summary),
        summary=summary_table(summary).to_html(index=False, classes="table", float_format=_fmt, na_rep="–"),
        images=images,
        audit={
            k: v.to_html(index=False, classes="table", float_format=_fmt, na_rep="–")
            for k, v in audit.items()
            if not v.empty
        },
        config=html.escape((root / "config.toml").read_text()) if (root / "config.toml").is_file() else "",
        versions=f"fairssl {__version__}, Python {platform.python_version()}, pandas {pd.__version__}",
    )
    out = root / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
