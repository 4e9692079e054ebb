"""The command's summary prints the report's text as it is: brackets are text, never rich markup.

A fresh `fairssl run` printed "115% higher , with" and a bare "-115%" because rich read
"[no usable relative interval ...]" as a style tag and dropped it.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pandas as pd
from rich.console import Console

import fairssl.cli_output as cli_output
import fairssl.report.inputs as inputs
from fairssl.evaluation.verdicts import SETUP_COLUMNS


def _comparison() -> pd.DataFrame:
    nan = float("nan")
    sup = dict.fromkeys(SETUP_COLUMNS, nan)
    sup.update(setup="supervised", kind="baseline", n_seeds=1, auroc=0.66, auroc_low=0.6, auroc_high=0.72)
    sup.update(parity_deviation=0.176, pd_low=0.0, pd_high=0.21, verdict="", alpha=0.05)
    ssl = dict.fromkeys(SETUP_COLUMNS, nan)
    ssl.update(
        setup="2-first-middle", kind="ssl", n_seeds=1, auroc=0.67, auroc_low=0.6, auroc_high=0.73, alpha=0.05
    )
    ssl.update(parity_deviation=0.378, pd_low=0.07, pd_high=0.55, pd_change=0.202, pd_change_low=-0.057)
    ssl.update(pd_change_high=0.462, improvement=-1.15, improvement_low=-2.63, improvement_high=0.33)
    ssl.update(verdict="one_seed", verdict_reason="one_seed", auroc_change=0.006)
    return pd.DataFrame([sup, ssl])


def test_the_summary_keeps_bracketed_text(monkeypatch, tmp_path) -> None:
    comparison = _comparison()
    monkeypatch.setattr(inputs, "read_stored_results", lambda _run: SimpleNamespace(comparison=comparison))
    made: list[Console] = []

    def recording(**kw):  # type: ignore[no-untyped-def]
        made.append(Console(record=True, **kw))
        return made[-1]

    monkeypatch.setattr(cli_output, "out", Console(file=io.StringIO()))  # stdout that is not a terminal
    monkeypatch.setattr(cli_output, "Console", recording)
    cli_output.print_summary(tmp_path)
    (console,) = made
    text = console.export_text()
    assert "…" not in text  # at the pipe width nothing is cut: intervals and headers whole
    assert "PD improvement vs supervised [corrected CI]" in text
    assert "-115% [no usable relative interval]" in text  # the table cell, whole
    assert "115% higher [no usable relative interval (the parity deviation it is relative to" in text
    assert " , " not in text
