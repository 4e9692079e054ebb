"""`fairssl compare`: finished studies side by side, each against its own supervised baseline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.report.comparison import setup_comparison

runner = CliRunner()


def test_compare_stacks_each_studys_own_comparison(make_run, tmp_path: Path) -> None:
    a = make_run(tmp_path / "label", setups=("supervised", "0", "3"), seeds=(0, 1, 2), cka=False)
    b = make_run(tmp_path / "none", setups=("supervised", "0", "3"), seeds=(0, 1, 2), cka=False, rng_seed=9)
    res = runner.invoke(
        app, ["compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--name", "label bias"]
    )
    assert res.exit_code == 2 and "2 run folders" in res.output  # one name for two folders
    res = runner.invoke(app, ["compare", str(a), str(b), "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    stacked = pd.read_csv(tmp_path / "cmp" / "comparison.csv", dtype={"setup": str})
    assert list(dict.fromkeys(stacked["variant"])) == ["label", "none"]
    for name, root in (("label", a), ("none", b)):
        own = setup_comparison(pd.read_csv(root / "results" / "comparison.csv", dtype={"setup": str}))
        got = stacked[stacked["variant"] == name].reset_index(drop=True)
        pd.testing.assert_series_equal(got["improvement"], own["improvement"], check_names=False)
        pd.testing.assert_series_equal(got["parity_deviation"], own["parity_deviation"], check_names=False)
        assert list(got["verdict"]) == list(own["verdict"])
    md = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "| study | setup |" in md and md.count("| label |") == 3 and md.count("| none |") == 3
    assert (tmp_path / "cmp" / "figures" / "fairness_across_studies.png").is_file()


def test_compare_needs_two_finished_run_folders(make_run, tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", setups=("supervised", "0"), seeds=(0,), cka=False)
    res = runner.invoke(app, ["compare", str(a)])
    assert res.exit_code == 2 and "at least two run folders" in res.output
    res = runner.invoke(app, ["compare", str(a), str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "run `fairssl run` first" in res.output
    res = runner.invoke(app, ["compare", str(a), str(a)])
    assert res.exit_code == 2 and "distinct --name" in res.output


def test_compare_against_a_reference_adds_the_difference_in_differences(make_run, tmp_path: Path) -> None:
    a = make_run(tmp_path / "label", setups=("supervised", "0", "3"), seeds=(0, 1, 2), cka=False)
    b = make_run(tmp_path / "none", setups=("supervised", "0", "3"), seeds=(0, 1, 2), cka=False, rng_seed=9)
    res = runner.invoke(
        app, ["compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--against", "nobias"]
    )
    assert res.exit_code == 2 and "--against 'nobias' names none of the studies (label, none)" in res.output
    res = runner.invoke(app, ["compare", str(a), str(b), "--out", str(tmp_path / "cmp"), "--against", "none"])
    assert res.exit_code == 0, res.output
    did = pd.read_csv(
        tmp_path / "cmp" / "did.csv", dtype={"setup": str, "variant": str}, keep_default_na=False
    )
    changes = {
        n: pd.read_csv(r / "results" / "changes.csv", dtype={"setup": str}).query(
            "quantity == 'parity_deviation'"
        )
        for n, r in (("label", a), ("none", b))
    }
    sup = did[did["baseline_kind"] == "supervised"].set_index("setup")
    assert sorted(sup.index) == ["0", "3"] and set(did["study"]) == {"label"}
    for setup in ("0", "3"):
        own, ref = (
            c[(c["setup"] == setup) & (c["baseline"] == "supervised")].iloc[0]
            for c in (changes["label"], changes["none"])
        )
        assert float(sup.loc[setup, "did"]) == pytest.approx(own["estimate_bc"] - ref["estimate_bc"])
        assert float(sup.loc[setup, "se"]) == pytest.approx((own["se"] ** 2 + ref["se"] ** 2) ** 0.5)
    md = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "## Against none: difference in differences" in md and "| label |" in md
