"""The report never prints the dissimilarity ratio without its permutation null when one was computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.report.cka_tables import dissimilarity_table
from fairssl.report.page import ReportWriter
from fairssl.report.sections.similarity import ratio_null_sentence, similarity_section


def _ratio_rows(*, with_null: bool) -> pd.DataFrame:
    """cka_ratio.csv of two setups x two seeds x two attributes, as the similarity stage writes it."""
    rows = []
    for setup, ratios, p, p_holm in (("0", (2.0, 4.0), 0.35, 0.7), ("1", (9.0, 11.0), 0.01, 0.02)):
        for seed, ratio in enumerate(ratios):
            for attribute, gap, d in (("race", 0.2, 0.3), ("sex", 0.05, 0.1)):
                row = {
                    "setup": setup,
                    "seed": seed,
                    "attribute": attribute,
                    "best_group": "w",
                    "worst_group": "b",
                    "perf_gap": gap,
                    "dissimilarity": d,
                    "n_exceeding": 1,
                    "n_layer_pairs": 9,
                    "ratio": ratio,
                    "spearman": np.nan,
                }
                if with_null:
                    row |= {
                        "ratio_p": p,
                        "setup_ratio": float(np.mean(ratios)),
                        "setup_ratio_null_median": 2.2,
                        "setup_ratio_null_q95": 6.8,
                        "setup_ratio_p": p,
                        "setup_ratio_p_holm": p_holm,
                        "setup_ratio_n_permutations": 19,
                        "setup_ratio_n_seeds": 2,
                    }
                rows.append(row)
    return pd.DataFrame(rows)


def test_table_carries_the_setup_level_null() -> None:
    table = dissimilarity_table(_ratio_rows(with_null=True)).drop_duplicates("setup").set_index("setup")
    assert table.loc["0", "ratio"] == pytest.approx(3.0) and table.loc["1", "ratio"] == pytest.approx(10.0)
    assert table.loc["0", "ratio_null_median"] == pytest.approx(2.2)
    assert table.loc["0", "ratio_null_q95"] == pytest.approx(6.8)
    assert table.loc["0", "ratio_p"] == pytest.approx(0.35) and table.loc[
        "1", "ratio_p_holm"
    ] == pytest.approx(0.02)
    assert table.loc["1", "ratio_n_permutations"] == 19
    old = dissimilarity_table(_ratio_rows(with_null=False))  # a run from before the null
    assert old["ratio_p"].isna().all() and old["ratio"].iloc[0] == pytest.approx(3.0)


def test_sentence_says_whether_the_ratio_exceeds_its_null() -> None:
    table = dissimilarity_table(_ratio_rows(with_null=True)).drop_duplicates("setup").set_index("setup")
    not_beyond = ratio_null_sentence(table.loc["0"].to_dict() | {"setup": "0"})
    assert not_beyond == (
        "Setup 0: D ratio 3.0 (null median 2.2, 95th percentile 6.8; permutation p = 0.35, Holm-adjusted "
        "over setups 0.7; 19 subject permutations, mean over 2 seeds): not beyond what random subject "
        "groupings give."
    )
    beyond = ratio_null_sentence(table.loc["1"].to_dict() | {"setup": "1"})
    assert beyond.endswith("beyond what random subject groupings give (adjusted p <= 0.05).")
    assert "not beyond" not in beyond
    # the verdict follows the Holm-adjusted p, not the raw one
    strict = ratio_null_sentence(table.loc["1"].to_dict() | {"setup": "1", "ratio_p_holm": 0.06})
    assert "not beyond" in strict and "permutation p = 0.01" in strict
    none = ratio_null_sentence(dissimilarity_table(_ratio_rows(with_null=False)).iloc[0].to_dict())
    assert none.startswith("Setup 0: D ratio 3.0 (mean over 2 seeds), without a permutation null")
    assert ratio_null_sentence({"setup": "x", "ratio": np.inf, "ratio_p": np.nan}).startswith(
        "Setup x: D ratio infinite, without"
    )


def test_section_prints_one_null_sentence_per_setup(tmp_path) -> None:
    ratios = dissimilarity_table(_ratio_rows(with_null=True))
    cka = pd.DataFrame({"setup": ["0", "1"], "seed": 0, "layer_a": "c1", "layer_b": "c1", "cka": [0.5, 0.6]})
    sec = similarity_section(ReportWriter(tmp_path, ("png",)), cka, pd.DataFrame(), ratios, pd.DataFrame())
    texts = [block for kind, block in sec.blocks if kind == "text"]
    sentences = [t for t in texts if "D ratio" in t]
    assert [s.split(":")[0] for s in sentences] == ["Setup 0", "Setup 1"]
    assert all("null median" in s and "permutation p" in s for s in sentences)
    title, markup, note = next(block for kind, block in sec.blocks if kind == "table")
    assert title == "Dissimilarity ratio" and "null median" in str(markup) and "6.80" in str(markup)
    assert "random subject groupings already give ratios well above 1" in note
