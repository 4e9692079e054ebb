"""Caveats and chance-level AUROC marks: one list of caveats in report.html and report.md, flagged cells."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.report.caveats import chance_caveat, interval_caveat, seed_caveat
from fairssl.report.chance import CHANCE_MARK, DEGENERATE_MARK, auroc_marks, degenerate, legend, near_chance


def _html_caveats(page: str) -> list[str]:
    box = re.search(r'<div class="caveats" id="caveats">.*?<ul>(.*?)</ul>', page, re.S)
    assert box is not None
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", box.group(1), re.S)]


def _md_caveats(md: str) -> list[str]:
    lines = md.splitlines()
    start = lines.index("## Caveats") + 2
    out = []
    for line in lines[start:]:
        if not line.startswith("- "):
            break
        out.append(line[2:])
    return out


@pytest.mark.parametrize(
    ("est", "low", "high", "marks"),
    [
        (0.52, 0.0, 1.0, CHANCE_MARK + DEGENERATE_MARK),  # the "[0.000, 1.000]"
        (0.8, 0.0002, 0.9997, DEGENERATE_MARK),  # prints as [0.000, 1.000]
        (0.5, 0.05, 0.95, CHANCE_MARK + DEGENERATE_MARK),  # 0.9 wide
        (0.45, 0.06, 0.95, CHANCE_MARK),  # 0.89 wide; the band's edge
        (0.44, 0.40, 0.48, ""),
        (0.56, 0.52, 0.60, ""),
        (float("nan"), 0.0, 1.0, DEGENERATE_MARK),
        (0.5, float("nan"), float("nan"), CHANCE_MARK),
    ],
)
def test_marks_follow_the_band_and_the_width(est: float, low: float, high: float, marks: str) -> None:
    assert auroc_marks(est, low, high) == marks
    assert near_chance(est) == (CHANCE_MARK in marks) and degenerate(low, high) == (DEGENERATE_MARK in marks)


def test_legend_explains_only_the_marks_used() -> None:
    assert legend(["0.800 [0.7, 0.9]"]) == ""
    both = legend([f"0.5 [0, 1] {CHANCE_MARK}{DEGENERATE_MARK}"])
    assert (
        both.startswith(f"{CHANCE_MARK} AUROC within the chance band 0.45-0.55") and DEGENERATE_MARK in both
    )
    assert CHANCE_MARK not in legend([f"0.8 [0, 1] {DEGENERATE_MARK}"])


def test_caveat_sentences() -> None:
    comp = pd.DataFrame(
        {
            "setup": ["supervised", "0", "3"],
            "n_seeds": [3, 3, 3],
            "verdict": ["baseline", "at_chance", "at_chance"],
            "verdict_reason": ["", "auroc_interval_includes_0.5:supervised", "auroc_interval_includes_0.5:3"],
        }
    )
    assert seed_caveat(comp) == "Caveat: 3 seeds per setup; across-seed intervals are wide with so few runs."
    assert seed_caveat(comp.assign(n_seeds=5)) == ""
    assert chance_caveat(comp).startswith(
        "No fairness verdict for setups 0 and 3: the AUROC intervals of supervised and setup 3 include 0.5, "
        "so those models"
    )
    assert chance_caveat(comp.assign(verdict="fairer")) == ""
    triples = [(0.5, 0.0, 1.0), (0.8, 0.7, 0.9), (0.47, 0.4, 0.55), (np.nan, np.nan, np.nan)]
    text = interval_caveat(triples)
    assert (
        "2 AUROC value(s) lie within the chance band" in text and "1 AUROC interval(s) are degenerate" in text
    )
    assert interval_caveat([(0.8, 0.7, 0.9)]) == ""


def test_chance_intervals_are_flagged_in_both_renderers(partial_report: Path) -> None:
    page = (partial_report / "report.html").read_text(encoding="utf-8")
    md = (partial_report / "report.md").read_text(encoding="utf-8")
    comp = pd.read_csv(partial_report / "results" / "comparison.csv", dtype={"setup": str}).set_index("setup")
    r = comp.loc["3"]  # written at chance by the fixture: 0.520 [0.000, 1.000]
    shown = f"{r.auroc:.3f} [{r.auroc_low:.3f}, {r.auroc_high:.3f}] {CHANCE_MARK}{DEGENERATE_MARK}"
    summary = page[page.index('id="summary-table"') :]
    summary = summary[: summary.index("</table>")]
    assert f'class="flag num" data-v="{r.auroc:.12g}" title=' in summary and f">{shown}</td>" in summary
    cells = re.findall(r">([^<]*)</td>", summary)
    assert [c for c in cells if CHANCE_MARK in c or DEGENERATE_MARK in c] == [shown]  # no other setup
    assert 'id="summary-legend"' in page and "AUROC within the chance band 0.45-0.55" in page
    row = next(line for line in md.splitlines() if line.startswith("| 3 |"))
    assert shown in row and "AUROC within the chance band 0.45-0.55" in md
    # the per-group table: race/black of setup 3 is 0.3, 0.5, 0.7 over three seeds: a t interval over seeds
    half = stats.t.ppf(0.975, df=2) * np.std([0.3, 0.5, 0.7], ddof=1) / np.sqrt(3)
    groups = page[page.index('id="sec-groups"') : page.index('id="sec-parity"')]
    assert f">0.50 [{0.5 - half:.2f}, {0.5 + half:.2f}] {CHANCE_MARK}{DEGENERATE_MARK}</td>" in groups


def test_report_md_carries_the_html_caveats(partial_report: Path, handmade_report: Path) -> None:
    for root in (partial_report, handmade_report):
        page = (root / "report.html").read_text(encoding="utf-8")
        md = (root / "report.md").read_text(encoding="utf-8")
        assert _html_caveats(page) == _md_caveats(md)
    caveats = _md_caveats((partial_report / "report.md").read_text(encoding="utf-8"))
    assert caveats[0] == "Caveat: 3 seeds per setup; across-seed intervals are wide with so few runs."
    assert caveats[1].startswith(
        "No fairness verdict for setup 3: the AUROC interval of setup 3 includes 0.5"
    )
    # setup 3's comparison row and its race/black group: near chance and degenerate, nothing else
    assert caveats[2].startswith(
        "Caveat: 2 AUROC value(s) lie within the chance band 0.45-0.55 (marked †) and 2 AUROC interval(s) "
        "are degenerate"
    )
    assert caveats[3] == (
        "4 value(s) could not be computed and the similarity stage failed or did not finish: see What could "
        "not be computed."
    )
    assert caveats[4].startswith("The dataset audit raised 1 warning(s)")
    old = _md_caveats((handmade_report / "report.md").read_text(encoding="utf-8"))
    assert "the analysis record (results/analysis.json) is missing" in " ".join(old).lower()


def test_chance_caveat_with_high_estimates_says_the_intervals_are_too_wide() -> None:
    comp = pd.DataFrame(
        {
            "setup": ["supervised", "3"],
            "n_seeds": [2, 2],
            "auroc": [0.81, 0.78],
            "verdict": ["baseline", "at_chance"],
            "verdict_reason": ["", "auroc_interval_includes_0.5:3"],
        }
    )
    assert chance_caveat(comp).endswith(
        "Their AUROC estimates are at least 0.6, but the intervals are too wide (few seeds: t on n - 1 df) "
        "to show the models beat chance; run more seeds before reading these rows."
    )
    low = chance_caveat(comp.assign(auroc=[0.81, 0.52]))
    assert low.endswith("Check the data preparation (channel scaling, labels) before reading these rows.")
