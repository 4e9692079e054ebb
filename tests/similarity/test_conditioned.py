"""Conditioned CKA: equal n, random draws, permutation baseline, planted group effect, summary, ratio."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import ConfigError, DataError
from fairssl.similarity.cka import cka_gram
from fairssl.similarity.conditioned import (
    PERMUTATION,
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    group_table,
    summarise_conditioned,
)


def _features(n: int, sizes: dict[str, int], seed: int = 0) -> pd.Series:
    values = np.concatenate([[g] * s for g, s in sizes.items()])
    assert len(values) == n
    return pd.Series(np.random.default_rng(seed).permutation(values))


Data = tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame]


@pytest.fixture
def data() -> Data:
    rng = np.random.default_rng(1)
    n = 300
    sf = pd.DataFrame(
        {
            "sex": _features(n, {"F": 160, "M": 110, "missing": 30}),
            "age": _features(n, {"old": 60, "young": 230, "tiny": 10}, seed=1),
        }
    )
    X1 = rng.normal(size=(n, 6))
    acts_a = {"l1": X1, "l2": np.tanh(X1 @ rng.normal(size=(6, 4)))}
    acts_b = {"m1": X1 + rng.normal(size=(n, 6)), "m2": rng.normal(size=(n, 3))}
    return acts_a, acts_b, sf


def test_equal_n_per_attribute_and_skipped_groups(data: Data) -> None:
    acts_a, acts_b, sf = data
    long = conditioned_cka(acts_a, acts_b, sf, n_draws=2, n_permutations=3)
    assert list(long.columns) == ["attribute", "group", "n", "draw", "layer_a", "layer_b", "cka", "perm_draw"]
    assert (long["perm_draw"] == -1).all()  # no subjects given: window draws, no subject permutations
    sex = long[long["attribute"] == "sex"]
    age = long[long["attribute"] == "age"]
    assert set(sex["group"]) == {"F", "M", PERMUTATION}  # missing excluded by default
    assert set(sex["n"]) == {110}  # the smallest eligible group
    assert set(age["group"]) == {"old", "young", PERMUTATION}  # 'tiny' (10 < 30) skipped
    assert set(age["n"]) == {60}
    assert len(sex[sex["group"] == "F"]) == 2 * 2 * 2  # draws x layers_a x layers_b
    assert len(sex[sex["group"] == PERMUTATION]) == 3 * 2 * 2
    skipped = {(r["attribute"], r["group"], r["status"]) for r in long.attrs["skipped"]}
    assert skipped == {("sex", "missing", "missing_excluded"), ("age", "tiny", "too_small")}


def test_include_missing_and_cap(data: Data) -> None:
    acts_a, acts_b, sf = data
    long = conditioned_cka(acts_a, acts_b, sf[["sex"]], n_draws=1, n_permutations=0, include_missing=True)
    assert set(long["group"]) == {"F", "M", "missing"}
    assert set(long["n"]) == {30}
    capped = conditioned_cka(acts_a, acts_b, sf, n_per_group=25, n_draws=1, n_permutations=1)
    assert set(capped["n"]) == {25}


def test_group_table(data: Data) -> None:
    _, _, sf = data
    sf = sf.assign(sex=sf["sex"].replace("missing", np.nan))  # NaN is the missing group too
    table = group_table(sf, min_group_size=50).set_index(["attribute", "group"])
    assert table.loc[("sex", "missing"), "status"] == "missing_excluded"
    assert table.loc[("age", "tiny"), "status"] == "too_small"
    assert table.loc[("age", "old"), "status"] == "used"
    assert table.loc[("sex", "F"), "size"] == 160
    assert table.loc[("sex", "F"), "n"] == 110


def test_group_equal_to_n_matches_gram_oracle_on_the_whole_group(data: Data) -> None:
    acts_a, acts_b, sf = data
    long = conditioned_cka(acts_a, acts_b, sf[["sex"]], n_draws=3, n_permutations=0)
    rows = sf["sex"].to_numpy() == "M"  # the smallest group: every draw is the whole group
    m = long[long["group"] == "M"]
    for (la, lb), sub in m.groupby(["layer_a", "layer_b"]):
        expected = cka_gram(acts_a[str(la)][rows], acts_b[str(lb)][rows], debiased=True)
        np.testing.assert_allclose(sub["cka"], expected, atol=1e-6)


def test_reproducible_and_draws_differ(data: Data) -> None:
    acts_a, acts_b, sf = data
    first = conditioned_cka(acts_a, acts_b, sf, n_draws=3, n_permutations=3, seed=5)
    again = conditioned_cka(acts_a, acts_b, sf, n_draws=3, n_permutations=3, seed=5)
    other = conditioned_cka(acts_a, acts_b, sf, n_draws=3, n_permutations=3, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["cka"], other["cka"])
    f = first[(first["group"] == "F") & (first["layer_a"] == "l1") & (first["layer_b"] == "m1")]
    assert f["cka"].nunique() == 3  # F (160) is larger than n (110): draws are different samples
    # an attribute's draws do not depend on the other attributes present
    alone = conditioned_cka(acts_a, acts_b, sf[["age"]], n_draws=3, n_permutations=3, seed=5)
    pd.testing.assert_frame_equal(first[first["attribute"] == "age"].reset_index(drop=True), alone)


def _planted(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame]:
    """Group A: model b is a noisy copy of model a; group B: model b is unrelated to model a."""
    rng = np.random.default_rng(seed)
    n, p = 400, 8
    group = np.array(["A"] * 200 + ["B"] * 200)
    null = rng.permutation(np.array(["h0", "h1"] * 200))  # unrelated to the effect
    X = rng.normal(size=(n, p))
    Y = np.empty((n, p))
    a = group == "A"
    Y[a] = X[a] @ rng.normal(size=(p, p)) + 0.3 * rng.normal(size=(a.sum(), p))
    Y[~a] = rng.normal(size=((~a).sum(), p)) @ rng.normal(size=(p, p))
    return {"l1": X}, {"m1": Y}, pd.DataFrame({"g": group, "h": null})


def test_planted_group_effect_is_detected_beyond_permutation_baseline() -> None:
    acts_a, acts_b, sf = _planted()
    long = conditioned_cka(acts_a, acts_b, sf, n_per_group=100, n_draws=5, n_permutations=20)
    summary = summarise_conditioned(long)
    perf = {"g": {"A": 0.9, "B": 0.7}, "h": {"h0": 0.80, "h1": 0.81}}
    diff = best_worst_difference(summary, perf).set_index("attribute")
    assert diff.loc["g", "best_group"] == "A"
    g_diff, h_diff = float(diff.loc["g", "diff"]), float(diff.loc["h", "diff"])  # type: ignore[arg-type]
    assert g_diff > 0.5
    assert bool(diff.loc["g", "exceeds"])
    assert not bool(diff.loc["h", "exceeds"])
    assert abs(h_diff) < g_diff / 5
    ratio = dissimilarity_ratio(best_worst_difference(summary, perf))
    assert ratio.largest_gap_attribute == "g"
    assert ratio.smallest_gap_attribute == "h"
    assert ratio.ratio > 5


def test_summary_matches_direct_computation() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for group, draws in (("A", 4), (PERMUTATION, 6)):
        for d in range(draws):
            rows.append(("x", group, 50, d, "l1", "m1", float(rng.uniform())))
    long = pd.DataFrame(rows, columns=["attribute", "group", "n", "draw", "layer_a", "layer_b", "cka"])
    summary = summarise_conditioned(long, confidence=0.9).set_index("group")
    a = long[long["group"] == "A"]["cka"].to_numpy()
    perm = long[long["group"] == PERMUTATION]["cka"].to_numpy()
    assert summary.loc["A", "cka_mean"] == pytest.approx(a.mean())
    assert summary.loc["A", "cka_std"] == pytest.approx(a.std(ddof=1))
    assert summary.loc["A", "ci_low"] == pytest.approx(np.quantile(a, 0.05))
    assert summary.loc["A", "ci_high"] == pytest.approx(np.quantile(a, 0.95))
    assert summary.loc["A", "n_draws"] == 4
    assert summary.loc["A", "perm_mean"] == pytest.approx(perm.mean())
    pair_diffs = [abs(u - v) for u, v in itertools.combinations(perm, 2)]
    assert summary.loc["A", "perm_diff_bound"] == pytest.approx(np.quantile(pair_diffs, 0.9))
    assert summary.loc[PERMUTATION, "perm_low"] == pytest.approx(np.quantile(perm, 0.05))


def _summary(values: dict[tuple[str, str], list[float]], bound: float) -> pd.DataFrame:
    rows = []
    for (attribute, group), ckas in values.items():
        for (la, lb), c in zip([("l1", "m1"), ("l1", "m2")], ckas, strict=True):
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "layer_a": la,
                    "layer_b": lb,
                    "cka_mean": c,
                    "perm_diff_bound": bound,
                }
            )
    return pd.DataFrame(rows)


def test_best_worst_difference_on_constructed_summary() -> None:
    summary = _summary({("s", "a"): [0.6, 0.3], ("s", "b"): [0.2, 0.25], ("s", "c"): [0.5, 0.5]}, bound=0.1)
    perf = pd.DataFrame(
        {"attribute": ["s", "s", "s"], "group": ["a", "b", "c"], "performance": [0.7, 0.9, 0.8]}
    )
    out = best_worst_difference(summary, perf).set_index(["layer_a", "layer_b"])
    assert set(out["best_group"]) == {"b"}
    assert set(out["worst_group"]) == {"a"}
    assert out.loc[("l1", "m1"), "diff"] == pytest.approx(0.2 - 0.6)
    assert out.loc[("l1", "m2"), "diff"] == pytest.approx(0.25 - 0.3)
    assert out.loc[("l1", "m1"), "perf_gap"] == pytest.approx(0.2)
    assert bool(out.loc[("l1", "m1"), "exceeds"])
    assert not bool(out.loc[("l1", "m2"), "exceeds"])


def test_best_worst_ties_are_broken_by_group_name() -> None:
    summary = _summary({("s", "b"): [0.6, 0.3], ("s", "a"): [0.2, 0.25]}, bound=0.1)
    out = best_worst_difference(summary, {"s": {"a": 0.8, "b": 0.8}})
    assert set(out["best_group"]) == {"a"}
    assert set(out["worst_group"]) == {"b"}


def test_dissimilarity_ratio_on_constructed_differences() -> None:
    rows = []
    # attribute: (perf_gap, diffs over two layer pairs); D = mean |diff|
    for attribute, gap, diffs in (
        ("x", 0.20, [0.3, -0.1]),
        ("y", 0.05, [0.02, -0.02]),
        ("z", 0.10, [0.05, 0.05]),
    ):
        for d in diffs:
            rows.append(
                {
                    "attribute": attribute,
                    "best_group": "b",
                    "worst_group": "w",
                    "perf_gap": gap,
                    "diff": d,
                    "exceeds": abs(d) > 0.04,
                }
            )
    result = dissimilarity_ratio(pd.DataFrame(rows))
    assert result.ratio == pytest.approx(0.2 / 0.02)  # D_x / D_y
    assert result.largest_gap_attribute == "x"
    assert result.smallest_gap_attribute == "y"
    assert result.spearman == pytest.approx(1.0)
    assert list(result.table["attribute"]) == ["x", "z", "y"]
    assert list(result.table["dissimilarity"]) == pytest.approx([0.2, 0.05, 0.02])
    assert list(result.table["n_exceeding"]) == [2, 2, 0]


def test_dissimilarity_ratio_infinite_when_smallest_gap_has_no_difference() -> None:
    rows = [
        {
            "attribute": "x",
            "best_group": "b",
            "worst_group": "w",
            "perf_gap": 0.2,
            "diff": 0.1,
            "exceeds": True,
        },
        {
            "attribute": "y",
            "best_group": "b",
            "worst_group": "w",
            "perf_gap": 0.1,
            "diff": 0.0,
            "exceeds": False,
        },
    ]
    result = dissimilarity_ratio(pd.DataFrame(rows))
    assert result.ratio == np.inf
    assert np.isnan(result.spearman)


# ---------------------------------------------------------------------------------------------- errors
def test_conditioned_cka_errors(data: Data) -> None:
    acts_a, acts_b, sf = data
    with pytest.raises(
        DataError, match="sensitive_features must be a DataFrame with one column per protected"
    ):
        conditioned_cka(acts_a, acts_b, sf["sex"])  # type: ignore[arg-type]
    with pytest.raises(
        DataError, match=r"acts_b\['m1'\] has shape \(299, 6\) but sensitive_features has 300"
    ):
        conditioned_cka(acts_a, {"m1": acts_b["m1"][:-1]}, sf)
    with pytest.raises(DataError, match="acts_a must be a non-empty mapping"):
        conditioned_cka({}, acts_b, sf)
    with pytest.raises(ConfigError, match="min_group_size must be an integer >= 4, got 2"):
        conditioned_cka(acts_a, acts_b, sf, min_group_size=2)
    with pytest.raises(ConfigError, match="n_per_group must be an integer >= 4, got 3"):
        conditioned_cka(acts_a, acts_b, sf, n_per_group=3)
    with pytest.raises(ConfigError, match="n_draws must be an integer >= 1, got 0"):
        conditioned_cka(acts_a, acts_b, sf, n_draws=0)
    with pytest.raises(ConfigError, match="n_permutations must be an integer >= 0, got -1"):
        conditioned_cka(acts_a, acts_b, sf, n_permutations=-1)
    with pytest.raises(ConfigError, match=r"seed must be an integer >= 0, got 1\.5"):
        conditioned_cka(acts_a, acts_b, sf, seed=1.5)  # type: ignore[arg-type]


def test_summary_and_difference_errors() -> None:
    with pytest.raises(
        DataError,
        match=r"long_df must be the DataFrame returned by conditioned_cka; missing columns \['cka'\]",
    ):
        summarise_conditioned(pd.DataFrame(columns=["attribute", "group", "n", "draw", "layer_a", "layer_b"]))
    long = pd.DataFrame(
        [("x", "A", 10, 0, "l", "m", 0.5)],
        columns=["attribute", "group", "n", "draw", "layer_a", "layer_b", "cka"],
    )
    with pytest.raises(ConfigError, match=r"confidence must be in \(0, 1\), got 1\.5"):
        summarise_conditioned(long, confidence=1.5)
    summary = _summary({("s", "a"): [0.6, 0.3], ("s", "b"): [0.2, 0.25]}, bound=0.1)
    with pytest.raises(DataError, match="summary must be the DataFrame returned by summarise_conditioned"):
        best_worst_difference(summary.drop(columns="cka_mean"), {"s": {"a": 1.0, "b": 0.5}})
    with pytest.raises(
        DataError, match=r"attribute 's' has performance values for \['a'\] of its summarised groups"
    ):
        best_worst_difference(summary, {"s": {"a": 1.0, "zz": 0.5}})
    with pytest.raises(DataError, match="no attribute of the summary"):
        best_worst_difference(summary, {"other": {"a": 1.0, "b": 0.5}})
    with pytest.raises(DataError, match="performance DataFrame must have columns"):
        best_worst_difference(summary, pd.DataFrame({"attribute": ["s"], "auroc": [0.5]}))
    with pytest.raises(DataError, match="performance must be a mapping attribute"):
        best_worst_difference(summary, [0.5, 0.6])  # type: ignore[arg-type]
    diff = best_worst_difference(summary, {"s": {"a": 1.0, "b": 0.5}})
    with pytest.raises(DataError, match=r"the dissimilarity ratio compares attributes, got 1 \(\['s'\]\)"):
        dissimilarity_ratio(diff)
    with pytest.raises(
        DataError, match="differences must be the DataFrame returned by best_worst_difference"
    ):
        dissimilarity_ratio(diff.drop(columns="exceeds"))


def test_samples_are_random_not_the_first_rows_of_the_group() -> None:
    rng = np.random.default_rng(4)
    group = np.array(["F"] * 200 + ["M"] * 100)
    X = rng.normal(size=(300, 5))
    Y = rng.normal(size=(300, 5))
    Y[:100] = X[:100]  # the first 100 rows of F (= n): identical representations there only
    long = conditioned_cka({"l": X}, {"m": Y}, pd.DataFrame({"g": group}), n_draws=5, n_permutations=0)
    f = long[long["group"] == "F"]
    assert set(f["n"]) == {100}
    assert float(cka_gram(X[:100], Y[:100], debiased=True)) == pytest.approx(1.0)  # what first-rows gives
    assert (f["cka"] < 0.9).all()


def test_kernel_path_equals_the_feature_path(monkeypatch) -> None:
    import fairssl.similarity.conditioned as conditioned

    rng = np.random.default_rng(3)
    n = 240
    sens = pd.DataFrame(
        {"sex": rng.choice(["f", "m"], n), "race": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])}
    )
    base = rng.normal(size=(n, 6))
    acts_a = {"wide": base @ rng.normal(size=(6, 90)) + rng.normal(size=(n, 90)), "narrow": base[:, :3]}
    acts_b = {"conv": (base @ rng.normal(size=(6, 40))).astype(np.float16), "other": rng.normal(size=(n, 5))}
    kwargs = {"n_draws": 3, "n_permutations": 4, "min_group_size": 20, "seed": 1}
    with_kernels = conditioned_cka(acts_a, acts_b, sens, **kwargs)
    monkeypatch.setattr(conditioned, "KERNEL_BYTES_LIMIT", 0)  # force the per-draw feature path
    per_draw = conditioned_cka(acts_a, acts_b, sens, **kwargs)
    pd.testing.assert_frame_equal(with_kernels.drop(columns="cka"), per_draw.drop(columns="cka"))
    assert np.allclose(with_kernels["cka"], per_draw["cka"], rtol=0, atol=1e-10)


def test_no_group_large_enough_gives_an_empty_summary_not_an_error() -> None:
    rng = np.random.default_rng(0)
    acts = {"conv1": rng.normal(size=(12, 5))}
    sens = pd.DataFrame({"sex": ["f"] * 6 + ["m"] * 6})
    long_df = conditioned_cka(acts, acts, sens, min_group_size=8, n_draws=2, n_permutations=2)
    assert long_df.empty and {r["group"] for r in long_df.attrs["skipped"]} == {"f", "m"}
    summary = summarise_conditioned(long_df)
    assert summary.empty and {"cka_mean", "perm_diff_bound"} <= set(summary.columns)


def test_groups_are_normalised_as_the_fairness_metrics_normalise_them() -> None:
    """'male ' and 'male' were two groups in conditioned CKA and one in the fairness metrics."""
    from fairssl.evaluation.counts import encode_groups

    sens = pd.DataFrame({"sex": ["male", "male "] * 6 + ["female", " female"] * 6 + ["", None] * 2})
    table = group_table(sens, min_group_size=4, include_missing=True)
    assert dict(zip(table["group"], table["size"], strict=True)) == {"female": 12, "male": 12, "missing": 4}
    (codes,) = encode_groups(sens, include_missing=True)  # the fairness metrics' groups
    assert sorted(codes.groups) == sorted(table["group"])
