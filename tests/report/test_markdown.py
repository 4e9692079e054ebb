"""report.md: the headline and key tables as Markdown, with the stored tables' numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fairssl.report.markdown import md_table


def _table_rows(md: str, header_start: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header line starts with ``header_start``."""
    lines = md.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[i + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


def test_md_table_escapes_pipes_and_leaves_missing_cells_blank() -> None:
    md = md_table(pd.DataFrame({"a|b": ["x|y", None], "c": [1, 2]}))
    assert md.splitlines() == ["| a\\|b | c |", "|---|---|", "| x\\|y | 1 |", "|  | 2 |"]
    assert md_table(pd.DataFrame()) == ""


def test_report_md_quotes_the_stored_comparison_and_tests(handmade_report: Path) -> None:
    md = (handmade_report / "report.md").read_text(encoding="utf-8")
    html = (handmade_report / "report.html").read_text(encoding="utf-8")
    headline = md.splitlines()[2]
    assert headline.startswith("Setup ") and headline.split(",")[0] in html
    comp = pd.read_csv(
        handmade_report / "results" / "report_tables" / "setup_comparison.csv", dtype={"setup": str}
    )
    rows = {r[0]: r for r in _table_rows(md, "| setup | seeds | AUROC")}
    assert set(rows) == set(comp["setup"])
    for r in comp.itertuples():
        row = rows[r.setup]
        assert row[2].startswith(f"{r.auroc:.3f} [{r.auroc_low:.3f}, {r.auroc_high:.3f}]")
        assert row[3].startswith(f"{r.parity_deviation:.3f} [{r.pd_low:.3f}, {r.pd_high:.3f}]")
        assert row[-1] == r.verdict
        if r.setup == "supervised":
            assert row[4] == row[5] == ""
            continue
        assert row[4].startswith(f"{100 * r.auroc_change:.1f} [")
        assert row[5].startswith(f"{100 * r.improvement:.0f}% [")
        p = r.pd_change_p
        assert row[7] == ("<0.001" if p < 0.001 else f"{p:.3f}")
    cka = {r[0]: r for r in _table_rows(md, "| setup | conv1")}
    stored = pd.read_csv(handmade_report / "results" / "report_tables" / "cka_mean.csv", dtype={"setup": str})
    diag = stored[(stored.layer_a == "conv2") & (stored.layer_b == "conv2")]
    for r in diag.itertuples():
        assert cka[r.setup][2] == f"{r.cka:.2f}"


def test_grid_report_md_lists_every_variant(make_run, make_grid, tmp_path: Path) -> None:
    from fairssl.report.html import build_report

    a = make_run(tmp_path / "a", setups=("supervised", "0"), seeds=(0, 1), cka=False)
    b = make_run(tmp_path / "b", setups=("supervised", "0"), seeds=(0, 1), cka=False, rng_seed=3)
    root = make_grid(tmp_path / "grid", [("x=1", a), ("x=2", b)])
    for name in ("x-1", "x-2"):
        (root / "variants" / name).mkdir(parents=True)
        (root / "variants" / name / "variant.json").write_text(f'{{"name": "{name.replace("-", "=")}"}}')
    build_report(root, formats=("png",))
    md = (root / "report.md").read_text(encoding="utf-8")
    rows = _table_rows(md, "| variant | setup")
    assert [(r[0], r[1]) for r in rows] == [
        ("x=1", "supervised"),
        ("x=1", "0"),
        ("x=2", "supervised"),
        ("x=2", "0"),
    ]
    for r, folder in zip(rows[1::2], (a, b), strict=True):  # each variant's own verdict and AUROC
        own = pd.read_csv(folder / "results" / "comparison.csv", dtype={"setup": str}).set_index("setup")
        assert r[-1] == own.loc["0", "verdict"] and r[3].startswith(f"{own.loc['0', 'auroc']:.3f} [")


def test_report_built_from_dot_is_titled_by_the_folder_name(make_run, tmp_path: Path, monkeypatch) -> None:
    from fairssl.report.html import build_report

    root = make_run(tmp_path / "my-study", setups=("supervised", "0"), seeds=(0, 1), cka=False)
    monkeypatch.chdir(root)
    build_report(".", formats=("png",))
    assert (root / "report.md").read_text(encoding="utf-8").startswith("# my-study\n")
    assert "<title>fairssl report: my-study</title>" in (root / "report.html").read_text(encoding="utf-8")
