"""`fairssl run --executor/--workers/--set`: validated like the config keys they override."""

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
    from fairssl.experiments.workspace import run_dir_for

    base = run_dir_for(build_config({}))
    assert run_dir_for(build_config({"runtime": {"executor": "ray", "workers": 8}})) == base
    assert run_dir_for(build_config({"finetune": {"lr": 0.5}})) != base


def test_analysis_settings_reuse_the_run_folder_and_its_models() -> None:
    """Changing how trained models are analysed must not retrain them (issue #16): the analysis sections
    are left out of the folder's hash, and run ids never depended on them."""
    from fairssl.config import build_config
    from fairssl.experiments.grid import expand
    from fairssl.experiments.workspace import run_dir_for

    base_cfg = build_config({})
    changed = build_config(
        {
            "evaluation": {"min_subjects": 2, "alpha": 0.01, "parity": "paper", "n_boot": 50},
            "similarity": {"n_permutations": 40},
            "probes": {"enabled": False},
        }
    )
    assert run_dir_for(changed) == run_dir_for(base_cfg)
    assert [s.run_id for s in expand(changed)] == [s.run_id for s in expand(base_cfg)]


def test_set_values_are_read_as_toml_else_as_text() -> None:
    from fairssl.config import parse_settings

    got = parse_settings(["pretrain.epochs=50", "seeds=[0, 1]", "pretrain.pool=balanced:race", "x.y = true"])
    assert got == {"pretrain.epochs": 50, "seeds": [0, 1], "pretrain.pool": "balanced:race", "x.y": True}


def test_set_overrides_keep_the_grid_and_validate_like_the_file() -> None:
    from fairssl.config import build_config, parse_settings

    cfg = build_config({"grid": {"pretrain.pool": ["full", "balanced:sex"]}})
    new = cfg.with_settings(
        parse_settings(["pretrain.seed=2", "finetune.setups=['supervised', '3']"]), keep_grid=True
    )
    assert new.grid == cfg.grid and new.pretrain.seed == 2 and new.finetune.setups == ["supervised", "3"]


def test_bad_set_items_are_one_line_errors() -> None:
    for args, text in (
        (["--set", "pretrain.epochz=3"], "unknown config key 'pretrain.epochz'"),
        (["--set", "epochs"], "--set expects KEY=VALUE"),
        (["--set", "seeds=[0, 0]"], "distinct integers"),
        (["--set", "profile=paper"], "--profile"),
    ):
        res = runner.invoke(app, ["run", *args])
        assert res.exit_code == 2 and text in res.output, (args, res.output)
        assert "Traceback" not in res.output
