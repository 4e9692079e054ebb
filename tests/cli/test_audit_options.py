"""`fairssl audit [DATA] --source S --config F --set KEY=VALUE ...`: loader options reach the loader."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app

runner = CliRunner()


class _Result:
    def summary_text(self) -> str:
        return "audited"


@pytest.fixture
def seen(monkeypatch) -> list:
    import fairssl.data.audit as audit_mod
    import fairssl.experiments.workspace as workspace_mod

    configs: list = []
    monkeypatch.setattr(workspace_mod, "load_study_data", lambda cfg: configs.append(cfg) or "ds")
    monkeypatch.setattr(audit_mod, "audit", lambda ds, **kwargs: _Result())
    return configs


def test_set_passes_loader_options_and_data_and_source_set_the_data(seen, tmp_path) -> None:
    res = runner.invoke(
        app,
        ["audit", "cohort.csv", "--source", "long", "--set", "data.options.window=24",
         "--set", "data.options.label_rule=any", "--set", "evaluation.reference=rest"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (cfg,) = seen
    assert (cfg.data.source, cfg.data.path) == ("long", "cohort.csv")
    assert cfg.data.options == {"window": 24, "label_rule": "any"}
    assert cfg.evaluation.reference == "rest" and "audited" in res.stdout


def test_config_file_options_are_kept_for_its_source_and_dropped_for_another(seen, tmp_path) -> None:
    f = tmp_path / "study.toml"
    f.write_text('[data]\nsource = "long"\npath = "a.csv"\n[data.options]\nwindow = 12\nstride = 3\n')
    assert runner.invoke(app, ["audit", "--config", str(f), "--set", "data.options.window=6"]).exit_code == 0
    assert runner.invoke(app, ["audit", "b.csv", "--config", str(f)]).exit_code == 0  # same source
    assert runner.invoke(app, ["audit", "--config", str(f), "--source", "pbcseq"]).exit_code == 0
    first, second, third = seen
    assert (first.data.path, first.data.options) == ("a.csv", {"window": 6, "stride": 3})
    assert (second.data.source, second.data.path, second.data.options["window"]) == ("long", "b.csv", 12)
    assert (third.data.source, third.data.path, third.data.options) == ("pbcseq", None, {})


def test_bad_set_items_are_one_line_errors(seen) -> None:
    res = runner.invoke(app, ["audit", "--set", "data.optons.window=3"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "unknown config key 'data.optons'" in lines[0]
    assert seen == []


def test_audit_of_a_real_long_table_with_the_window_given_by_set(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for s in range(30):
        for t in range(10):
            rows.append(
                {
                    "subject": f"s{s}",
                    "time": t,
                    "label": int(rng.random() < 0.3),
                    "hr": rng.normal(70, 10),
                    "sex": "f" if s % 2 else "m",
                }
            )
    path = tmp_path / "cohort.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    base = ["audit", str(path), "--source", "long", "--set", "data.options.attributes=['sex']"]
    res = runner.invoke(app, base)
    assert res.exit_code == 2
    assert res.output.strip() == (
        "error: data source 'long' needs data.options.window (it has no default); set it under "
        "[data.options] or with --set data.options.window=..."
    )
    res = runner.invoke(app, [*base, "--set", "data.options.window=5", "--set", "data.options.stride=5"])
    assert res.exit_code == 0, res.output
    assert re.search(r"\nall\s+60\s+30\s", res.stdout), res.stdout  # 30 subjects x 2 windows of 5 rows
