"""The notebook API: fairssl.assess, load_study and Study, on the tiny study of conftest.TINY."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import logging
import os
import random
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import fairssl
from fairssl.api import dataset_digest, plan_study, resolve_config, stage_dataset
from fairssl.config import SimulationConfig, build_config
from fairssl.data.dataset import WindowDataset
from fairssl.data.simulate import simulate
from fairssl.errors import ConfigError, DataError
from fairssl.experiments.store import Store
from fairssl.experiments.workspace import study_digest
from fairssl.results_schema import TABLES
from fairssl.study import caller_state_kept

_CACHE: dict[str, Any] = {}
"""Studies trained once per module (each takes ~10 s), shared by the tests that only read them."""


def _config(tiny: dict[str, Any], out: Path) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny)
    cfg["output_dir"] = str(out)
    cfg["runtime"] = {"workers": 1}  # in this process: no worker start-up
    return cfg


def _records(run_dir: Path) -> dict[str, tuple[str, int, float | None]]:
    with Store(run_dir / "results.sqlite", readonly=True) as store:
        return {r.run_id: (r.status, r.attempts, r.finished_at) for r in store.records()}


def _caller_state() -> dict[str, Any]:
    import matplotlib
    import matplotlib.pyplot as plt

    return {
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "filters": list(warnings.filters),
        "random": random.getstate(),
        "numpy": np.random.get_state()[1].tobytes(),
        "torch_rng": torch.get_rng_state().numpy().tobytes(),
        "logging": (logging.getLogger().level, list(logging.getLogger().handlers)),
        "environ": dict(os.environ),
        "backend": plt.get_backend(),
        "rc": {k: repr(v) for k, v in matplotlib.rcParams.items() if k != "backend"},
        "figures": plt.get_fignums(),
    }


@pytest.fixture
def simulator_study(tiny_config_dict, tmp_path_factory) -> SimpleNamespace:
    """``assess`` on the simulator with log=None, with the caller's state before and after."""
    if "simulator" not in _CACHE:
        import matplotlib.pyplot as plt

        cfg = _config(tiny_config_dict, tmp_path_factory.mktemp("simulator"))
        previous = (torch.get_num_threads(), plt.get_backend())
        torch.set_num_threads(2)  # not the study's 1 thread per run: a leak would show
        plt.switch_backend("svg")  # not the report's Agg
        out, err = io.StringIO(), io.StringIO()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="a filter of the caller")
            before = _caller_state()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                study = fairssl.assess(config=cfg)
            after = _caller_state()
        torch.set_num_threads(previous[0])
        plt.switch_backend(previous[1])
        _CACHE["simulator"] = SimpleNamespace(
            study=study, cfg=cfg, before=before, after=after, printed=out.getvalue() + err.getvalue()
        )
    return _CACHE["simulator"]


# ---------------------------------------------------------------------------------------------- import
def test_import_fairssl_loads_neither_torch_nor_pandas() -> None:
    code = (
        "import sys, fairssl; "
        "heavy = [m for m in ('torch', 'pandas', 'fairssl.api', 'fairssl.metrics') if m in sys.modules]; "
        "print(','.join(heavy)); "
        "print(callable(fairssl.assess) and callable(fairssl.group_metrics), 'assess' in dir(fairssl))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, lazy = done.stdout.splitlines()
    assert heavy == ""
    assert lazy == "True True"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'asses'"):
        fairssl.asses  # noqa: B018


# ---------------------------------------------------------------------------------------------- study runs
@pytest.mark.slow
def test_assess_on_the_simulator_matches_the_stored_comparison(simulator_study) -> None:
    study, cfg = simulator_study.study, simulator_study.cfg
    assert isinstance(study, fairssl.Study)
    assert study.run_dir.parent == Path(cfg["output_dir"])
    assert sorted(study.comparison["setup"]) == sorted(cfg["finetune"]["setups"])
    stored = pd.read_csv(study.run_dir / "results" / "comparison.csv", dtype={"setup": str})
    assert list(study.comparison["setup"]) == list(stored["setup"])
    numeric = [
        c
        for c in stored.select_dtypes("number").columns
        if stored[c].notna().any() and TABLES["comparison"].dtype(c) != "str"
    ]
    assert len(numeric) > 10
    np.testing.assert_allclose(study.comparison[numeric].to_numpy(float), stored[numeric].to_numpy(float))
    assert study.headline and study.headline in (study.run_dir / "report.md").read_text()
    assert study.report_path == study.run_dir / "report.html"
    runs = len(cfg["seeds"]) * (1 + len(cfg["finetune"]["setups"]))  # pre-training + one per setup
    assert study.status()[0].startswith(f"{runs} runs: {runs} done")
    assert set(study.stages["status"]) == {"completed"}
    assert len(study.summary) == len(cfg["finetune"]["setups"]) * len(cfg["seeds"])
    assert set(study.setups["quantity"]) >= {"auroc", "parity_deviation"}
    assert not study.results.empty and not study.changes.empty and not study.cka.empty


@pytest.mark.slow
def test_assess_prints_nothing_and_leaves_the_callers_state(simulator_study) -> None:
    assert simulator_study.printed == ""
    before, after = simulator_study.before, simulator_study.after
    assert before["threads"] == 2
    for key in before:
        assert after[key] == before[key], key


@pytest.mark.slow
def test_load_study_round_trips_and_shows_the_headline(simulator_study) -> None:
    study = simulator_study.study
    loaded = fairssl.load_study(str(study.run_dir))
    assert loaded.config == build_config(simulator_study.cfg)
    pd.testing.assert_frame_equal(loaded.comparison, study.comparison)
    expected = pd.read_parquet(study.run_dir / "results" / "results.parquet")
    assert len(loaded.results) == len(expected)
    text = repr(loaded)
    assert loaded.headline[:60] in " ".join(text.split())
    assert all(s in text for s in simulator_study.cfg["finetune"]["setups"])
    page = loaded._repr_html_()
    assert "<table" in page and page.count("<tr") == len(study.comparison) + 1


@pytest.mark.slow
def test_reanalyse_changes_an_evaluation_setting_without_training(simulator_study, tmp_path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(simulator_study.study.run_dir, run_dir)
    before = fairssl.load_study(run_dir)
    assert set(before.comparison["alpha"]) == {0.05}
    records = _records(run_dir)
    published = {p: p.stat().st_mtime_ns for p in (run_dir / "runs").glob("*/done.json")}
    with pytest.raises(ConfigError, match=r"pretrain\.epochs"):
        before.reanalyse(pretrain={"epochs": 3})
    after = before.reanalyse({"evaluation.alpha": 0.1})
    assert set(before.comparison["alpha"]) == {0.05}  # the old object keeps what it read
    assert set(after.comparison["alpha"]) == {0.1}
    assert any("90% CI" in str(c) for c in after.overview.columns)
    assert tomllib.loads((run_dir / "config.toml").read_text())["evaluation"]["alpha"] == 0.1
    assert _records(run_dir) == records
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "runs").glob("*/done.json")} == published


@pytest.mark.slow
def test_assess_an_in_memory_dataset_resumes_in_its_folder(tiny_config_dict, tmp_path) -> None:
    sim = simulate(SimulationConfig(**tiny_config_dict["data"]["simulate"]), seed=3)
    data = dataclasses.replace(sim, name="wearables", y_clean=None, info={})  # as a user's own data
    cfg = _config(tiny_config_dict, tmp_path / "runs")
    lines: list[str] = []
    study = fairssl.assess(data, cfg, log=lines.append)
    assert lines  # log is called
    assert sorted(study.comparison["setup"]) == sorted(cfg["finetune"]["setups"])
    assert study.config.data.source == "folder"
    saved = Path(str(study.config.data.path))
    assert saved.parent == study.run_dir.resolve() / "input"
    assert dataset_digest(WindowDataset.load(saved)) == dataset_digest(data)
    records = _records(study.run_dir)
    assert {s for s, _, _ in records.values()} == {"done"}

    lines.clear()
    again = fairssl.assess(data, cfg, log=lines.append)
    assert again.run_dir == study.run_dir
    assert _records(study.run_dir) == records  # nothing trained again
    n = len(records)
    assert f"resuming: {n} of {n} runs already done" in lines

    other = dataclasses.replace(data, X=data.X * np.float32(1.01))
    other_cfg, other_root, other_input = plan_study(other, cfg)
    assert other_root is not None and other_root != study.run_dir
    assert study_digest(other_cfg) != study_digest(study.config)
    with pytest.raises(DataError, match="another study"):  # the same folder, forced: refused up front
        fairssl.assess(other, cfg, run_dir=study.run_dir)
    assert other_input is not None and not (study.run_dir / "input" / other_input.name).exists()


# ---------------------------------------------------------------------------------------------- no study
def _small_dataset(seed: int = 0) -> WindowDataset:
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"s{i}" for i in range(12)], 4)
    split = np.repeat(["train"] * 6 + ["val"] * 3 + ["test"] * 3, 4)
    return WindowDataset.build(
        rng.normal(size=(48, 2, 16)).astype(np.float32),
        np.tile([0, 1], 24),
        subject=subjects,
        split=split,
        attributes=pd.DataFrame({"sex": np.tile(["f", "m", "m"], 16)}),
        name="small",
    )


def test_dataset_digest_survives_a_save_load_round_trip_and_sees_any_change(tmp_path) -> None:
    data = _small_dataset()
    digest = dataset_digest(data)
    assert len(digest) == 64
    assert dataset_digest(WindowDataset.load(data.save(tmp_path / "ds"))) == digest
    assert dataset_digest(_small_dataset()) == digest  # content, not identity
    y = data.y.copy()
    y[0] = 1 - y[0]
    attributes = data.attributes.astype(str).reset_index(drop=True)
    attributes.loc[0, "sex"] = "m" if attributes.loc[0, "sex"] == "f" else "f"
    changed = [
        dataclasses.replace(data, y=y),
        WindowDataset.build(data.X, data.y, subject=data.subject, split=data.split, attributes=attributes),
        dataclasses.replace(data, X=data.X + np.float32(1e-3)),
        dataclasses.replace(data, name="other"),
    ]
    assert len({dataset_digest(d) for d in changed} | {digest}) == len(changed) + 1


def test_stage_dataset_writes_once_and_completely(tmp_path) -> None:
    data = _small_dataset()
    folder = stage_dataset(data, tmp_path / "input" / "abc")
    stamp = (folder / "X.npy").stat().st_mtime_ns
    assert stage_dataset(data, folder) == folder
    assert (folder / "X.npy").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in folder.parent.iterdir()) == ["abc"]  # no temporary folder left
    np.testing.assert_array_equal(WindowDataset.load(folder).X, data.X)


def test_plan_study_places_the_dataset_by_content(tmp_path) -> None:
    cfg = {"output_dir": str(tmp_path)}
    data = _small_dataset()
    config, root, folder = plan_study(data, cfg)
    assert root is not None and folder is not None
    assert root.parent == tmp_path and folder.parent == root.resolve() / "input"
    assert folder.name == dataset_digest(data)[:16]
    assert (config.data.source, config.data.path) == ("folder", str(folder))
    assert plan_study(_small_dataset(), cfg)[1] == root  # the same content: the same folder
    assert plan_study(_small_dataset(seed=1), cfg)[1] != root
    explicit = plan_study(data, cfg, run_dir=tmp_path / "mine")
    assert (
        explicit[1] == tmp_path / "mine"
        and explicit[2] == (tmp_path / "mine").resolve() / "input" / folder.name
    )
    assert not any(tmp_path.iterdir())  # planning writes nothing


def test_plan_study_rejects_what_it_cannot_honour(tmp_path) -> None:
    with pytest.raises(DataError, match="WindowDataset"):
        plan_study(np.zeros((4, 1, 8)), None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"data\.simulate\.n_subjects"):
        plan_study(_small_dataset(), None, settings={"data.simulate.n_subjects": 10})
    nan = _small_dataset()
    nan.X[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        plan_study(nan, None)


def test_resolve_config_takes_every_form(tmp_path) -> None:
    default = build_config({})
    assert resolve_config() == default
    assert resolve_config({"seeds": [0, 1]}).seeds == [0, 1]
    path = tmp_path / "study.toml"
    path.write_text('name = "from-file"\n[pretrain]\nepochs = 3\n')
    assert (resolve_config(path).name, resolve_config(str(path)).pretrain.epochs) == ("from-file", 3)
    nested = resolve_config(None, {"pretrain": {"epochs": 4}})  # one key set, the section kept
    assert nested.pretrain.epochs == 4
    assert nested.pretrain.optimizer == default.pretrain.optimizer
    assert resolve_config(default, {"pretrain.epochs": 4}) == nested
    with pytest.raises(ConfigError, match=r"pretrain\.epoch\b"):
        resolve_config(None, {"pretrain.epoch": 4})
    with pytest.raises(ConfigError, match="StudyConfig"):
        resolve_config(42)  # type: ignore[arg-type]


def test_caller_state_kept_restores_what_library_code_changes() -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    before = _caller_state()
    lines: list[str] = []
    with caller_state_kept(lines.append):
        torch.set_num_threads(before["threads"] + 1)
        torch.use_deterministic_algorithms(not before["deterministic"])
        random.seed(1)
        np.random.seed(1)
        torch.manual_seed(1)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("always", RuntimeWarning)
        warnings.warn("a warning from inside", RuntimeWarning, stacklevel=1)
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger().addHandler(logging.NullHandler())
        os.environ["FAIRSSL_API_TEST"] = "1"
        matplotlib.use("Agg")
        plt.rcParams.update({"axes.titlesize": 31, "svg.fonttype": "none"})
        plt.figure()
    assert _caller_state() == before
    assert lines == ["warning: RuntimeWarning: a warning from inside"]


def test_a_folder_without_results_reads_as_empty_tables(tmp_path) -> None:
    with pytest.raises(DataError, match="not a run folder"):
        fairssl.load_study(tmp_path)
    (tmp_path / "config.toml").write_text('name = "empty"\n')
    study = fairssl.load_study(tmp_path)
    assert study.comparison.empty and study.cka.empty and study.stages.empty
    assert study.problem and study.headline == study.problem
    assert "no results yet" in repr(study) and "no results yet" in study._repr_html_()
    assert study.status()[0].endswith("pending")
