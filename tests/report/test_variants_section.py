"""The across-variants section of a grid study's page: comparison table, pool shares and the figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PathCollection

from fairssl.report.comparison import setup_comparison
from fairssl.report.html import build_report
from fairssl.report.variant_figures import (
    fairness_across_variants,
    pool_share_table,
    variant_comparison_table,
)

VARIANTS = (("pool=full", 0), ("pool=balanced:race", 7))


def _grid(make_run, make_grid, tmp_path: Path) -> Path:
    """A grid study of two variants (3 setups x 3 seeds each), stacked as ``fairssl run`` stacks them."""
    parts = [
        (
            name,
            make_run(
                tmp_path / str(rng_seed), setups=("supervised", "0", "3"), seeds=(0, 1, 2), rng_seed=rng_seed
            ),
        )
        for name, rng_seed in VARIANTS
    ]
    return make_grid(tmp_path / "grid", parts)


def _stacked(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "results" / name, dtype={"setup": str})


def _points(ax) -> np.ndarray:
    """(n, 2) positions of the scatter points of an axis (error bars are line collections)."""
    return np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])


def test_comparison_table_holds_each_variants_own_seed_means(make_run, make_grid, tmp_path: Path) -> None:
    root = _grid(make_run, make_grid, tmp_path)
    summary, stacked = _stacked(root, "summary.csv"), _stacked(root, "comparison.csv")
    comp = setup_comparison(stacked)
    table = variant_comparison_table(comp)
    assert list(table["variant"].unique()) == ["pool=full", "pool=balanced:race"]  # grid order kept
    assert list(table[table.variant == "pool=full"]["setup"]) == ["supervised", "0", "3"]
    # the values are each variant's means over its own runs (summary.csv), never pooled over variants
    means = summary.groupby(["variant", "setup"])[["auroc", "parity_deviation"]].mean()
    for _, r in table.iterrows():
        auroc, pdev = means.loc[(r["variant"], r["setup"])]
        assert r["AUROC"].startswith(f"{auroc:.3f} [")
        assert r["parity deviation"].startswith(f"{pdev:.3f} [")
        assert r["seeds"] == 3
    sup = table[table.setup == "supervised"]
    assert (sup["PD improvement"] == "baseline").all() and (sup["verdict"] == "baseline").all()
    # the improvement is against the same variant's supervised mean, not a pooled one
    own = summary[summary.variant == "pool=balanced:race"].groupby("setup")["parity_deviation"].mean()
    row = table[(table.variant == "pool=balanced:race") & (table.setup == "3")].iloc[0]
    assert row["PD improvement"].startswith(
        f"{100 * (own['supervised'] - own['3']) / own['supervised']:.0f}%"
    )
    verdicts = stacked.set_index(["variant", "setup"])["verdict"]
    assert row["verdict"] == verdicts.loc[("pool=balanced:race", "3")]


def test_pool_shares_are_means_over_seeds_and_absent_groups_show_zero() -> None:
    pool = pd.DataFrame(
        [
            ("full", 0, "sex", "female", 40, 0.4),
            ("full", 0, "sex", "male", 60, 0.6),
            ("full", 1, "sex", "female", 50, 0.5),
            ("full", 1, "sex", "male", 50, 0.5),
            ("exclude", 0, "sex", "male", 70, 1.0),
            ("exclude", 1, "sex", "male", 70, 1.0),
        ],
        columns=["variant", "seed", "attribute", "group", "windows", "share"],
    )
    table = pool_share_table(pool).set_index(["attribute", "group"])
    assert list(table.columns) == ["full", "exclude"]
    assert table.loc[("sex", "female"), "full"] == "45.0% (45)"
    assert table.loc[("sex", "male"), "full"] == "55.0% (55)"
    assert table.loc[("sex", "female"), "exclude"] == "0.0% (0)"
    assert table.loc[("sex", "male"), "exclude"] == "100.0% (70)"
    assert pool_share_table(pd.DataFrame()).empty


def test_figure_draws_one_point_per_variant_and_setup_in_three_panels(
    make_run, make_grid, tmp_path: Path
) -> None:
    comp = setup_comparison(_stacked(_grid(make_run, make_grid, tmp_path), "comparison.csv"))
    fig = fairness_across_variants(comp)
    pd_ax, auroc_ax, imp_ax = fig.axes[:3]
    assert len(_points(pd_ax)) == 6 and len(_points(auroc_ax)) == 6
    assert len(_points(imp_ax)) == 4  # supervised has no improvement over itself
    # the plotted values are the comparison's means (improvement in %)
    assert np.allclose(sorted(_points(auroc_ax)[:, 1]), sorted(comp["auroc"]))
    ssl = comp[comp.setup != "supervised"]
    assert np.allclose(sorted(_points(imp_ax)[:, 1]), sorted(100 * ssl["improvement"]))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["pool=full", "pool=balanced:race"]
    plt.close(fig)
    one = fairness_across_variants(comp[comp.variant == "pool=full"])
    assert "one variant only" in one.axes[0].texts[0].get_text()
    plt.close(one)


def test_single_study_page_says_how_to_compare_variants(handmade_report: Path) -> None:
    html = (handmade_report / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-variants"' in html and "This study has one variant" in html


def test_grid_page_puts_the_comparison_right_after_the_audit(make_run, make_grid, tmp_path: Path) -> None:
    root = _grid(make_run, make_grid, tmp_path)
    build_report(root, formats=("png",))
    html = (root / "report.html").read_text(encoding="utf-8")
    assert html.index('id="sec-audit"') < html.index('id="sec-variants"') < html.index('id="sec-performance"')
    assert 'id="variant-table"' in html and "Fairness and AUROC across variants" in html
    saved = pd.read_csv(root / "results" / "report_tables" / "variant_comparison.csv")
    assert len(saved) == 6
