from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.experiments.probing import pooled
from fairssl.report.page import ReportWriter
from fairssl.report.probe_tables import demographic_probe_table, task_probe_gap_table
from fairssl.report.sections.probes import probes_section


def demo_rows() -> pd.DataFrame:
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for setup in ("0", "supervised"):
            for layer in ("conv1", "pooled"):
                rows.append(
                    {
                        "run_id": f"r{seed}{setup}",
                        "setup": setup,
                        "seed": seed,
                        "layer": layer,
                        "attribute": "sex",
                        "metric": "balanced_accuracy",
                        "estimate": 0.6 + shift,
                        "ci_low": 0.5 + shift,
                        "ci_high": 0.7 + shift,
                        "chance": 0.5,
                    }
                )
                rows.append(
                    {
                        "run_id": f"r{seed}{setup}",
                        "setup": setup,
                        "seed": seed,
                        "layer": layer,
                        "attribute": "sex",
                        "metric": "auroc",
                        "estimate": 0.9,
                        "ci_low": 0.8,
                        "ci_high": 1.0,
                        "chance": 0.5,
                    }
                )
    return pd.DataFrame(rows)


def test_demographic_table_averages_seeds_and_orders_setups() -> None:
    table = demographic_probe_table(demo_rows())
    assert list(table["setup"].unique()) == ["supervised", "0"]
    assert len(table) == 4 and (table["seeds"] == 2).all()
    np.testing.assert_allclose(table["estimate"], 0.65)
    np.testing.assert_allclose(table["ci_low"], 0.55)


def test_task_gap_table_keeps_the_pooled_layer_gap_only() -> None:
    task = pd.DataFrame(
        [
            {
                "setup": "0",
                "seed": s,
                "layer": layer,
                "attribute": "sex",
                "group": g,
                "metric": m,
                "estimate": v,
                "ci_low": v - 0.1,
                "ci_high": v + 0.1,
            }
            for s in (0, 1)
            for layer in ("conv1", "pooled")
            for g in ("female", "male")
            for m, v in (("gap", 0.05 if g == "female" else 0.0), ("auroc_pooled_probe", 0.8))
        ]
    )
    gaps = task_probe_gap_table(task)
    assert list(gaps["group"]) == ["female", "male"]
    np.testing.assert_allclose(gaps["estimate"], [0.05, 0.0])


def test_section_draws_a_figure_and_two_tables(tmp_path) -> None:
    writer = ReportWriter(tmp_path, ("png",))
    sec = probes_section(writer, demo_rows(), pd.DataFrame())
    kinds = [kind for kind, _ in sec.blocks]
    assert kinds == ["figure", "table", "table"]
    assert (tmp_path / "figures" / "probe_demographic_by_layer.png").is_file()
    assert (tmp_path / "results" / "report_tables" / "probe_demographic.csv").is_file()


def test_section_says_why_when_there_are_no_probes(tmp_path) -> None:
    writer = ReportWriter(tmp_path, ("png",))
    sec = probes_section(writer, pd.DataFrame(), pd.DataFrame())  # the stage completed, found nothing
    assert not sec.blocks and "every group was too small" in sec.notes[0]
    failed = "The probes stage failed: ValueError: boom."
    sec = probes_section(writer, pd.DataFrame(), pd.DataFrame(), stage=failed)
    assert sec.notes == ["No probe results: the probes stage failed: ValueError: boom."]


def test_pooled_is_the_max_over_time_of_the_last_layer() -> None:
    acts = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (N, C, T)
    out = pooled(acts.reshape(2, 12), channels=3)
    np.testing.assert_array_equal(out, acts.max(axis=2))


def test_section_shows_the_cka_relation_with_its_caveat(tmp_path) -> None:
    relation = pd.DataFrame(
        [
            {
                "run_id": "r",
                "setup": "0",
                "seed": 0,
                "spearman": 0.8,
                "p_value": 0.06,
                "n": 6,
                "caveat": "n is small",
            }
        ]
    )
    sec = probes_section(ReportWriter(tmp_path, ("png",)), demo_rows(), pd.DataFrame(), relation)
    title, markup, note = sec.blocks[-1][1]
    assert "conditioned CKA" in title and "n is small" in note and "0.8" in str(markup)


def test_relation_needs_both_probe_gaps_and_cka() -> None:
    from fairssl.experiments.grid import RunSpec
    from fairssl.experiments.probing import _relation

    runs = [RunSpec("ft-1", "finetune", 0, setup="0")]
    assert _relation(runs, [pd.DataFrame()], None).empty
    cka = pd.DataFrame([{"setup": "0", "seed": 1, "attribute": "sex"}])  # another seed: no match
    assert _relation(runs, [demo_rows()], cka).empty
