from __future__ import annotations

import subprocess
import sys
import tomllib

from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.config import build_config

runner = CliRunner()


def test_config_example_prints_valid_toml() -> None:
    res = runner.invoke(app, ["config", "--example"])
    assert res.exit_code == 0
    assert tomllib.loads(res.stdout)["data"]["source"] == "simulate"


def test_typo_key_fails_with_one_line_and_exit_2(tmp_path) -> None:
    f = tmp_path / "study.toml"
    f.write_text("[pretrain]\nepohcs = 3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "fairssl.cli", "run", "--config", str(f)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "unknown config key 'pretrain.epohcs'" in lines[0] and "epochs" in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_profile_and_missing_run_folder_are_user_errors(tmp_path) -> None:
    res = runner.invoke(app, ["run", "--profile", "fast"])
    assert res.exit_code == 2 and "unknown profile 'fast'" in res.output
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "run `fairssl run` first" in res.output
    res = runner.invoke(app, ["status", str(tmp_path)])
    assert res.exit_code == 2 and "not a run folder" in res.output


def test_config_show_resolves_the_profile() -> None:
    res = runner.invoke(app, ["config", "--profile", "paper"])
    assert res.exit_code == 0
    assert tomllib.loads(res.stdout)["pretrain"]["epochs"] == 200


def test_config_example_is_true_to_its_quick_profile() -> None:
    res = runner.invoke(app, ["config", "--example"])
    raw = tomllib.loads(res.stdout)
    assert raw["profile"] == "quick" and "epochs" not in raw["pretrain"] and "epochs" not in raw["finetune"]
    quick, paper = build_config({}).pretrain.epochs, build_config({}, profile="paper").pretrain.epochs
    assert f"# profile: quick {quick}, paper {paper}" in res.stdout


def test_config_show_prints_the_loaders_options_with_defaults(tmp_path) -> None:
    f = tmp_path / "long.toml"
    f.write_text('[data]\nsource = "long"\npath = "cohort.csv"\n[data.options]\nwindow = 24\n')
    res = runner.invoke(app, ["config", "--show", str(f)])
    assert res.exit_code == 0, res.output
    shown = tomllib.loads(res.stdout)
    assert "simulate" not in shown["data"]
    options = shown["data"]["options"]
    assert options["window"] == 24
    # the long source's documented defaults (issue #16: found only in error messages before)
    assert (options["time_col"], options["label_col"], options["stride"]) == ("time", "label", 1)
    assert options["label_rule"] == "last" and options["fractions"] == [0.7, 0.15, 0.15]
    assert "# channels: default none" in res.stdout  # None defaults are listed as comments
    assert "stride = 1  # default" in res.stdout and "window = 24\n" in res.stdout


def test_config_show_marks_a_required_option_and_rejects_unknown_ones(tmp_path) -> None:
    f = tmp_path / "long.toml"
    f.write_text('[data]\nsource = "long"\npath = "cohort.csv"\n')
    res = runner.invoke(app, ["config", "--show", str(f)])
    assert res.exit_code == 0
    assert "# window = ...  # required, no default: set data.options.window" in res.stdout
    f.write_text('[data]\nsource = "long"\npath = "c.csv"\n[data.options]\nwindw = 24\n')
    res = runner.invoke(app, ["config", "--show", str(f)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "data.options ['windw'] are not options of data source 'long'" in lines[0]


def test_config_show_of_the_simulator_prints_its_section_and_no_loader_options() -> None:
    res = runner.invoke(app, ["config"])
    shown = tomllib.loads(res.stdout)
    assert shown["data"]["source"] == "simulate"
    assert shown["data"]["simulate"]["n_steps"] == build_config({}).data.simulate.n_steps
    assert "options" not in shown["data"]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    """`fairssl --help` must start fast: the CLI module imports typer and rich only."""
    code = (
        "import sys, fairssl.cli\n"
        "heavy = ['torch', 'pandas', 'numpy', 'sklearn', 'scipy', 'matplotlib', 'pydantic', 'pyarrow']\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0 and "analyse" in res.output and "audit" in res.output
