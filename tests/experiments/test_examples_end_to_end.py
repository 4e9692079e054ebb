"""The shipped examples for the paper's datasets run end to end on fixtures in the real formats: load,
train (shrunk), analyse and report, with thin groups said, not fatal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from fairssl.config import load_config
from fairssl.experiments.runner import run_study
from fairssl.report.analysis_record import read_analysis_record

FIXTURES = Path(__file__).parents[1] / "data"
if str(FIXTURES) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(FIXTURES))
from fixtures_paper import mesa_users, write_globem, write_mesa, write_mimic3  # noqa: E402

EXAMPLES = Path(__file__).parents[2] / "examples"
pytestmark = pytest.mark.slow

SHRINK: dict[str, Any] = {
    "seeds": [0, 1],
    "pretrain.epochs": 1,
    "pretrain.seed": 0,
    "pretrain.batch_size": 16,
    "finetune.epochs": 2,
    "finetune.batch_size": 16,
    "finetune.setups": ["supervised", "0", "2-first-last"],
    "model.widths": [4, 4, 4],
    "evaluation.n_boot": 20,
    "similarity.n_draws": 1,
    "similarity.n_permutations": 1,
    "probes.n_boot": 5,
}


def _run_example(name: str, settings: dict[str, Any], out: Path) -> Path:
    config = load_config(EXAMPLES / name).with_settings({**SHRINK, **settings}, keep_grid=True)
    return run_study(config, run_dir=out, log=lambda _m: None)


def _completed(run_dir: Path, attributes: tuple[str, ...]) -> None:
    """A report, every analysis stage completed, and each attribute evaluated or said to be thin."""
    assert (run_dir / "report.html").is_file()
    record = read_analysis_record(run_dir)
    assert record.present
    assert all(info.status == "completed" for info in record.stages.values()), record.stages
    said = (run_dir / "results" / "unavailable.csv").read_text()
    results = (run_dir / "results" / "results.csv").read_text()
    for attribute in attributes:
        assert attribute in results or attribute in said


def test_the_mimic3_example_runs_to_a_report_on_a_benchmark_format_fixture(tmp_path) -> None:
    write_mimic3(tmp_path / "mimic", n_random_subjects=40, seed=1)
    run_dir = _run_example(
        "mimic3.toml",
        {
            "data.path": str(tmp_path / "mimic"),
            "data.options": {
                "all_stays": str(tmp_path / "mimic" / "root" / "all_stays.csv"),
                "admissions": str(tmp_path / "mimic" / "ADMISSIONS.csv"),
            },
        },
        tmp_path / "run",
    )
    _completed(run_dir, ("gender", "age", "ethnicity", "language", "insurance"))


def test_the_mesa_example_runs_to_a_report_on_a_benchmark_format_fixture(tmp_path) -> None:
    write_mesa(tmp_path / "mesa", mesa_users(n_train=8, n_test=4), layout="per_user_reference")
    run_dir = _run_example(
        "mesa.toml",
        {
            "data.path": str(tmp_path / "mesa" / "datasets"),
            "data.options": {
                "demographics": str(tmp_path / "mesa" / "demographics.csv"),
                "out_dir": str(tmp_path / "windows"),
                "missing_lights": "flag",
            },
        },
        tmp_path / "run",
    )
    _completed(run_dir, ("sex", "race"))


def test_the_globem_example_runs_to_a_report_on_a_release_format_fixture(tmp_path) -> None:
    write_globem(tmp_path / "globem", returning=2)
    run_dir = _run_example(
        "globem.toml",
        {
            "data.path": str(tmp_path / "globem"),
            "data.options": {"demographics": str(tmp_path / "globem" / "demographics.csv")},
        },
        tmp_path / "run",
    )
    _completed(run_dir, ("gender", "race"))
    warnings = (run_dir / "dataset" / "warnings.txt").read_text()
    assert "no person is in both train and val/test" in warnings  # returning participants are said
