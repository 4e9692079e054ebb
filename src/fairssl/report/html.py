"""The self-contained HTML report, built only from a run folder's stored tables.

``build_report(run_dir)`` reads ``results/``, ``dataset/`` and ``config.toml`` (never ``runs/``: it needs no
model, prediction or activation), writes the report's tables as CSV and JSON under
``results/report_tables/``, draws the figures (PNG, SVG and PDF under ``figures/``) and writes
``report.html`` with every image embedded as base64 PNG and no external CSS, JS or font (it opens
offline). Sections (HTML ids): ``summary``, ``audit``, ``performance``, ``groups``, ``parity``,
``supervision``, ``similarity``, ``metrics``, ``config``. A missing input leaves its section with a note
saying what is missing and how to get it.
"""

from __future__ import annotations

import base64
import html
import json
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from fairssl import __version__
from fairssl.errors import DataError
from fairssl.report import figures, tables

SECTIONS = (
    ("summary", "Summary"),
    ("audit", "Dataset audit"),
    ("performance", "Performance"),
    ("groups", "AUROC per group"),
    ("parity", "Parity deviation"),
    ("supervision", "Level of supervision"),
    ("similarity", "Representations (CKA)"),
    ("metrics", "All metrics"),
    ("config", "Configuration"),
)
"""(id, title) of the report's sections, in page order."""

MAX_METRIC_ROWS = 5000
"""Rows of the all-metrics table shown in the page; the CSV holds them all."""

_VERDICT_TEXT = {
    "baseline": "baseline",
    "fairer": "fairer",
    "not_distinguishable": "not distinguishable",
    "less_fair": "less fair",
    "no_interval": "no interval",
    "no_baseline": "no baseline",
}


# --------------------------------------------------------------------------------------------- reading
def _read(path: Path) -> pd.DataFrame:
    """A stored CSV, or an empty frame when it is absent or has no columns."""
    if not path.is_file() or path.stat().st_size <= 1:
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _read_results(results_dir: Path) -> pd.DataFrame:
    if (results_dir / "results.parquet").is_file():
        return pd.read_parquet(results_dir / "results.parquet")
    return _read(results_dir / "results.csv")


def _str_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Group-like columns as text (a CSV round trip turns setup '0' or group '1' into numbers)."""
    if frame.empty:
        return frame
    out = frame.copy()
    for c in columns:
        if c in out.columns:
            out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
    return out


_TEXT_COLUMNS = (
    "variant",
    "setup",
    "attribute",
    "group",
    "reference_group",
    "best_group",
    "worst_group",
    "reason",
    "label",
)


# ------------------------------------------------------------------------------------------ formatting
def _fmt_number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return str(int(v)) if digits == 0 and v.is_integer() and abs(v) < 1e15 else f"{v:.{digits}f}"
    return str(value)


def _ci(est: Any, low: Any, high: Any, digits: int = 3, scale: float = 1.0, suffix: str = "") -> str:
    e, lo, hi = (float(v) * scale if v is not None and pd.notna(v) else np.nan for v in (est, low, high))
    if not np.isfinite(e):
        return "–"
    text = f"{e:.{digits}f}{suffix}"
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


def _bounds(low: Any, high: Any, *, digits: int = 3) -> str:
    lo, hi = (float(v) if v is not None and pd.notna(v) else np.nan for v in (low, high))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts (values typed Any)."""
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


@dataclass
class Cell:
    """One table cell: its text, an optional numeric sort key and CSS class."""

    text: str
    sort: float | None = None
    css: str = ""


def _ci_cell(est: Any, low: Any, high: Any, *, digits: int = 3, scale: float = 1.0, suffix: str = "") -> Cell:
    """``est [low, high]`` (scaled), sorting by the estimate."""
    e = _num(est)
    return Cell(_ci(est, low, high, digits, scale, suffix), e if np.isfinite(e) else None)


def _cell(value: Any, *, digits: int = 3) -> Cell:
    if isinstance(value, Cell):
        return value
    sort = None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        sort = float(value) if np.isfinite(float(value)) else None
    return Cell(_fmt_number(value, digits), sort)


def html_table(
    frame: pd.DataFrame,
    *,
    table_id: str | None = None,
    sortable: bool = True,
    wrap: bool = False,
    digits: Mapping[str, int] | None = None,
    max_rows: int | None = None,
    numeric: Sequence[str] = (),
) -> Markup:
    """A plain HTML table of ``frame`` (cells may be :class:`Cell`); numbers right-aligned, NaN as '–'.

    ``sortable`` tables sort by a click on a header (inline script); each numeric cell carries its value
    in ``data-v`` so sorting is numeric.
    """
    if frame is None or frame.empty:
        return Markup('<p class="note">(empty table)</p>')
    digits = dict(digits or {})
    rows = frame if max_rows is None else frame.head(max_rows)
    attrs = f' id="{html.escape(table_id)}"' if table_id else ""
    cls = "t" + (" sortable" if sortable else "") + (" wrap" if wrap else "")
    out = [f'<div class="scroll"><table class="{cls}"{attrs}><thead><tr>']
    for col in rows.columns:
        out.append(f"<th>{html.escape(str(col))}</th>")
    out.append("</tr></thead><tbody>")
    numeric_cols = {str(c) for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])} | set(numeric)
    for rec in rows.itertuples(index=False):
        out.append("<tr>")
        for col, value in zip(rows.columns, rec, strict=True):
            cell = _cell(value, digits=digits.get(str(col), 3))
            classes = [cell.css] if cell.css else []
            if cell.sort is not None or str(col) in numeric_cols:
                classes.append("num")
            cattr = f' class="{" ".join(classes)}"' if classes else ""
            sattr = f' data-v="{cell.sort:.12g}"' if cell.sort is not None else ""
            out.append(f"<td{cattr}{sattr}>{html.escape(cell.text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return Markup("".join(out))


# ------------------------------------------------------------------------------------------ the page
@dataclass
class FigureBlock:
    """An embedded figure with its caption and the paths of its saved files."""

    title: str
    caption: str
    src: str
    files: list[str]
    fig_id: str


@dataclass
class Section:
    """One section of the page: blocks in order (figures, tables, paragraphs) and notes on what is missing."""

    id: str
    title: str
    intro: str = ""
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self, paragraph: str) -> None:
        self.blocks.append(("text", paragraph))

    def html(self, markup: Markup) -> None:
        self.blocks.append(("html", markup))

    def table(self, title: str, markup: Markup, note: str = "") -> None:
        self.blocks.append(("table", (title, markup, note)))

    def figure(self, block: FigureBlock) -> None:
        self.blocks.append(("figure", block))


class _Builder:
    """Draws figures into ``figures/`` and writes tables into ``results/report_tables/``."""

    def __init__(self, root: Path, formats: Sequence[str]) -> None:
        self.root = root
        self.figs_dir = root / "figures"
        self.tables_dir = root / "results" / "report_tables"
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        self.formats = formats
        self.saved_tables: list[str] = []

    def figure(self, name: str, title: str, caption: str, draw: Callable[[], Any]) -> FigureBlock:
        png = figures.save(draw(), self.figs_dir, name, formats=self.formats)
        files = [f"figures/{name}.{fmt}" for fmt in dict.fromkeys(["png", *self.formats])]
        src = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        return FigureBlock(title, caption, src, files, f"fig-{name}")

    def save_table(self, name: str, frame: pd.DataFrame) -> None:
        if frame is None:
            return
        frame.to_csv(self.tables_dir / f"{name}.csv", index=False)
        records = json.loads(frame.to_json(orient="records", double_precision=10))
        (self.tables_dir / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")
        self.saved_tables.append(name)


def software_versions() -> dict[str, str]:
    """Versions of fairssl, Python, torch, numpy, pandas, scikit-learn, scipy, matplotlib and the platform.

    Read from the installed packages' metadata (torch is not imported).
    """
    out = {"fairssl": __version__, "python": sys.version.split()[0]}
    for package in ("torch", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover
            out[package] = "not installed"
    out["platform"] = platform.platform()
    out["machine"] = platform.machine()
    return out


def _environment_rows(root: Path) -> pd.DataFrame:
    recorded: dict[str, str] = {}
    env_file = root / "results" / "environment.json"
    if env_file.is_file():
        try:
            recorded = {str(k): str(v) for k, v in json.loads(env_file.read_text()).items()}
        except (json.JSONDecodeError, AttributeError):
            recorded = {}
    current = software_versions()
    keys = list(dict.fromkeys([*recorded, *current]))
    if recorded and all(recorded.get(k) == current.get(k) for k in keys):
        return pd.DataFrame(
            {"software": keys, "version (results and this report)": [current[k] for k in keys]}
        )
    return pd.DataFrame(
        {
            "software": keys,
            "when the results were computed": [recorded.get(k, "not recorded") for k in keys],
            "when this report was built": [current.get(k, "–") for k in keys],
        }
    )


def _layer_names(root: Path, cka: pd.DataFrame) -> list[str]:
    if not cka.empty and "layer_b" in cka:
        return sorted({str(v) for v in cka["layer_b"]})
    cfg = root / "config.toml"
    if cfg.is_file():
        import tomllib

        try:
            widths = tomllib.loads(cfg.read_text()).get("model", {}).get("widths", [0, 0, 0])
            return [f"conv{i + 1}" for i in range(len(widths))]
        except tomllib.TOMLDecodeError:
            pass
    return ["conv1", "conv2", "conv3"]


def _variant_links(root: Path, names: Sequence[str]) -> list[tuple[str, str]]:
    """(variant name, relative link to its report or "") for each variant of a grid study."""
    reports: dict[str, str] = {}
    for info in sorted((root / "variants").glob("*/variant.json")):
        try:
            name = str(json.loads(info.read_text()).get("name", ""))
        except (json.JSONDecodeError, AttributeError):
            continue
        if (info.parent / "report.html").is_file():
            reports[name] = info.parent.relative_to(root).as_posix() + "/report.html"
    return [(name, reports.get(name, "")) for name in names]


def _verdict_cell(verdict: Any) -> Cell:
    v = str(verdict)
    return Cell(_VERDICT_TEXT.get(v, v), None, f"v-{v}")


# --------------------------------------------------------------------------------------- the sections
def _summary_section(
    comp: pd.DataFrame,
    summary: pd.DataFrame,
    label_bias: pd.DataFrame,
    ratios: pd.DataFrame,
    warnings: list[str],
) -> tuple[str, list[str], Markup]:
    headline = tables.headline(summary)
    points = tables.summary_points(summary, label_bias=label_bias, ratios=ratios, warnings=warnings)
    display = tables.summary_table(summary)
    if not comp.empty:
        display = display.assign(verdict=pd.Series([_verdict_cell(v) for v in comp["verdict"]], dtype=object))
    return headline, points, html_table(display, table_id="summary-table")


def _audit_section(b: _Builder, root: Path) -> tuple[Section, pd.DataFrame, list[str]]:
    sec = Section(
        "audit",
        "Dataset audit (stage 1)",
        "Before any model: how many windows and subjects each split holds, how the protected groups are "
        "represented, and whether the ground-truth labels already differ by group (label bias: mean "
        "difference of P(y=1) against the reference group, ideal 0; disparate impact, their ratio, ideal 1, "
        "outside 0.8-1.25 fails the four-fifths rule).",
    )
    ds = root / "dataset"
    groups = _str_columns(_read(ds / "groups.csv"), _TEXT_COLUMNS)
    sizes = _read(ds / "sizes.csv")
    refs = _str_columns(_read(ds / "references.csv"), ("attribute", "reference"))
    overlap = _read(ds / "overlap.csv")
    warn_frame = _read(ds / "warnings.csv")
    warnings = [str(w) for w in warn_frame["warning"]] if "warning" in warn_frame else []
    if groups.empty and sizes.empty:
        sec.notes.append(
            "No audit tables in dataset/ (the run folder predates the audit or they were deleted): run "
            "`fairssl run` again on this folder (finished runs are kept) or `fairssl audit`."
        )
        return sec, pd.DataFrame(), warnings
    split = tables.split_table(sizes, groups)
    b.save_table("audit_splits", split)
    if not split.empty:
        sec.table(
            "Split sizes",
            html_table(split, digits={"prevalence": 3, "missing_fraction": 3}),
            "Windows, subjects, labelled windows, positives, prevalence P(y=1) and the fraction of missing "
            "values per split.",
        )
    if not overlap.empty and "shared_subjects" in overlap:
        shared = int(overlap["shared_subjects"].sum())
        sec.text(
            "Splits are subject-disjoint (no subject in two splits)."
            if shared == 0
            else f"Warning: {shared} subject(s) are shared between splits: re-split by subject."
        )
    lb = tables.label_bias_table(groups, references=refs if not refs.empty else None)
    b.save_table("audit_label_bias", lb)
    if not lb.empty:
        sec.figure(
            b.figure(
                "label_bias",
                "Label prevalence per group",
                "P(y=1) of the ground truth per group (all windows); the dashed line is the reference "
                "group's (grey bar); DI = disparate impact against it, in red outside 0.8-1.25.",
                lambda: figures.label_bias(lb),
            )
        )
        view = lb.drop(columns=["is_reference"], errors="ignore").rename(
            columns={
                "mean_difference": "MD",
                "disparate_impact": "DI",
                "test_windows": "test n",
                "test_positives": "test pos",
                "test_negatives": "test neg",
            }
        )
        if "DI" in view:
            view["DI"] = pd.Series(
                [
                    Cell(
                        _fmt_number(v),
                        float(v) if np.isfinite(v) else None,
                        "" if not np.isfinite(v) or 0.8 <= v <= 1.25 else "bad",
                    )
                    for v in pd.to_numeric(view["DI"], errors="coerce")
                ],
                index=view.index,
                dtype=object,
            )
        sec.table(
            "Groups and label bias",
            html_table(view, digits={"share": 3, "test n": 0, "test pos": 0, "test neg": 0}),
            "Windows, share and subjects over all splits; prevalence P(y=1 | group); MD = mean difference "
            "of the prevalence against the reference group (ideal 0); DI = disparate impact, their ratio "
            "(ideal 1, in red outside 0.8-1.25); the test split's windows, positives and negatives (what "
            "the fairness metrics are computed on).",
        )
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        opened = " open" if len(warnings) <= 8 else ""
        sec.html(
            Markup(
                f'<details class="warnbox"{opened}><summary><b>Audit warnings ({len(warnings)})</b>: small '
                f"groups, missing values, shared subjects</summary><ul>{items}</ul></details>"
            )
        )
    else:
        sec.text("The audit raised no warning.")
    return sec, lb, warnings


def _performance_section(
    b: _Builder, summary: pd.DataFrame, comp: pd.DataFrame, tests: pd.DataFrame
) -> Section:
    sec = Section(
        "performance",
        "Performance per setup (stage 5)",
        "Test AUROC of each setup: per seed with the run's subject-level bootstrap 95% CI, and the mean over "
        "seeds with its Student-t 95% CI (with one seed, the bootstrap CI). AUROC change is against the "
        "supervised run of the same seed, in AUROC points (x100).",
    )
    sec.figure(
        b.figure(
            "auroc_by_setup",
            "Test AUROC by setup",
            "Grey points: one seed each, with its bootstrap 95% CI; large points: mean over seeds with "
            "its 95% "
            "CI; dashed: the supervised mean.",
            lambda: figures.metric_by_setup(
                summary, "auroc", ylabel="test AUROC", low="auroc_low", high="auroc_high"
            ),
        )
    )
    if not comp.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "seeds": r["n_seeds"],
                    "AUROC [95% CI]": _ci_cell(r["auroc"], r["auroc_low"], r["auroc_high"]),
                    "CI from": r["auroc_ci"],
                    "AUROC change vs supervised, points [95% CI]": _ci_cell(
                        r["auroc_change"], r["auroc_change_low"], r["auroc_change_high"], digits=1, scale=100
                    ),
                }
                for r in _records(comp)
            ]
        )
        sec.table(
            "Across seeds",
            html_table(view),
            "Mean over seeds with the Student-t 95% CI; AUROC change = mean paired difference against the "
            "supervised run of the same seed, in AUROC points.",
        )
    per_run = _per_run_view(summary)
    sec.table(
        "Every run",
        html_table(per_run),
        "Each run's subject-level bootstrap 95% CI; the changes are paired bootstraps against the supervised "
        "run of the same seed (both models scored on the same resamples).",
    )
    if not tests.empty and "metric" in tests:
        sec.table(
            "Paired test against supervised (AUROC)",
            html_table(_tests_view(tests, "auroc")),
            "Seeds are the pairs; Wilcoxon signed-rank test, Holm-adjusted over the setups. With fewer than "
            "6 seeds the smallest possible two-sided p is above 0.05.",
        )
    return sec


def _per_run_view(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its bootstrap CIs and the paired bootstrap against supervised of the same seed."""
    s = summary.copy()
    s["setup"] = s["setup"].astype(str)
    order = {k: i for i, k in enumerate(tables.setup_order(s["setup"].unique()))}
    s = s.sort_values(
        ["setup", "seed"], key=lambda c: c.map(order) if c.name == "setup" else c, kind="stable"
    )
    rows = []
    for r in _records(s):

        def g(name: str, r: dict[str, Any] = r) -> Any:
            return r.get(name, np.nan)

        rel = g("relative_improvement_diff")
        rows.append(
            {
                "setup": r["setup"],
                "seed": r.get("seed", ""),
                "AUROC [bootstrap CI]": _ci_cell(g("auroc"), g("auroc_low"), g("auroc_high")),
                "parity deviation [bootstrap CI]": _ci_cell(g("parity_deviation"), g("pd_low"), g("pd_high")),
                "AUROC change, points [paired CI]": _ci_cell(
                    g("auroc_difference_diff"),
                    g("auroc_difference_diff_low"),
                    g("auroc_difference_diff_high"),
                    digits=1,
                    scale=100,
                ),
                "PD change [paired CI]": _ci_cell(
                    g("parity_deviation_difference_diff"),
                    g("parity_deviation_difference_diff_low"),
                    g("parity_deviation_difference_diff_high"),
                ),
                "PD improvement [paired CI]": _ci_cell(
                    rel if np.isfinite(_num(rel)) else g("improvement"),
                    g("relative_improvement_diff_low"),
                    g("relative_improvement_diff_high"),
                    digits=0,
                    scale=100,
                    suffix="%",
                ),
                "run": r.get("run_id", ""),
            }
        )
    return pd.DataFrame(rows)


def _tests_view(tests: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``tests.csv`` rows of one metric: paired differences across seeds, Wilcoxon p and Holm-adjusted p."""
    scale = 100 if metric == "auroc" else 1
    digits = 1 if metric == "auroc" else 3
    unit = " (points)" if metric == "auroc" else ""
    rows = []
    for r in _records(tests[tests["metric"] == metric]):
        rel = _num(r.get("relative_improvement"))
        rows.append(
            {
                "setup": str(r["setup"]),
                "pairs (seeds)": r.get("n_pairs"),
                f"mean difference vs supervised{unit} [95% CI]": _ci_cell(
                    r.get("mean_difference"),
                    r.get("diff_ci_low"),
                    r.get("diff_ci_high"),
                    digits=digits,
                    scale=scale,
                ),
                "relative improvement": Cell(f"{100 * rel:+.0f}%", rel) if np.isfinite(rel) else Cell("–"),
                "p (Wilcoxon)": _num(r.get("p_value")),
                "p (Holm)": _num(r.get("p_adjusted")),
                "note": "" if pd.isna(r.get("reason")) else str(r.get("reason")),
            }
        )
    return pd.DataFrame(rows)


def _groups_section(b: _Builder, gtab: pd.DataFrame, gaps: pd.DataFrame) -> Section:
    sec = Section(
        "groups",
        "AUROC per group",
        "Test AUROC of each protected group in each setup (mean over seeds, 95% CI). A group smaller than "
        "evaluation.min_group_size or without both classes has no value (see the reason codes in the "
        "all-metrics table).",
    )
    if gtab.empty:
        sec.notes.append("No per-group AUROC in results/results.parquet.")
        return sec
    sec.figure(
        b.figure(
            "auroc_by_group",
            "AUROC per group and setup",
            "One panel per protected attribute (overall first); points are means over seeds with 95% CIs; "
            "n = "
            "test windows of the group; the dotted line is chance (0.5).",
            lambda: figures.auroc_by_group(gtab),
        )
    )
    setups = tables.setup_order(gtab["setup"].unique())
    wide_rows = []
    for (attribute, group), sub in gtab.groupby(["attribute", "group"], sort=False):
        rec: dict[str, Any] = {"attribute": attribute, "group": group, "n (test)": int(sub["n_group"].max())}
        by_setup = {str(r["setup"]): r for r in _records(sub)}
        for s in setups:
            r = by_setup.get(s)
            rec[s] = _ci_cell(r["estimate"], r["ci_low"], r["ci_high"], digits=2) if r else Cell("–")
        wide_rows.append(rec)
    sec.table(
        "AUROC per group and setup",
        html_table(pd.DataFrame(wide_rows)),
        "Mean over seeds [95% CI]; n = test windows of the group.",
    )
    if not gaps.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "attribute": r["attribute"],
                    "seeds": r["n_seeds"],
                    "best group": r["best_group"],
                    "worst group": r["worst_group"],
                    "AUROC gap best - worst [95% CI]": _ci_cell(r["gap"], r["gap_low"], r["gap_high"]),
                }
                for r in _records(gaps)
            ]
        )
        sec.table(
            "AUROC gap between groups",
            html_table(view),
            "Per run, the AUROC of the best group of an attribute minus that of the worst (0 is ideal), then "
            "the mean over seeds [95% CI]; best and worst group name both when seeds disagree.",
        )
    return sec


def _parity_section(
    b: _Builder, summary: pd.DataFrame, comp: pd.DataFrame, cells: pd.DataFrame, tests: pd.DataFrame
) -> Section:
    sec = Section(
        "parity",
        "Parity deviation and its improvement over supervised",
        "Parity deviation is the mean of |1 - ratio| over the six fairness ratios (disparate impact, error "
        "rate, false discovery, false negative, false omission and false positive rate ratios) of every "
        "group against its attribute's reference group, pooled over the attributes: 0 is parity, larger is "
        "less fair; 0.2 marks the four-fifths band. Improvement = (PD_supervised - PD_setup) / "
        "PD_supervised: "
        "above 0 the setup is fairer.",
    )
    sec.figure(
        b.figure(
            "parity_deviation_boxplots",
            "|1 - ratio| per setup",
            "Each box pools the attributes x groups x six ratios (each averaged over seeds); the green "
            "band is "
            "|1 - ratio| <= 0.2; diamonds mark the setup's parity deviation.",
            lambda: figures.parity_boxplots(cells, summary),
        )
    )
    sec.figure(
        b.figure(
            "parity_deviation_by_setup",
            "Parity deviation by setup",
            "Grey points: one seed each with its bootstrap 95% CI; large points: mean over seeds (95% CI); "
            "dotted green line: 0.2.",
            lambda: figures.metric_by_setup(
                summary,
                "parity_deviation",
                ylabel="parity deviation",
                band=figures.FOUR_FIFTHS,
                low="pd_low",
                high="pd_high",
            ),
        )
    )
    if (comp["setup"] != tables.SUPERVISED).any() and (comp["setup"] == tables.SUPERVISED).any():
        sec.figure(
            b.figure(
                "pd_improvement",
                "Improvement over supervised",
                "Relative parity-deviation improvement over the supervised run; grey: one seed with its "
                "paired-bootstrap 95% CI (both models scored on the same resamples); large points: the seed "
                "means with the across-seed 95% CI. An interval crossing 0 is not distinguishable from "
                "supervised.",
                lambda: figures.improvement_by_setup(summary),
            )
        )
    else:
        sec.notes.append(
            "No improvement over supervised: it needs the 'supervised' setup and at least one SSL setup run "
            "with the same seeds (finetune.setups, seeds)."
        )
    if not comp.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "seeds": r["n_seeds"],
                    "parity deviation [95% CI]": _ci_cell(r["parity_deviation"], r["pd_low"], r["pd_high"]),
                    "PD change vs supervised [95% CI]": _ci_cell(
                        r["pd_change"], r["pd_change_low"], r["pd_change_high"]
                    ),
                    "improvement [95% CI]": _ci_cell(
                        r["improvement"],
                        r["improvement_low"],
                        r["improvement_high"],
                        digits=0,
                        scale=100,
                        suffix="%",
                    ),
                    "CI from": r["improvement_ci"],
                    "verdict": _verdict_cell(r["verdict"]),
                }
                for r in _records(comp)
            ]
        )
        sec.table(
            "Parity deviation and improvement across seeds",
            html_table(view),
            "Improvement = (mean PD_supervised - mean PD_setup) / mean PD_supervised over the paired seeds; "
            "its CI is the across-seed t CI of the paired PD differences divided by the supervised mean (one "
            "seed: the run's paired bootstrap CI).",
        )
    if not tests.empty and "metric" in tests and (tests["metric"] == "parity_deviation").any():
        sec.table(
            "Paired test across seeds against supervised (parity deviation)",
            html_table(_tests_view(tests, "parity_deviation")),
        )
    return sec


def _supervision_section(b: _Builder, levels: pd.DataFrame) -> Section:
    sec = Section(
        "supervision",
        "Performance and fairness against the level of supervision",
        "The paper's two plots: the supervised model, then SSL with 0 to 3 frozen encoder layers (more "
        "frozen "
        "layers = less supervised fine-tuning). The two 1-layer and the two 2-layer setups are shown side by "
        "side; lines join the mean of the setups at each level.",
    )
    if levels.empty:
        sec.notes.append("No setup with a known number of frozen layers.")
        return sec
    sec.figure(
        b.figure(
            "auroc_vs_frozen",
            "AUROC vs frozen layers",
            "Test AUROC (mean over seeds, 95% CI) against the level of supervision.",
            lambda: figures.auroc_vs_frozen(levels),
        )
    )
    sec.figure(
        b.figure(
            "fairness_vs_frozen",
            "Fairness vs frozen layers",
            "Left: AUROC gap between the best and the worst group of each attribute (mean over seeds); "
            "right: "
            "parity deviation (mean over seeds, 95% CI; dotted: 0.2). Lower is fairer in both.",
            lambda: figures.fairness_vs_frozen(levels),
        )
    )
    return sec


def _similarity_section(
    b: _Builder, cka: pd.DataFrame, best_worst: pd.DataFrame, ratios: pd.DataFrame, conditioned: pd.DataFrame
) -> Section:
    sec = Section(
        "similarity",
        "Where the difference lives: representation similarity (stage 4)",
        "Debiased linear CKA between the conv-layer activations of the supervised model (rows) and each SSL "
        "model (columns) on the test windows: 1 = the same representation up to rotation and scale, 0 = "
        "unrelated. Conditioned CKA repeats this on the windows of one group at a time, all groups at the "
        "same "
        "sample size, against a permutation baseline.",
    )
    if cka.empty:
        sec.notes.append(
            "No CKA tables (results/cka.csv): similarity was disabled (similarity.enabled = false) or no SSL "
            "setup shares a seed with a supervised run."
        )
        return sec
    sec.figure(
        b.figure(
            "cka_heatmaps",
            "CKA: supervised x SSL layers",
            "Mean over seeds of the debiased linear CKA between supervised layers (rows) and SSL layers "
            "(columns).",
            lambda: figures.cka_heatmaps(cka),
        )
    )
    if best_worst.empty:
        sec.notes.append(
            "No conditioned CKA difference (results/cka_best_worst.csv is empty): it needs at least two "
            "groups per attribute with a per-group AUROC and enough windows (evaluation.min_group_size)."
        )
    else:
        sec.figure(
            b.figure(
                "cka_best_worst",
                "Best minus worst group, per attribute",
                "CKA of the best-performing group minus that of the worst (by the supervised model's "
                "per-group "
                "AUROC), mean over seeds; * marks cells where the difference exceeds the permutation bound "
                "(the 95% quantile of the difference between two random sets of the same size), i.e. a "
                "signal "
                "rather than sampling noise.",
                lambda: figures.cka_best_worst(best_worst),
            )
        )
        n_exc = int(best_worst["exceeds"].sum())
        sec.text(
            f"{n_exc} of {len(best_worst)} setup x attribute x layer-pair cells exceed the permutation bound."
        )
    if ratios.empty:
        sec.notes.append(
            "No dissimilarity ratio (results/cka_ratio.csv is empty): it needs at least two attributes."
        )
    else:
        per_setup = ratios.drop_duplicates("setup")
        sec.table(
            "Dissimilarity ratio",
            html_table(
                per_setup[
                    [
                        "setup",
                        "largest_gap_attribute",
                        "smallest_gap_attribute",
                        "ratio",
                        "spearman",
                        "n_seeds",
                    ]
                ].rename(columns={"spearman": "Spearman(G, D)"}),
                digits={"ratio": 2},
            ),
            "D of the attribute with the largest AUROC gap G divided by D of the one with the smallest, "
            "D = mean |CKA_best - CKA_worst| over layer pairs (mean over seeds); above 1, larger performance "
            "gaps go with more dissimilar representations (the paper reports up to 13x).",
        )
        sec.table(
            "Performance gap and representation dissimilarity per attribute",
            html_table(
                ratios[
                    [
                        "setup",
                        "attribute",
                        "best_group",
                        "worst_group",
                        "perf_gap",
                        "dissimilarity",
                        "n_exceeding",
                        "n_layer_pairs",
                    ]
                ].rename(
                    columns={
                        "perf_gap": "G (AUROC gap)",
                        "dissimilarity": "D",
                        "n_exceeding": "layer pairs beyond bound (mean)",
                    }
                )
            ),
            "G = AUROC of the best minus the worst group (supervised model); D as above; how many of the "
            "layer pairs exceed the permutation bound (mean over seeds).",
        )
    if not conditioned.empty:
        sec.text(
            f"The per-group conditioned CKA ({len(conditioned)} rows with draws, spread and permutation "
            "baseline) is in results/cka_conditioned.csv."
        )
    return sec


def _metrics_section(b: _Builder, results: pd.DataFrame) -> Section:
    sec = Section(
        "metrics",
        "Every metric",
        "Every performance and fairness metric for the recorded labels, averaged over seeds (estimate = mean "
        "over seeds; 95% CI across seeds, or the run's bootstrap CI with one seed). n = test windows of the "
        "group (for fairness rows, n ref = of the reference group; for performance rows, n ref = positives). "
        "The reason column explains a missing value (e.g. zero_denominator, group_too_small). Type words "
        "into the box to filter (all must match); click a header to sort.",
    )
    if results.empty:
        sec.notes.append("No results/results.parquet: run `fairssl run` first.")
        return sec
    table = tables.metric_table(results, label="recorded")
    b.save_table("metrics_by_setup", table)
    if "label" in results and (results["label"] == "clean").any():
        b.save_table("metrics_by_setup_clean_labels", tables.metric_table(results, label="clean"))
        sec.text(
            "The same table for the simulator's clean (noise-free) labels is in "
            "results/report_tables/metrics_by_setup_clean_labels.csv."
        )
    if table.empty:
        sec.notes.append("No metric rows for the recorded labels.")
        return sec
    view = pd.DataFrame(
        {
            **({"variant": table["variant"]} if "variant" in table else {}),
            "setup": table["setup"],
            "kind": table.get("kind", ""),
            "attribute": table["attribute"],
            "group": table["group"],
            "ref": table.get("reference_group", ""),
            "metric": table["metric"],
            "n": table["n_group"],
            "n ref": table["n_reference"],
            "seeds": table["n_seeds"],
            "estimate": table["estimate"],
            "95% CI": [
                _bounds(lo, hi, digits=4) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
            ],
            "CI from": table["ci"],
            "reason": table["reason"],
        }
    )
    shown = min(len(view), MAX_METRIC_ROWS)
    sec.html(
        Markup(
            '<p><input type="search" id="metric-filter" placeholder="filter, e.g. 2-first-last race auroc" '
            'aria-label="filter the metrics table"> <span id="metric-count" class="note">'
            f"{shown} of {len(view)} rows</span></p>"
        )
    )
    sec.html(html_table(view, table_id="metrics-table", max_rows=MAX_METRIC_ROWS, digits={"estimate": 4}))
    sec.text(
        f"{len(view)} rows (recorded labels, collapsed over seeds)"
        + (f"; the first {MAX_METRIC_ROWS} are shown" if len(view) > MAX_METRIC_ROWS else "")
        + ". All of them: results/report_tables/metrics_by_setup.csv (.json); every run and label set: "
        "results/results.parquet (.csv)."
    )
    return sec


# ----------------------------------------------------------------------------------------------- main
def build_report(run_dir: str | Path, *, formats: Sequence[str] = figures.FORMATS) -> Path:
    """(Re)build ``report.html`` of a run folder from its stored results; returns its path.

    Reads only ``results/``, ``dataset/`` and ``config.toml``; writes ``figures/<name>.{png,svg,pdf}``
    (``formats``), ``results/report_tables/<name>.{csv,json}`` and ``report.html``. Raises DataError when
    ``results/summary.csv`` is missing (not a finished run folder).
    """
    root = Path(run_dir)
    res = root / "results"
    summary = _str_columns(_read(res / "summary.csv"), _TEXT_COLUMNS)
    if summary.empty or "setup" not in summary:
        raise DataError(
            f"{root} has no results/summary.csv; run `fairssl run` first (or point at a run folder)"
        )
    results = _str_columns(_read_results(res), _TEXT_COLUMNS)
    tests = _str_columns(_read(res / "tests.csv"), _TEXT_COLUMNS)
    cka = _str_columns(_read(res / "cka.csv"), _TEXT_COLUMNS)
    bw_raw = _str_columns(_read(res / "cka_best_worst.csv"), _TEXT_COLUMNS)
    ratio_raw = _str_columns(_read(res / "cka_ratio.csv"), _TEXT_COLUMNS)
    conditioned = _read(res / "cka_conditioned.csv")

    b = _Builder(root, formats)
    comp = tables.setup_comparison(summary)
    b.save_table("setup_comparison", comp)
    gtab = tables.group_auroc_table(results)
    b.save_table("auroc_by_group", gtab)
    gaps = tables.auroc_gap_table(results)
    b.save_table("auroc_gap", gaps)
    cells = tables.parity_cells(results)
    b.save_table("parity_cells", cells)
    levels = tables.supervision_table(comp, gaps, layer_names=_layer_names(root, cka))
    b.save_table("supervision_level", levels)
    cka_m = tables.cka_mean(cka)
    bw = tables.best_worst_table(bw_raw)
    ratios = tables.dissimilarity_table(ratio_raw)
    if not cka.empty:
        b.save_table("cka_mean", cka_m)
        b.save_table("cka_best_worst_mean", bw)
        b.save_table("dissimilarity", ratios)

    audit, label_bias, warnings = _audit_section(b, root)
    headline, points, summary_html = _summary_section(comp, summary, label_bias, ratios, warnings)
    variant_links = _variant_links(root, tables.variant_names(summary))
    if len(variant_links) > 1:  # a grid: each variant has its own full report; never pool them here
        sections = [audit]
        for sid, title in SECTIONS[2:-2]:
            sec = Section(sid, title)
            sec.notes.append(
                f"This study is a grid of {len(variant_links)} variants: the {title.lower()} section of each "
                "variant is in its own report (links in the summary above)."
            )
            sections.append(sec)
        sections.append(_metrics_section(b, results))
    else:
        sections = [
            audit,
            _performance_section(b, summary, comp, tests),
            _groups_section(b, gtab, gaps),
            _parity_section(b, summary, comp, cells, tests),
            _supervision_section(b, levels),
            _similarity_section(b, cka, bw, ratios, conditioned),
            _metrics_section(b, results),
        ]
    missing = [
        f"{name}"
        for name in ("results.parquet", "tests.csv", "cka.csv")
        if not ((res / name).is_file() or (name == "results.parquet" and (res / "results.csv").is_file()))
    ]
    config_text = (root / "config.toml").read_text() if (root / "config.toml").is_file() else ""
    env = Environment(loader=PackageLoader("fairssl.report", "templates"), autoescape=select_autoescape())
    seeds = (
        sorted({int(s) for s in pd.to_numeric(summary["seed"], errors="coerce").dropna()})
        if "seed" in summary
        else []
    )
    page = env.get_template("report.html").render(
        title=root.name,
        nav=SECTIONS,
        headline=headline,
        points=points,
        summary_table=summary_html,
        meta={
            "setups": comp["setup"].nunique() if not comp.empty else 0,
            "seeds": ", ".join(str(s) for s in seeds) or "–",
            "runs": len(summary),
            "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        },
        missing_inputs=missing,
        variant_links=variant_links if len(variant_links) > 1 else [],
        sections=sections,
        config=config_text,
        versions=html_table(_environment_rows(root), sortable=False, wrap=True),
        saved_tables=b.saved_tables,
        formats=list(dict.fromkeys(["png", *formats])),
    )
    out = root / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
