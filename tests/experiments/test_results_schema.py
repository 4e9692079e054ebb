"""The results tables' declarations (:mod:`fairssl.results_schema`): the one write path validates, the one
read path types, and the errors name the table, the column and the fix."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import DataError, RunError
from fairssl.results_schema import (
    TABLES,
    UndeclaredColumnWarning,
    check_result,
    read_result,
    table_for_file,
    validate_result,
    write_result,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def summary_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["a1", "b2", "c3"],
            "setup": ["supervised", "0", "2-first-last"],
            "seed": [0, 0, 1],
            "auroc": [0.8, 0.75, 0.7],
            "parity_deviation": [0.2, 0.1, np.nan],
        }
    )


def test_round_trip_types_columns_by_the_declaration(tmp_path: Path) -> None:
    write_result(tmp_path, "summary", summary_frame())
    # the CSV alone would read setup "0" as the number 0: the declaration keeps it text
    assert pd.read_csv(tmp_path / "summary.csv")["setup"].dtype != object
    back = read_result(tmp_path, "summary")
    assert back["setup"].tolist() == ["supervised", "0", "2-first-last"]
    assert back["seed"].dtype == np.int64
    assert back["parity_deviation"].dtype == np.float64 and np.isnan(back["parity_deviation"].iloc[2])
    assert back["auroc"].tolist() == [0.8, 0.75, 0.7]


def test_missing_text_reads_as_empty_string_and_int_with_gaps_as_float(tmp_path: Path) -> None:
    frame = summary_frame().assign(run_id=["a1", None, "c3"], seed=[0, np.nan, 1])
    write_result(tmp_path, "summary", frame)
    back = read_result(tmp_path, "summary")
    assert back["run_id"].tolist() == ["a1", "", "c3"]
    assert back["seed"].dtype == np.float64 and back["seed"].iloc[2] == 1.0


def test_results_table_is_written_as_parquet_and_csv_and_read_from_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "run_id": ["r"] * 2,
            "setup": ["1-first"] * 2,
            "seed": [3, 3],
            "attribute": ["sex"] * 2,
            "group": ["1", "2"],  # group codes that look like numbers stay text
            "metric": ["auroc"] * 2,
            "estimate": [0.7, 0.6],
            "kind": ["performance"] * 2,
            "n_valid": [200, 199],
        }
    )
    write_result(tmp_path, "results", frame)
    assert (tmp_path / "results.parquet").is_file() and (tmp_path / "results.csv").is_file()
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "results.csv", dtype={"group": str, "setup": str}),
        pd.read_parquet(tmp_path / "results.parquet"),
    )
    (tmp_path / "results.csv").write_text("garbage that is never read\n")
    back = read_result(tmp_path, "results")
    assert back["group"].tolist() == ["1", "2"] and back["n_valid"].tolist() == [200, 199]


def test_missing_required_column_on_write_is_an_internal_error_naming_table_and_column(
    tmp_path: Path,
) -> None:
    with pytest.raises(RunError, match=r"results table 'summary' lacks required column 'auroc'"):
        write_result(tmp_path, "summary", summary_frame().drop(columns="auroc"))
    assert not (tmp_path / "summary.csv").exists()


def test_uncastable_value_on_write_names_table_column_and_value(tmp_path: Path) -> None:
    frame = summary_frame().astype({"auroc": object})
    frame.loc[1, "auroc"] = "high"
    with pytest.raises(RunError, match=r"column 'auroc' of table 'summary' holds 'high', not a number"):
        write_result(tmp_path, "summary", frame)
    with pytest.raises(RunError, match=r"column 'seed' of table 'summary' holds 0.5, not an integer"):
        write_result(tmp_path, "summary", summary_frame().assign(seed=[0, 0.5, 1]))
    bad_bool = pd.DataFrame({"setup": ["0"], "baseline": ["supervised"], "quantity": ["auroc"]})
    bad_bool = bad_bool.assign(estimate=[0.1], in_family=["maybe"])
    with pytest.raises(RunError, match=r"column 'in_family' of table 'changes' holds 'maybe'"):
        write_result(tmp_path, "changes", bad_bool)


def test_undeclared_column_warns_when_written_and_fails_a_strict_check(tmp_path: Path) -> None:
    frame = summary_frame().assign(novel=1.0)
    with pytest.warns(UndeclaredColumnWarning, match=r"'summary' has undeclared column\(s\) \['novel'\]"):
        write_result(tmp_path, "summary", frame)
    assert "novel" in read_result(tmp_path, "summary")  # kept: the warning loses nothing
    with pytest.raises(RunError, match="undeclared column"):
        check_result(tmp_path, "summary")
    with pytest.raises(RunError, match="undeclared column"):
        validate_result("summary", frame, strict=True)


def test_undeclared_table_name_is_an_internal_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="'sumary' is not declared"):
        write_result(tmp_path, "sumary", summary_frame())


def test_absent_or_empty_file_reads_as_empty_frame_with_declared_columns(tmp_path: Path) -> None:
    absent = read_result(tmp_path, "cka")
    assert absent.empty and list(absent.columns) == list(TABLES["cka"].names)
    (tmp_path / "cka.csv").write_text("\n")
    assert list(read_result(tmp_path, "cka").columns) == list(TABLES["cka"].names)
    write_result(tmp_path, "cka_ratio", pd.DataFrame())  # a stage with nothing to say
    header = (tmp_path / "cka_ratio.csv").read_text().strip().split(",")
    assert header == list(TABLES["cka_ratio"].names)
    assert read_result(tmp_path, "cka_ratio").empty


def test_stored_table_lacking_a_required_column_is_a_one_line_data_error(tmp_path: Path) -> None:
    res = tmp_path / "run" / "results"
    res.mkdir(parents=True)
    summary_frame().drop(columns="parity_deviation").to_csv(res / "summary.csv", index=False)
    with pytest.raises(DataError) as info:
        read_result(res, "summary")
    message = str(info.value)
    assert "\n" not in message
    assert str(res / "summary.csv") in message and "'parity_deviation'" in message
    assert f"fairssl analyse {tmp_path / 'run'}" in message


def test_stored_table_with_text_in_a_number_column_is_a_data_error(tmp_path: Path) -> None:
    summary_frame().assign(auroc=["0.8", "high", "0.7"]).to_csv(tmp_path / "summary.csv", index=False)
    with pytest.raises(DataError, match=r"column 'auroc' .* holds 'high', not a number; recompute"):
        read_result(tmp_path, "summary")


def test_declarations_are_consistent() -> None:
    files = [f for t in TABLES.values() for f in t.files]
    assert len(files) == len(set(files)), "two tables share a file"
    for name, table in TABLES.items():
        assert table.name == name and table.description
        assert len(set(table.names)) == len(table.names), f"{name} declares a column twice"
        assert table.names[0] == "variant" and table.required, name
        assert all(table_for_file(f) is table for f in table.files)
    # the replicates' stacked tables are their base tables, column for column
    for base in ("setups", "changes", "comparison"):
        assert TABLES[f"replicate_{base}"].columns == TABLES[base].columns


def test_importing_the_schema_loads_neither_pandas_nor_torch() -> None:
    code = "import sys, fairssl.results_schema; print('pandas' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _readme_results_files() -> list[str]:
    """File names (or ``*`` patterns) the README's run-folder tree lists under ``results/``."""
    text = README.read_text()
    block = text[text.index("  results/ ") : text.index("  figures/ ")]
    return sorted(set(re.findall(r"[\w*]+(?:\.csv|\.parquet)", block.replace("results.csv/.parquet", ""))))


def test_readme_outputs_list_every_declared_table_and_nothing_else() -> None:
    documented = [*_readme_results_files(), "results.csv", "results.parquet"]
    declared = [f for t in TABLES.values() for f in t.files]
    undocumented = [f for f in declared if not any(fnmatch(f, d) for d in documented)]
    assert not undocumented, f"README's results/ listing lacks {undocumented}"
    stale = [d for d in documented if not any(fnmatch(f, d) for f in declared)]
    assert not stale, f"README's results/ listing names undeclared tables {stale}"


def test_unknown_columns_warn_once_per_write_not_on_read(tmp_path: Path) -> None:
    summary_frame().assign(extra="x").to_csv(tmp_path / "summary.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_result(tmp_path, "summary")["extra"].tolist() == ["x"] * 3
