"""Every figure draws from hand-made tables, is saved as PNG, SVG and PDF, and survives empty input."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from fairssl.errors import ConfigError
from fairssl.report import figures, tables


@pytest.fixture
def stored(tmp_path: Path, make_run) -> dict[str, pd.DataFrame]:
    root = make_run(tmp_path / "run", seeds=(0, 1))
    res = root / "results"
    return {
        "summary": pd.read_csv(res / "summary.csv", dtype={"setup": str}),
        "comparison": pd.read_csv(res / "comparison.csv", dtype={"setup": str}),
        "results": pd.read_parquet(res / "results.parquet"),
        "cka": pd.read_csv(res / "cka.csv", dtype={"setup": str}),
        "best_worst": pd.read_csv(res / "cka_best_worst.csv", dtype={"setup": str}),
        "groups": pd.read_csv(root / "dataset" / "groups.csv"),
    }


def _draw_all(t: dict[str, pd.DataFrame]) -> dict[str, Figure]:
    comp = tables.setup_comparison(t["comparison"])
    gaps = tables.auroc_gap_table(t["results"])
    levels = tables.supervision_table(comp, gaps)
    return {
        "auroc": figures.metric_by_setup(
            t["summary"], "auroc", ylabel="AUROC", low="auroc_low", high="auroc_high", comparison=comp
        ),
        "pd": figures.metric_by_setup(
            t["summary"], "parity_deviation", ylabel="PD", band=0.2, comparison=comp
        ),
        "improvement": figures.improvement_by_setup(t["summary"], comp),
        "groups": figures.auroc_by_group(tables.group_auroc_table(t["results"])),
        "box": figures.parity_boxplots(tables.parity_cells(t["results"]), t["summary"]),
        "auroc_frozen": figures.auroc_vs_frozen(levels),
        "fair_frozen": figures.fairness_vs_frozen(levels),
        "cka": figures.cka_heatmaps(t["cka"]),
        "best_worst": figures.cka_best_worst(tables.best_worst_table(t["best_worst"])),
        "label_bias": figures.label_bias(tables.label_bias_table(t["groups"])),
    }


def test_every_figure_is_saved_in_png_and_pdf_and_is_not_blank(stored, tmp_path: Path) -> None:
    out = tmp_path / "figures"
    for name, fig in _draw_all(stored).items():
        png = figures.save(fig, out, name)
        for fmt in ("png", "pdf"):
            assert (out / f"{name}.{fmt}").stat().st_size > 500, (name, fmt)
        assert not (out / f"{name}.svg").exists()  # SVG on request only
        figures.save(fig, out, name, formats=("svg",))  # PNG is written whatever is asked for
        assert (out / f"{name}.svg").stat().st_size > 500 and png.is_file()
        img = mpimg.imread(png)  # (H, W, 4) floats
        assert img.shape[0] > 100 and img.shape[1] > 200
        ink = (img[..., :3] < 0.9).any(axis=2).mean()  # share of non-white pixels
        assert ink > 0.01, name
    assert (out / "auroc.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert (out / "auroc.pdf").read_bytes()[:5] == b"%PDF-"


def test_default_formats_are_png_and_one_vector_format_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    assert figures.FORMATS == ("png", "pdf")
    fig = figures.empty_figure("nothing")
    with pytest.raises(ConfigError, match="figure formats must be among"):
        figures.save(fig, tmp_path, "x", formats=("png", "jpeg"))
    assert not (tmp_path / "x.png").exists()  # refused before anything is written


def test_setup_colours_are_stable_and_supervised_is_grey() -> None:
    a = figures.setup_colors(["3", "supervised", "0"])
    b = figures.setup_colors(["0", "3", "supervised"])
    assert a == b and a["supervised"] == "#6b6b6b" and len(set(a.values())) == 3
    assert figures.setup_order(["3", "custom", "0", "supervised"]) == ["supervised", "0", "3", "custom"]


def test_parity_boxes_pool_the_cells_of_each_setup(stored) -> None:
    cells = tables.parity_cells(stored["results"])
    fig = figures.parity_boxplots(cells, stored["summary"])
    ax = fig.axes[0]
    setups = [t.get_text() for t in ax.get_xticklabels()]
    assert setups == tables.setup_order(cells["setup"].unique())
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    band = [p for p in rects if p.get_y() == 0 and np.isclose(p.get_height(), figures.FOUR_FIFTHS)]
    assert band, "the four-fifths band is drawn"


@pytest.mark.parametrize(
    ("draw", "empty"),
    [
        (figures.auroc_by_group, pd.DataFrame()),
        (figures.parity_boxplots, pd.DataFrame()),
        (figures.auroc_vs_frozen, pd.DataFrame()),
        (figures.fairness_vs_frozen, pd.DataFrame()),
        (figures.cka_heatmaps, pd.DataFrame()),
        (figures.cka_best_worst, pd.DataFrame()),
        (figures.label_bias, pd.DataFrame()),
        (  # no supervised baseline: no improvement to draw
            lambda summary: figures.improvement_by_setup(
                summary, pd.DataFrame({"setup": ["0"], "kind": ["ssl"], "parity_deviation": [0.1]})
            ),
            pd.DataFrame({"setup": ["0"], "seed": [0], "parity_deviation": [0.1]}),
        ),
    ],
)
def test_empty_input_draws_a_placeholder_that_says_what_is_missing(draw, empty) -> None:
    fig = draw(empty)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("no ") for t in texts), texts


def test_one_seed_and_no_supervised_still_draw(make_run, tmp_path: Path) -> None:
    root = make_run(tmp_path / "r", setups=("0", "3"), seeds=(0,), cka=False)
    summary = pd.read_csv(root / "results" / "summary.csv", dtype={"setup": str})
    fig = figures.metric_by_setup(summary, "auroc", ylabel="AUROC", low="auroc_low", high="auroc_high")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "3"]
    comp = tables.setup_comparison(pd.read_csv(root / "results" / "comparison.csv", dtype={"setup": str}))
    fig = figures.auroc_vs_frozen(tables.supervision_table(comp, pd.DataFrame()))
    assert fig.axes[0].get_xlabel().startswith("level of supervision")


def test_building_a_report_leaves_the_callers_matplotlib_alone(handmade_report: Path) -> None:
    """A notebook keeps its backend and rcParams: the report draws without choosing a backend, its style
    in a context (it once called matplotlib.use("Agg") and rcParams.update on import)."""
    import subprocess
    import sys

    script = f"""
import sys
import matplotlib
matplotlib.use("pdf")  # the caller's own choice (a notebook's inline backend is chosen like this)
matplotlib.rcParams["axes.titlesize"] = 17
before = {{k: matplotlib.rcParams._get(k) for k in matplotlib.rcParams}}
from fairssl.report.html import build_report
build_report({str(handmade_report)!r})
after = {{k: matplotlib.rcParams._get(k) for k in matplotlib.rcParams}}
assert after == before, sorted(k for k in before if before[k] != after[k])
assert matplotlib.get_backend() == "pdf"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
