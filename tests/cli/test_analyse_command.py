"""`fairssl analyse RUN_DIR --set ...` and `fairssl report RUN_DIR --set ...`: re-analysis of stored
models through `reanalyse` (monkeypatched here: its own tests cover what it computes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.errors import ConfigError

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch, tmp_path) -> list[tuple]:
    import fairssl.experiments.study_analysis as study_analysis
    import fairssl.report.html as html

    seen: list[tuple] = []

    def fake_reanalyse(run_dir, settings, *, log):
        log("re-analysing")
        seen.append(("reanalyse", run_dir, settings))
        return Path(run_dir) / "report.html"

    def fake_build_report(run_dir, **kwargs):
        seen.append(("build_report", run_dir))
        return Path(run_dir) / "report.html"

    monkeypatch.setattr(study_analysis, "reanalyse", fake_reanalyse)
    monkeypatch.setattr(html, "build_report", fake_build_report)
    return seen


def test_analyse_passes_typed_settings_and_prints_the_report(calls, tmp_path) -> None:
    res = runner.invoke(
        app,
        [
            "analyse", str(tmp_path), "--set", "evaluation.min_group_size=10",
            "--set", "evaluation.attributes=['sex', 'race']", "--set", "similarity.enabled=false",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    settings = {"evaluation.min_group_size": 10, "evaluation.attributes": ["sex", "race"]}
    assert calls == [("reanalyse", tmp_path, {**settings, "similarity.enabled": False})]
    assert f"report: {tmp_path / 'report.html'}" in res.stdout and "re-analysing" in res.stdout


def test_analyse_without_settings_reruns_the_stored_ones(calls, tmp_path) -> None:
    res = runner.invoke(app, ["analyse", str(tmp_path)])
    assert res.exit_code == 0 and calls == [("reanalyse", tmp_path, {})]


def test_report_rebuilds_without_settings_and_reanalyses_with_them(calls, tmp_path) -> None:
    assert runner.invoke(app, ["report", str(tmp_path)]).exit_code == 0
    res = runner.invoke(app, ["report", str(tmp_path), "--set", "probes.enabled=false"])
    assert res.exit_code == 0, res.output
    assert calls == [("build_report", tmp_path), ("reanalyse", tmp_path, {"probes.enabled": False})]


@pytest.mark.parametrize("command", ["analyse", "report"])
def test_a_training_setting_is_refused_in_one_line_before_anything_runs(calls, tmp_path, command) -> None:
    res = runner.invoke(app, [command, str(tmp_path), "--set", "pretrain.epochs=3"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: --set pretrain.epochs: re-analysis takes only analysis settings")
    assert "fairssl run --set pretrain.epochs=..." in lines[0]
    res = runner.invoke(app, [command, str(tmp_path), "--set", "evaluation"])
    assert res.exit_code == 2 and "--set expects KEY=VALUE" in res.output
    assert calls == []


def test_errors_of_reanalyse_are_one_line(monkeypatch, tmp_path) -> None:
    import fairssl.experiments.study_analysis as study_analysis

    def bad(run_dir, settings, *, log):
        raise ConfigError("config key 'evaluation.min_group_size': must be at least 4 (got 2)")

    monkeypatch.setattr(study_analysis, "reanalyse", bad)
    res = runner.invoke(app, ["analyse", str(tmp_path), "--set", "evaluation.min_group_size=2"])
    assert res.exit_code == 2
    assert res.output.strip() == "error: config key 'evaluation.min_group_size': must be at least 4 (got 2)"
