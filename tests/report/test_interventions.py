"""The report's "Interventions" view of a grid that varies ``finetune.mitigation``: the table's cost and
gain against plain supervised training, the Pareto front, the section's presence and its wiring."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairssl.report.comparison import setup_comparison
from fairssl.report.html import build_report
from fairssl.report.intervention_figures import fairness_accuracy_plane
from fairssl.report.intervention_tables import (
    inference_scope_note,
    intervention_display,
    intervention_points,
    intervention_table,
    pareto_front,
    variant_settings,
)
from fairssl.report.markdown import interventions_markdown
from fairssl.report.page import ReportWriter
from fairssl.report.sections.interventions import interventions_section

NONE, REWEIGH = "finetune.mitigation=none", "finetune.mitigation=reweigh"

# (variant, setup, kind, auroc, parity deviation, verdict, auroc_verdict)
ROWS = [
    (NONE, "supervised", "baseline", 0.80, 0.30, "baseline", ""),
    (NONE, "0", "ssl", 0.78, 0.20, "fairer", "not_distinguishable"),
    (NONE, "random:0", "control", 0.60, 0.25, "not_tested", "not_tested"),
    (REWEIGH, "supervised", "baseline", 0.79, 0.15, "baseline", ""),
    (REWEIGH, "0", "ssl", 0.82, 0.22, "not_distinguishable", "not_distinguishable"),
    (REWEIGH, "random:0", "control", 0.58, 0.40, "not_tested", "not_tested"),
]


def _stacked(rows=ROWS) -> pd.DataFrame:
    """A grid's stacked comparison.csv of hand-made values (intervals +-0.02 around each value)."""
    frame = pd.DataFrame(
        rows, columns=["variant", "setup", "kind", "auroc", "parity_deviation", "verdict", "auroc_verdict"]
    )
    frame["n_seeds"] = 3
    for col, low, high in (("auroc", "auroc_low", "auroc_high"), ("parity_deviation", "pd_low", "pd_high")):
        frame[low], frame[high] = frame[col] - 0.02, frame[col] + 0.02
    frame["correction"] = "holm"
    return setup_comparison(frame)


def _front_by_loop(points: list[tuple[float, float]]) -> list[bool]:
    """Hand-written dominance: (a, p) is beaten by (a2, p2) with a2 >= a, p2 <= p, one strictly."""
    out = []
    for a, p in points:
        beaten = any((a2 >= a and p2 <= p) and (a2 > a or p2 < p) for a2, p2 in points)
        out.append(not beaten)
    return out


def test_cost_and_gain_are_differences_from_supervised_under_none() -> None:
    points = intervention_points(_stacked())
    table = intervention_table(points)
    assert list(zip(table["mitigation"], table["setup"], strict=True)) == [
        ("none", "supervised"),
        ("none", "0"),
        ("none", "random:0"),
        ("reweigh", "supervised"),
        ("reweigh", "0"),
        ("reweigh", "random:0"),
    ]
    # reference: supervised under none (AUROC 0.80, PD 0.30), the same for every row
    assert table["auroc_cost"].to_numpy() == pytest.approx([0.0, 0.02, 0.20, 0.01, -0.02, 0.22])
    assert table["pd_gain"].to_numpy() == pytest.approx([0.0, 0.10, 0.05, 0.15, 0.08, -0.10])
    assert table["pd_gain_relative"].to_numpy() == pytest.approx(
        [0.0, 0.10 / 0.3, 0.05 / 0.3, 0.5, 0.08 / 0.3, -0.10 / 0.3]
    )
    # the within-variant verdicts are carried through unchanged (each against its own supervised run)
    assert list(table["verdict"]) == [r[5] for r in ROWS]
    # front: reweigh/supervised (0.79, 0.15) and reweigh/0 (0.82, 0.22) beat everything else
    hand = _front_by_loop([(r[3], r[4]) for r in ROWS])
    assert list(table["on_front"]) == hand == [False, False, False, True, True, False]


def test_pareto_front_matches_a_loop_and_ignores_missing_values() -> None:
    rng = np.random.default_rng(3)
    a, p = rng.random(40), rng.random(40)
    a[5], p[5] = 0.1, 0.1  # ties: two identical points on the front are both on it
    a[6], p[6] = 0.1, 0.1
    a[7] = np.nan
    expected = _front_by_loop([(x, y) for x, y in zip(a, p, strict=True) if np.isfinite(x)])
    got = pareto_front(a, p)
    assert not got[7]
    assert list(np.delete(got, 7)) == expected
    # a point that beats everything is the whole front
    assert list(pareto_front(np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.2, 0.1]))) == [True, False, False]


def test_several_axes_take_the_reference_with_the_same_other_settings() -> None:
    rows = [
        ("finetune.mitigation=none, pretrain.pool=full", "supervised", "baseline", 0.8, 0.3, "baseline", ""),
        ("finetune.mitigation=none, pretrain.pool=full", "0", "ssl", 0.7, 0.2, "fairer", "worse"),
        (
            "finetune.mitigation=none, pretrain.pool=exclude:race=black",
            "supervised",
            "baseline",
            0.9,
            0.4,
            "baseline",
            "",
        ),
        (
            "finetune.mitigation=reweigh, pretrain.pool=exclude:race=black",
            "0",
            "ssl",
            0.85,
            0.1,
            "fairer",
            "not_distinguishable",
        ),
    ]
    assert variant_settings(rows[3][0]) == {
        "finetune.mitigation": "reweigh",
        "pretrain.pool": "exclude:race=black",
    }
    assert variant_settings("base") == {}
    assert variant_settings('finetune.mitigation=penalty, finetune.mitigation_attributes=["race","sex"]') == {
        "finetune.mitigation": "penalty",
        "finetune.mitigation_attributes": '["race","sex"]',
    }
    table = intervention_table(intervention_points(_stacked(rows)))
    assert list(table["other"]) == ["pretrain.pool=full"] * 2 + ["pretrain.pool=exclude:race=black"] * 2
    assert table["auroc_cost"].to_numpy() == pytest.approx([0.0, 0.1, 0.0, 0.05])
    assert table["pd_gain"].to_numpy() == pytest.approx([0.0, 0.1, 0.0, 0.3])
    display = intervention_display(table, intervention_points(_stacked(rows)))
    assert "other settings" in display and display["AUROC cost (points)"].iloc[3] == "5.0"


def test_no_mitigation_axis_means_no_rows_and_no_section(tmp_path: Path) -> None:
    plain = _stacked([(v.replace("finetune.mitigation", "pretrain.pool"), *r) for v, *r in ROWS])
    assert intervention_points(plain).empty and intervention_table(intervention_points(plain)).empty
    assert interventions_markdown(plain) == ""
    assert interventions_section(ReportWriter(tmp_path, ("png",)), plain) is None
    assert not (tmp_path / "figures").exists()
    single = _stacked([r for r in ROWS if r[0] == NONE])  # one variant: no grid
    assert intervention_points(single).empty


def test_section_draws_the_plane_and_says_what_is_tested(tmp_path: Path) -> None:
    comp = _stacked()
    sec = interventions_section(ReportWriter(tmp_path, ("png",)), comp)
    assert sec is not None and sec.id == "interventions"
    assert "one family per variant, Holm-corrected" in sec.intro and "Not tested" in sec.intro
    assert (tmp_path / "figures" / "fairness_accuracy_plane.png").is_file()
    saved = pd.read_csv(tmp_path / "results" / "report_tables" / "interventions.csv", dtype={"setup": str})
    assert saved["pd_gain"].to_numpy() == pytest.approx([0.0, 0.10, 0.05, 0.15, 0.08, -0.10])
    caption = next(b for kind, b in sec.blocks if kind == "figure").caption
    assert "descriptive" in caption and "not a test" in caption
    assert not sec.notes  # the grid has "none": the reference exists
    markup = str(next(b for kind, b in sec.blocks if kind == "table")[1])
    assert 'data-v="0.15"' in markup and 'class="v-fairer"' in markup  # PD gain sorts by its value
    # without "none" the section says how to get a reference
    dro = [("finetune.mitigation=group_dro", *r[1:]) for r in ROWS[3:]]
    without = interventions_section(ReportWriter(tmp_path, ("png",)), _stacked(ROWS[3:] + dro))
    assert without is not None and any('"none"' in n for n in without.notes)
    assert np.isnan(intervention_table(intervention_points(_stacked(ROWS[3:] + dro)))["pd_gain"]).all()


def test_plane_figure_has_one_marker_per_point_and_a_step_front() -> None:
    from matplotlib.collections import PathCollection

    points = intervention_points(_stacked())
    fig = fairness_accuracy_plane(points)
    ax = fig.axes[0]
    offsets = np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
    offsets = offsets[np.isfinite(offsets).all(axis=1)] if len(offsets) else offsets
    drawn = {(round(x, 3), round(y, 3)) for x, y in offsets}
    assert drawn == {(r[3], r[4]) for r in ROWS}
    (front,) = [line for line in ax.get_lines() if line.get_label().startswith("Pareto")]
    xs, ys = front.get_data()
    # step ("pre") through the front points sorted by AUROC: (0.79, 0.15) then (0.82, 0.22)
    assert set(zip(np.round(xs, 3), np.round(ys, 3), strict=True)) >= {(0.79, 0.15), (0.82, 0.22)}
    assert inference_scope_note(points).startswith("Tested: within each variant (2 mitigations)")


def test_handmade_mitigation_grid_report_has_the_section(make_run, make_grid, tmp_path: Path) -> None:
    parts = [
        (name, make_run(tmp_path / str(k), setups=("supervised", "0"), seeds=(0, 1), rng_seed=k, cka=False))
        for k, name in enumerate((NONE, REWEIGH))
    ]
    root = make_grid(tmp_path / "grid", parts)
    build_report(root, formats=("png",))
    html = (root / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-interventions"' in html and "Fairness-accuracy plane of the interventions" in html
    assert html.index('id="sec-variants"') < html.index('id="sec-interventions"')
    assert (root / "figures" / "fairness_accuracy_plane.png").is_file()
    md = (root / "report.md").read_text(encoding="utf-8")
    assert "## Interventions" in md and "supervised under none" in md
    # every per-variant section stays a placeholder on the grid's page
    assert 'id="sec-performance"' in html


@pytest.mark.slow
def test_tiny_mitigation_grid_end_to_end(tmp_path: Path, tiny_config_dict) -> None:
    from fairssl.config import build_config
    from fairssl.experiments.runner import run_study

    cfg = copy.deepcopy(tiny_config_dict)
    cfg["runtime"] = {"workers": 1, "threads": 1}
    cfg["finetune"]["setups"] = ["supervised", "0"]
    cfg["finetune"]["mitigation_attributes"] = ["sex"]
    cfg["grid"] = {"finetune.mitigation": ["none", "reweigh"]}
    cfg["similarity"] = {"enabled": False}
    cfg["probes"] = {"enabled": False}
    out = run_study(build_config(cfg), run_dir=tmp_path / "run", log=lambda _m: None)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-interventions"' in html
    assert (out / "figures" / "fairness_accuracy_plane.png").is_file()
    table = pd.read_csv(out / "results" / "report_tables" / "interventions.csv", dtype={"setup": str})
    assert set(zip(table["mitigation"], table["setup"], strict=True)) == {
        ("none", "supervised"),
        ("none", "0"),
        ("reweigh", "supervised"),
        ("reweigh", "0"),
    }
    ref = table[(table.mitigation == "none") & (table.setup == "supervised")].iloc[0]
    assert ref["auroc_cost"] == 0 and ref["pd_gain"] == 0
    comparison = pd.read_csv(out / "results" / "comparison.csv", dtype={"setup": str})
    row = comparison[(comparison.variant == REWEIGH) & (comparison.setup == "0")].iloc[0]
    got = table[(table.mitigation == "reweigh") & (table.setup == "0")].iloc[0]
    assert got["auroc_cost"] == pytest.approx(ref["auroc"] - row["auroc"])
    assert got["pd_gain"] == pytest.approx(ref["parity_deviation"] - row["parity_deviation"])
