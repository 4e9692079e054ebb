"""Stage 4 stores the dissimilarity ratio with its null: per seed, and per setup for the seed-mean ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.experiments.stage_similarity import SETUP_NULL_COLUMNS, _null_draws, _with_setup_nulls
from fairssl.similarity.dissimilarity import RatioNull


def _null(observed: float, null: list[float]) -> RatioNull:
    return RatioNull(observed, np.array(null), np.nan, np.nan, np.nan, len(null))


def test_setup_columns_average_each_shared_permutation_over_seeds_and_holm_adjust_over_setups() -> None:
    nulls = {
        "0": [(1, _null(4.0, [1.0, 9.0, 2.0])), (0, _null(2.0, [3.0, 1.0, 2.0]))],  # seed order irrelevant
        "1": [(0, _null(5.0, [1.0, 1.0, 1.0]))],
    }
    ratio = pd.DataFrame({"setup": ["0", "0", "1", "1"], "attribute": ["a", "b", "a", "b"], "ratio": 0.0})
    out = _with_setup_nulls(ratio, nulls).drop_duplicates("setup").set_index("setup")
    assert set(SETUP_NULL_COLUMNS) <= set(out.columns)
    # setup 0: observed mean 3; null means per permutation 2, 5, 2 -> p = (1 + 1) / 4
    assert out.loc["0", "setup_ratio"] == pytest.approx(3.0)
    assert out.loc["0", "setup_ratio_p"] == pytest.approx(0.5)
    assert out.loc["0", "setup_ratio_null_median"] == pytest.approx(2.0)
    assert out.loc["0", "setup_ratio_null_q95"] == pytest.approx(5.0)
    assert out.loc["0", "setup_ratio_n_seeds"] == 2 and out.loc["0", "setup_ratio_n_permutations"] == 3
    # setup 1: 5 beyond all three -> p = 1 / 4; Holm over the two setups: 2 x 0.25, then max(0.5, 1 x 0.5)
    assert out.loc["1", "setup_ratio_p"] == pytest.approx(0.25)
    assert out.loc["1", "setup_ratio_p_holm"] == pytest.approx(0.5)
    assert out.loc["0", "setup_ratio_p_holm"] == pytest.approx(0.5)
    assert _with_setup_nulls(ratio, {}).equals(ratio)  # no null computed: unchanged


def test_null_draws_table_lists_every_permutation() -> None:
    table = _null_draws({"0": [(2, _null(1.0, [0.5, np.inf]))]})
    assert list(table.columns) == ["setup", "seed", "perm_draw", "ratio"]
    assert table["perm_draw"].tolist() == [0, 1] and np.isinf(table["ratio"].iloc[1])
    assert (table["seed"] == 2).all()
