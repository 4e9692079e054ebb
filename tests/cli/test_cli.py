from __future__ import annotations

import subprocess
import sys
import tomllib

from typer.testing import CliRunner

from fairssl.cli import app

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
