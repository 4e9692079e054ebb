"""The analysis record in the report: the "What could not be computed" panel, stage statements, partial
analyses (missing optional tables) and the one error left (no comparison.csv)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from fairssl.errors import DataError
from fairssl.report.analysis_record import (
    UNAVAILABLE_COLUMNS,
    StageStatus,
    StoredAnalysis,
    read_analysis_record,
    stage_note,
)
from fairssl.report.html import build_report
from fairssl.report.unavailable_panel import build_panel, grouped_unavailable

PNG_ONLY = ("png",)

ROWS = [
    {"stage": "evaluation", "setup": "", "attribute": "sex", "group": "", "quantity": "parity_deviation",
     "reason": "too_few_groups", "detail": "Attribute 'sex' has 1 group; lower evaluation.min_group_size."},
    {"stage": "evaluation", "setup": "0", "attribute": "race", "group": "black", "quantity": "auroc",
     "reason": "too_few_positives", "detail": "Group 'black' has 2 positives."},
    {"stage": "evaluation", "setup": "3", "attribute": "race", "group": "black", "quantity": "auroc",
     "reason": "too_few_positives", "detail": "Group 'black' has 2 positives."},
    {"stage": "similarity", "setup": "", "attribute": "", "group": "", "quantity": "cka_conditioned",
     "reason": "stage_failed", "detail": "The similarity stage failed."},
]  # fmt: skip
"""A thin attribute, a group without positives in two setups (one reason, two rows), a failed stage."""


def _text(page: str) -> str:
    """The page's text: tags dropped, entities decoded, blanks collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _record(root: Path, stages: dict[str, tuple[str, str]]) -> None:
    res = root / "results"
    res.mkdir(parents=True, exist_ok=True)
    record = {
        "fairssl_version": "test",
        "settings": {},
        "stages": {k: {"status": s, "reason": r, "seconds": 1.0} for k, (s, r) in stages.items()},
        "finished_at": 0.0,
    }
    (res / "analysis.json").write_text(json.dumps(record))


def test_record_absent_damaged_and_present(tmp_path: Path) -> None:
    absent = read_analysis_record(tmp_path)
    assert (
        not absent.present
        and absent.problem == ""
        and list(absent.unavailable.columns) == list(UNAVAILABLE_COLUMNS)
    )
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "analysis.json").write_text('{"stages": {"evaluation": ')  # cut mid-write
    damaged = read_analysis_record(tmp_path)
    assert not damaged.present and "analysis.json could not be read" in damaged.problem
    _record(tmp_path, {"evaluation": ("completed", ""), "similarity": ("failed", "ValueError: x")})
    pd.DataFrame(ROWS).drop(columns=["group"]).to_csv(tmp_path / "results" / "unavailable.csv", index=False)
    rec = read_analysis_record(tmp_path)
    assert rec.present and rec.stage("similarity") == StageStatus(
        "similarity", "failed", "ValueError: x", 1.0
    )
    assert rec.stage("probes").status == "not_recorded"
    assert len(rec.unavailable) == len(ROWS) and set(rec.unavailable["group"]) == {""}  # column filled
    assert [s.stage for s in rec.incomplete()] == ["similarity"]


def test_unavailable_rows_are_grouped_by_stage_and_reason() -> None:
    rows = pd.DataFrame([ROWS[3], *ROWS[:3]])  # stage order restored: evaluation first
    table = grouped_unavailable(rows)
    assert list(zip(table["stage"], table["reason"], table["count"], strict=True)) == [
        ("evaluation", "too_few_groups", 1),
        ("evaluation", "too_few_positives", 2),
        ("similarity", "stage_failed", 1),
    ]
    positives = table.iloc[1]
    assert positives["where"] == "race/black" and positives["setups"] == "0, 3"
    assert positives["why"] == ROWS[1]["detail"]  # the same sentence is quoted once
    assert table.iloc[0]["setups"] == "every setup" and table.iloc[2]["where"] == "every attribute"


def test_many_setups_and_details_are_capped() -> None:
    rows = pd.DataFrame([{**ROWS[1], "setup": f"s{i}", "detail": f"Reason {i}."} for i in range(9)])
    row = grouped_unavailable(rows).iloc[0]
    assert row["count"] == 9 and row["setups"] == "s0, s1, s2, s3, s4, s5 and 3 more"
    assert row["why"] == "Reason 0; Reason 1; Reason 2 (+6 more in results/unavailable.csv)."
    grid = pd.DataFrame([{**ROWS[1], "variant": "x=1"}, {**ROWS[1], "variant": "x=2"}])
    assert grouped_unavailable(grid).iloc[0]["setups"] == "0 [x=1], 0 [x=2]"  # variants never merged


def test_stage_notes_say_what_happened_never_disabled_when_it_failed(tmp_path: Path) -> None:
    failed = StoredAnalysis(True, stages={"similarity": StageStatus("similarity", "failed", "KeyError: 'a'")})
    note = stage_note(failed, "similarity", root="R")
    assert note.startswith(
        "The similarity stage failed: KeyError: 'a'. Its tables (results/cka*.csv) are missing"
    )
    assert "disabled" not in note and "`fairssl analyse R`" in note
    skipped = StoredAnalysis(True, stages={"probes": StageStatus("probes", "skipped", "too_few_groups")})
    assert stage_note(skipped, "probes") == "The probes stage was skipped: too_few_groups."
    assert "stopped before it" in stage_note(failed, "probes")  # recorded analysis, stage not listed
    done = StoredAnalysis(True, stages={"probes": StageStatus("probes", "completed")})
    assert stage_note(done, "probes") == ""
    # no record: "disabled" only when config.toml says so
    off = StoredAnalysis(False, config={"similarity": {"enabled": False}})
    assert stage_note(off, "similarity") == (
        "The similarity stage is disabled in config.toml (similarity.enabled = false)."
    )
    on = stage_note(StoredAnalysis(False, config={"similarity": {"enabled": True}}), "similarity")
    assert "analysis record (results/analysis.json) is missing" in on and "disabled" not in on


def test_panel_and_stage_statements_in_html_and_markdown(partial_report: Path) -> None:
    page = (partial_report / "report.html").read_text(encoding="utf-8")
    md = (partial_report / "report.md").read_text(encoding="utf-8")
    text = _text(page)
    given = pd.read_csv(partial_report / "results" / "unavailable.csv", dtype=str, keep_default_na=False)
    error = json.loads((partial_report / "results" / "analysis.json").read_text())["stages"]["similarity"]
    error = error["reason"]
    lead = f"{len(given)} value(s) could not be computed, in {given['stage'].nunique()} stage(s)"
    failed = (
        f"The similarity stage failed: {error}. Missing from this report as a result: Representations (CKA)."
    )
    skipped = "The probes stage was skipped: disabled (probes.enabled = false)."
    for doc in (text, md):
        assert "What could not be computed" in doc and lead in doc and failed in doc and skipped in doc
        for detail in set(given["detail"]):
            assert detail in doc
    # the panel follows the headline, before the points and the table
    assert (
        page.index('id="headline"') < page.index('id="could-not-compute"') < page.index('id="summary-table"')
    )
    assert md.index("## What could not be computed") < md.index("## Setups against supervised")
    table = page[page.index('id="unavailable-table"') :]
    table = table[: table.index("</table>")]
    counts = [
        int(c) for c in re.findall(r'<tr><td>[^<]*</td><td>[^<]*</td><td class="num"[^>]*>(\d+)<', table)
    ]
    expected = given.groupby(["stage", "reason"], sort=False).size()
    assert sorted(counts) == sorted(expected) and sum(counts) == len(given)
    # the representation section says it failed, with the error, and never that it was disabled
    similarity = _text(page[page.index('id="sec-similarity"') : page.index('id="sec-probes"')])
    assert f"No CKA tables (results/cka.csv): the similarity stage failed: {error}." in similarity
    assert "disabled" not in similarity and "similarity.enabled" not in similarity
    probes = _text(page[page.index('id="sec-probes"') : page.index('id="sec-variants"')])
    assert "No probe results: the probes stage was skipped: disabled (probes.enabled = false)." in probes


def test_old_folder_without_record_says_so(handmade_report: Path) -> None:
    text = _text((handmade_report / "report.html").read_text(encoding="utf-8"))
    md = (handmade_report / "report.md").read_text(encoding="utf-8")
    for doc in (text, md):
        assert "No analysis record: results/analysis.json is missing (the run folder predates it)" in doc


def test_report_of_a_partly_failed_analysis_says_why_each_section_is_empty(make_run, tmp_path: Path) -> None:
    root = make_run(tmp_path / "run", setups=("supervised", "0"), seeds=(0, 1))
    res = root / "results"
    for name in (
        "summary.csv",
        "results.parquet",
        "changes.csv",
        "cka.csv",
        "cka_best_worst.csv",
        "cka_ratio.csv",
    ):
        (res / name).unlink()
    (res / "analysis.log").write_text("Traceback (most recent call last): ...\n")
    _record(
        root,
        {
            "evaluation": ("failed", "OSError: disk full"),
            "inference": ("completed", ""),
            "similarity": ("skipped", "the evaluation stage failed"),
        },
    )
    page = build_report(root, formats=PNG_ONLY).read_text(encoding="utf-8")
    text = _text(page)
    assert text.count("The evaluation stage failed: OSError: disk full.") >= 3  # panel, groups, all metrics
    assert "Fix the cause (traceback in results/analysis.log) and re-analyse: `fairssl analyse " in text
    assert "No per-run table (results/summary.csv is missing)" in text
    assert (
        "No CKA tables (results/cka.csv): the similarity stage was skipped: the evaluation stage failed."
        in text
    )
    assert "The probes stage has no entry in the analysis record" in text  # the record stops before it
    assert (root / "report.md").read_text(encoding="utf-8").startswith("# run\n")


def test_without_comparison_the_error_names_the_failed_stage(make_run, tmp_path: Path) -> None:
    root = make_run(tmp_path / "run", setups=("supervised", "0"), seeds=(0,), cka=False)
    (root / "results" / "comparison.csv").unlink()
    with pytest.raises(DataError, match=r"has no results/comparison.csv \(its analysis did not finish"):
        build_report(root)
    _record(root, {"evaluation": ("completed", ""), "inference": ("failed", "ValueError: no values")})
    with pytest.raises(DataError, match=r"inference stage failed: ValueError: no values; fix the cause"):
        build_report(root)


def test_build_panel_without_anything_to_report() -> None:
    done = {s: StageStatus(s, "completed") for s in ("evaluation", "inference", "similarity", "probes")}
    panel = build_panel(StoredAnalysis(True, stages=done))
    assert panel.lead.startswith("Everything the analysis attempted was computed")
    assert panel.stage_lines == [
        "Every analysis stage completed (evaluation, inference, similarity, probes)."
    ]
    assert panel.table.empty
