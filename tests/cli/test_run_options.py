"""`fairssl run --executor/--workers/--set`: validated like the config keys they override."""

from __future__ import annotations

import pytest
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


def _fake_run_study(calls: list[dict], run_dir):
    def fake(cfg, **kwargs):
        calls.append({"config": cfg, **kwargs})
        return run_dir

    return fake


def test_cuda_without_a_gpu_stops_run_before_any_data_or_training(monkeypatch, tmp_path) -> None:
    import torch

    import fairssl.experiments.runner as runner_mod
    import fairssl.experiments.workspace as workspace_mod

    calls: list[dict] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runner_mod, "run_study", _fake_run_study(calls, tmp_path))
    monkeypatch.setattr(workspace_mod, "load_study_data", lambda cfg: calls.append({"data": cfg}))
    f = tmp_path / "s.toml"
    f.write_text('[runtime]\ndevice = "cuda"\n')
    for args in (["--config", str(f)], ["--set", "runtime.device=cuda"]):
        res = runner.invoke(app, ["run", *args])
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "error: runtime.device = 'cuda' but torch sees no CUDA"
        )
        assert "--set runtime.device=cpu" in lines[0]
    assert calls == []


def test_check_device_accepts_what_this_machine_has(monkeypatch) -> None:
    import torch

    from fairssl.config import build_config
    from fairssl.errors import ConfigError
    from fairssl.runtime import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check_device(build_config({"runtime": {"device": "cpu"}}).runtime)
    check_device(build_config({}).runtime)  # auto
    with pytest.raises(ConfigError, match=r"runtime\.device = 'cuda'"):
        check_device(build_config({"runtime": {"device": "cuda"}}).runtime)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_device(build_config({"runtime": {"device": "cuda"}}).runtime)


def test_force_is_passed_to_run_study_only_when_given(monkeypatch, tmp_path) -> None:
    import fairssl.cli as cli
    import fairssl.experiments.runner as runner_mod

    calls: list[dict] = []
    monkeypatch.setattr(runner_mod, "run_study", _fake_run_study(calls, tmp_path))
    monkeypatch.setattr(cli, "_print_summary", lambda run_dir: None)
    res = runner.invoke(app, ["run", "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["run", "--out", str(tmp_path / "a"), "--force"])
    assert res.exit_code == 0, res.output
    assert "force" not in calls[0] and calls[1]["force"] is True
    assert calls[0]["run_dir"] == calls[1]["run_dir"] == tmp_path / "a"


def test_bad_analysis_settings_stop_run_before_training(monkeypatch, tmp_path) -> None:
    import fairssl.experiments.runner as runner_mod

    calls: list[dict] = []
    monkeypatch.setattr(runner_mod, "run_study", _fake_run_study(calls, tmp_path))
    for item, text in (
        ("evaluation.min_group_size=2", "config key 'evaluation.min_group_size': must be at least 4"),
        ("probes.n_boot=0", "config key 'probes.n_boot': must be at least 1"),
        ("evaluation.attributes=[]", "config key 'evaluation.attributes': must list attribute names"),
    ):
        res = runner.invoke(app, ["run", "--set", item])
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], res.output
    assert calls == []


def test_a_missing_required_loader_option_stops_run_before_loading(monkeypatch, tmp_path) -> None:
    import fairssl.experiments.runner as runner_mod

    calls: list[dict] = []
    monkeypatch.setattr(runner_mod, "run_study", _fake_run_study(calls, tmp_path))
    f = tmp_path / "s.toml"
    f.write_text('[data]\nsource = "long"\npath = "cohort.csv"\n')
    res = runner.invoke(app, ["run", "--config", str(f)])
    assert res.exit_code == 2 and calls == []
    assert res.output.strip().startswith("error: data source 'long' needs data.options.window")
