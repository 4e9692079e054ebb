"""`fairssl run --executor/--workers`: validated like the config keys they override."""

from __future__ import annotations

from typer.testing import CliRunner

from fairssl.cli import app

runner = CliRunner()


def test_an_unknown_executor_is_a_one_line_config_error() -> None:
    res = runner.invoke(app, ["run", "--executor", "slurm"])
    assert res.exit_code == 2
    assert "config key 'runtime.executor'" in res.output and "'local' or 'ray'" in res.output
    assert "slurm" in res.output


def test_workers_must_be_positive() -> None:
    res = runner.invoke(app, ["run", "--workers", "0"])
    assert res.exit_code == 2 and "config key 'runtime.workers'" in res.output


def test_the_run_folder_does_not_depend_on_the_executor() -> None:
    from fairssl.config import build_config
    from fairssl.experiments.runner import run_dir_for

    base = run_dir_for(build_config({}))
    assert run_dir_for(build_config({"runtime": {"executor": "ray", "workers": 8}})) == base
    assert run_dir_for(build_config({"finetune": {"lr": 0.5}})) != base
