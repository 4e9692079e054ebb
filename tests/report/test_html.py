"""report.html: every section, self-contained, built from stored tables only, robust to partial inputs."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from fairssl.cli import _print_summary
from fairssl.errors import DataError
from fairssl.report.html import SECTIONS, build_report

PNG_ONLY = ("png",)  # the tests that do not look at SVG/PDF skip them (time)


class _Page(HTMLParser):
    """Collects ids, image sources, links, scripts and stylesheet links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.imgs: list[str] = []
        self.hrefs: list[str] = []
        self.script_src: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "img":
            self.imgs.append(str(a.get("src")))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if tag == "script" and a.get("src"):
            self.script_src.append(str(a["src"]))
        if tag == "link":
            self.links.append(str(a.get("href")))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_has_every_section_and_is_self_contained(handmade_report: Path) -> None:
    root = handmade_report
    out = root / "report.html"
    page = _parse(out)
    for sid, _title in SECTIONS:
        assert sid in page.ids and f"sec-{sid}" in page.ids, sid
    assert {"headline", "summary-table", "metrics-table", "metric-filter"} <= set(page.ids)
    # offline: every image is an embedded PNG that decodes; no external script, stylesheet, font or link
    assert len(page.imgs) >= 9
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not page.script_src and not page.links
    assert all(h.startswith("#") for h in page.hrefs)
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html) and "@import" not in html
    assert "url(" not in html
    # figures in three formats, tables as CSV and JSON
    for name in ("auroc_by_group", "parity_deviation_boxplots", "auroc_vs_frozen", "fairness_vs_frozen",
                 "cka_heatmaps", "cka_best_worst", "label_bias", "pd_improvement"):  # fmt: skip
        for fmt in ("png", "pdf"):
            assert (root / "figures" / f"{name}.{fmt}").is_file(), (name, fmt)
    tables_dir = root / "results" / "report_tables"
    for name in ("setup_comparison", "metrics_by_setup", "auroc_by_group", "parity_cells", "dissimilarity"):
        csv = pd.read_csv(tables_dir / f"{name}.csv")
        records = json.loads((tables_dir / f"{name}.json").read_text())
        assert len(records) == len(csv) > 0


def test_report_text_has_the_headline_verdicts_reasons_and_config(handmade_report: Path) -> None:
    html = (handmade_report / "report.html").read_text(encoding="utf-8")
    assert "Setup 2-first-last was fairer than supervised: parity deviation " in html
    assert "Holm correction over 8 tests at alpha 0.05" in html
    assert "group_too_small" in html  # reason codes reach the all-metrics table
    assert 'class="v-fairer"' in html and "not recorded" in html  # no environment.json in this folder
    assert "name = &#34;handmade&#34;" in html or 'name = "handmade"' in html
    assert "torch" in html and "numpy" in html and "platform" in html


def test_partial_inputs_do_not_crash_and_say_what_is_missing(make_run, tmp_path: Path) -> None:
    root = make_run(tmp_path / "run", setups=("0", "3"), seeds=(0,), cka=False, audit=False, bootstrap=False)
    (root / "config.toml").unlink()
    html = build_report(root, formats=PNG_ONLY).read_text(encoding="utf-8")
    assert "No supervised baseline in the results" in html
    assert "No CKA tables (results/cka.csv)" in html
    assert "No audit tables in dataset/" in html
    assert "No improvement over supervised" in html
    assert "No config.toml in the run folder" in html
    assert "one seed per setup" in html


def test_only_supervised_and_one_seed(make_run, tmp_path: Path) -> None:
    root = make_run(tmp_path / "run", setups=("supervised",), seeds=(0,))
    html = build_report(root, formats=PNG_ONLY).read_text(encoding="utf-8")
    assert "Only the supervised baseline was run (AUROC 0." in html and "one seed per setup" in html
    one = make_run(tmp_path / "one", setups=("supervised", "0"), seeds=(0,), cka=False)
    html = build_report(one, formats=PNG_ONLY).read_text(encoding="utf-8")
    assert "Setup 0: parity deviation " in html and "; 1 seed. No verdict: with one seed per setup" in html
    assert "no verdict: one seed" in html  # the summary table's verdict cell
    assert "was fairer" not in html and "was less fair" not in html


def test_missing_summary_is_a_one_line_user_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"has no results/summary.csv; run `fairssl run` first"):
        build_report(tmp_path)


def test_print_summary_shows_the_compact_table(make_run, tmp_path: Path, capsys) -> None:
    root = make_run(tmp_path / "run")
    _print_summary(root)
    out = capsys.readouterr().out
    for text in ("supervised", "2-first-last", "AUROC", "parity", "baseline", "was fairer than supervised"):
        assert text in out, text
    assert re.search(r"0\.\d{3} \[0\.\d{3},", out)


def test_grid_study_report_links_each_variant_and_does_not_pool(make_run, make_grid, tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", setups=("supervised", "0"), seeds=(0, 1, 2), cka=False)
    b = make_run(
        tmp_path / "b", setups=("supervised", "0"), seeds=(0, 1, 2), cka=False, rng_seed=5, bias={"0": 0.4}
    )
    root = make_grid(tmp_path / "grid", [("x=1", a), ("x=2", b)])
    sub = root / "variants" / "var-1"
    sub.mkdir(parents=True)
    (sub / "variant.json").write_text(json.dumps({"name": "x=1", "settings": {"x": 1}}))
    (sub / "report.html").write_text("<html></html>")
    html = build_report(root, formats=PNG_ONLY).read_text(encoding="utf-8")
    page = _parse(root / "report.html")
    assert "variants/var-1/report.html" in page.hrefs
    assert "[x=1] Setup 0 was fairer than supervised" in html
    assert "[x=2] Setup 0 was less fair than supervised" in html and "x=2 (no report yet)" in html
    assert "is a grid of 2 variants" in html
    assert all(sid in page.ids for sid, _ in SECTIONS)
    metrics = pd.read_csv(root / "results" / "report_tables" / "metrics_by_setup.csv")
    assert set(metrics["variant"]) == {"x=1", "x=2"}
    saved = pd.read_csv(root / "results" / "report_tables" / "setup_comparison.csv", dtype={"setup": str})
    for name, folder in (("x=1", a), ("x=2", b)):  # each variant against its own supervised runs
        own = pd.read_csv(folder / "results" / "comparison.csv", dtype={"setup": str}).set_index("setup")
        mine = saved[saved["variant"] == name].set_index("setup")
        assert mine.loc["0", "improvement"] == pytest.approx(own.loc["0", "improvement"])
        assert mine.loc["0", "verdict"] == own.loc["0", "verdict"]


def test_a_random_init_control_is_shown_but_never_the_headline(make_run, tmp_path: Path) -> None:
    root = make_run(
        tmp_path / "run",
        setups=("supervised", "0", "random:0"),
        seeds=(0, 1, 2),
        cka=False,
        bias={"random:0": 0.05},  # the control lowers PD most
    )
    comparison = pd.read_csv(root / "results" / "comparison.csv", dtype={"setup": str}).set_index("setup")
    assert comparison.loc["random:0", "kind"] == "control" and comparison.loc["0", "control"] == "random:0"
    assert comparison.loc["random:0", "verdict"] == "not_tested"
    assert comparison.loc["random:0", "improvement"] > comparison.loc["0", "improvement"]
    html = build_report(root, formats=PNG_ONLY).read_text(encoding="utf-8")
    headline = re.search(r'<p class="headline" id="headline">(.*?)</p>', html, re.S)
    assert headline is not None
    text = headline.group(1)
    assert text.startswith("Setup 0 was fairer than supervised: ") and "Setup random:0" not in text
    assert "Setup 0 was less fair than its random-init control random:0 (parity deviation " in text
    assert "random-init controls (the effect of freezing alone, not tested): random:0" in html
