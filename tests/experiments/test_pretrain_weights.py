"""``pretrain.weights``: assess an existing encoder. The pre-training run's id follows the file's content
(not its path, not the unused pre-training settings), the run loads the weights instead of training,
and every SSL setup starts from exactly those weights."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from fairssl.config import StudyConfig, build_config
from fairssl.errors import ConfigError, DataError
from fairssl.experiments.grid import RunSpec, expand, unique_runs
from fairssl.experiments.runner import run_study
from fairssl.experiments.training import execute_run, load_encoder_weights
from fairssl.experiments.workspace import Workspace, load_study_data
from fairssl.ssl.pretrain import build_encoder


def _config(tiny: dict[str, Any], weights: Path | None = None, **pretrain: Any) -> StudyConfig:
    cfg = copy.deepcopy(tiny)
    cfg["finetune"]["setups"] = ["supervised", "3"]
    cfg["runtime"] = {"workers": 1}
    cfg["pretrain"] = {**cfg["pretrain"], **pretrain}
    if weights is not None:
        cfg["pretrain"]["weights"] = str(weights)
    return build_config(cfg)


def _save_encoder(config: StudyConfig, path: Path, *, seed: int = 7) -> dict[str, torch.Tensor]:
    """An encoder of ``config``'s architecture with seeded random weights, saved to ``path``."""
    ds = load_study_data(config)
    torch.manual_seed(seed)
    state = build_encoder(config.model, ds.n_channels, ds.n_steps).state_dict()
    torch.save(state, path)
    return state


def _pre(specs: list[RunSpec]) -> list[RunSpec]:
    return [s for s in unique_runs(specs) if s.kind == "pretrain"]


def _ids(specs: list[RunSpec]) -> dict[str, str]:
    return {s.setup or "pretrain": s.run_id for s in unique_runs(specs)}


def test_ids_follow_the_files_content_not_its_path(tmp_path, tiny_config_dict) -> None:
    plain = _config(tiny_config_dict)
    a = tmp_path / "a.pt"
    state = _save_encoder(plain, a)
    b = tmp_path / "elsewhere" / "b.pt"
    b.parent.mkdir()
    shutil.copy(a, b)
    ids_a, ids_b = _ids(expand(_config(tiny_config_dict, a))), _ids(expand(_config(tiny_config_dict, b)))
    assert ids_a == ids_b  # a copy: the same runs
    assert ids_a["supervised"] == _ids(expand(plain))["supervised"]  # no pre-training: unaffected
    assert ids_a["pretrain"] != _ids(expand(plain))["pretrain"]
    # one weight changed: a new pre-training run and new SSL fine-tuning runs
    changed = {k: v.clone() for k, v in state.items()}
    changed["conv2.0.bias"][0] += 1e-3
    torch.save(changed, b)
    ids_c = _ids(expand(_config(tiny_config_dict, b)))
    assert ids_c["pretrain"] != ids_a["pretrain"] and ids_c["3"] != ids_a["3"]
    assert ids_c["supervised"] == ids_a["supervised"]
    # the spec records where the weights came from and their sha256
    (pre,) = _pre(expand(_config(tiny_config_dict, b)))
    assert pre.payload["weights"] == {"path": str(b), "sha256": hashlib.sha256(b.read_bytes()).hexdigest()}


def test_unused_pretraining_settings_do_not_enter_the_id(tmp_path, tiny_config_dict) -> None:
    path = tmp_path / "enc.pt"
    _save_encoder(_config(tiny_config_dict), path)
    base = _pre(expand(_config(tiny_config_dict, path)))
    assert len(base) == 1
    other = dict(epochs=9, lr=0.5, method="vicreg", augmentation="none", pool="balanced:sex", seed=3)
    for key, value in other.items():
        assert [p.run_id for p in _pre(expand(_config(tiny_config_dict, path, **{key: value})))] == [
            base[0].run_id
        ], key
    # nothing is drawn, so every seed shares the one loaded encoder
    many = copy.deepcopy(tiny_config_dict)
    many["seeds"] = [0, 1, 2]
    specs = expand(_config(many, path))
    assert [p.run_id for p in _pre(specs)] == [base[0].run_id]
    assert {s.depends_on for s in specs if s.setup == "3"} == {base[0].run_id}


def test_ids_without_weights_are_those_of_the_original_formula(tiny_config_dict) -> None:
    config = _config(tiny_config_dict)
    cfg = config.to_dict()
    pretrain = {
        k: v for k, v in cfg["pretrain"].items() if k not in ("seed", "weights", "method", "objective")
    }
    model = {k: v for k, v in cfg["model"].items() if k not in ("arch", "factory", "patch_length", "heads")}
    data = {**cfg["data"], "simulate": {k: v for k, v in cfg["data"]["simulate"].items() if k != "split"}}
    payload = {"data": data, "model": model, "pretrain": pretrain, "seed": 0}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    assert [p.run_id for p in _pre(expand(config))] == [f"pre-{digest}"]


def test_missing_weights_file_is_a_config_error(tmp_path, tiny_config_dict) -> None:
    with pytest.raises(ConfigError, match=r"pretrain\.weights = '.*nope\.pt' cannot be read"):
        expand(_config(tiny_config_dict, tmp_path / "nope.pt"))


def test_study_with_weights_fine_tunes_from_exactly_those_weights(tmp_path, tiny_config_dict) -> None:
    config0 = _config(tiny_config_dict)
    path = tmp_path / "enc.pt"
    # a fairssl-style checkpoint (a dict with an "encoder" entry) is read as well as a bare state dict
    state = _save_encoder(config0, path)
    torch.save({"encoder": state, "note": torch.zeros(1)}, path)
    config = _config(tiny_config_dict, path)
    cfg = config.to_dict()
    cfg["similarity"]["enabled"] = False
    config = build_config(cfg)
    root = run_study(config, run_dir=tmp_path / "run", log=lambda _m: None)
    ws = Workspace(root)
    ids = _ids(expand(config))
    pre_dir = ws.run(ids["pretrain"])
    saved = torch.load(pre_dir / "encoder.pt", weights_only=True)
    assert saved.keys() == state.keys() and all(torch.equal(saved[k], state[k]) for k in state)
    history = pd.read_csv(pre_dir / "history.csv")
    assert history["source"].tolist() == ["loaded"]
    assert history["sha256"].tolist() == [hashlib.sha256(path.read_bytes()).hexdigest()]
    assert not (pre_dir / "pool.csv").exists()
    spec = json.loads((pre_dir / "spec.json").read_text())
    assert spec["payload"]["weights"]["path"] == str(path)
    # setup 3 froze conv1-3: its saved model holds the given weights bit for bit
    model = torch.load(ws.run(ids["3"]) / "model.pt", weights_only=True)
    for key, value in state.items():
        assert torch.equal(model[f"encoder.{key}"], value), key
    # the supervised baseline trained from its own random start
    sup = torch.load(ws.run(ids["supervised"]) / "model.pt", weights_only=True)
    assert not torch.equal(sup["encoder.conv1.0.weight"], state["conv1.0.weight"])


def test_loading_draws_no_random_numbers(tmp_path, tiny_config_dict) -> None:
    path = tmp_path / "enc.pt"
    config = _config(tiny_config_dict, path)
    _save_encoder(_config(tiny_config_dict), path)
    ds = load_study_data(config)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    encoder = load_encoder_weights(str(path), config, ds.n_channels, ds.n_steps)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(encoder.state_dict()["conv1.0.weight"], torch.load(path)["conv1.0.weight"])


def test_architecture_mismatch_is_one_line_naming_key_and_shapes(tmp_path, tiny_config_dict) -> None:
    path = tmp_path / "enc.pt"
    _save_encoder(_config(tiny_config_dict), path)  # widths 8, 8, 8
    wide = copy.deepcopy(tiny_config_dict)
    wide["model"]["widths"] = [8, 8, 16]
    config = _config(wide, path)
    ws = Workspace(tmp_path / "run")
    pre = _pre(expand(config))[0]
    with pytest.raises(DataError) as err:
        execute_run(pre, load_study_data(config), config, ws)
    message = str(err.value)
    assert "\n" not in message
    k = config.model.kernels[2]  # the third conv's kernel: weight shape (out, in, k)
    assert "'conv3.0.weight'" in message and f"(8, 8, {k})" in message and f"(16, 8, {k})" in message
    assert "set [model] widths/kernels/padding" in message
    assert not ws.run(pre.run_id).exists()  # nothing published


def test_architecture_mismatch_stops_the_study_before_any_training(tmp_path, tiny_config_dict) -> None:
    """The runner loads the given weights before any run starts: a DataError (exit 2), not a failed
    pre-training run after the supervised baseline has trained."""
    path = tmp_path / "enc.pt"
    _save_encoder(_config(tiny_config_dict), path)  # widths 8, 8, 8
    wide = copy.deepcopy(tiny_config_dict)
    wide["model"]["widths"] = [8, 8, 16]
    wide["output_dir"] = str(tmp_path / "runs")
    wide["runtime"] = {"workers": 1}
    config = _config(wide, path)
    with pytest.raises(DataError, match=r"conv3\.0\.weight"):
        run_study(config, log=lambda _m: None)
    assert not list((tmp_path / "runs").glob("*/runs/*/done.json"))  # nothing trained


def test_cli_missing_weights_exits_2_with_one_line(tmp_path) -> None:
    study = tmp_path / "study.toml"
    study.write_text('name = "w"\noutput_dir = "out"\n[finetune]\nsetups = ["supervised", "3"]\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fairssl.cli",
            "run",
            "--config",
            str(study),
            "--set",
            "pretrain.weights=/nope.pt",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "pretrain.weights = '/nope.pt' cannot be read" in lines[0]
    assert not list(tmp_path.glob("out/*/runs/*/done.json"))  # nothing trained


def test_a_grid_over_weights_hashes_each_file_once(tmp_path, tiny_config_dict, monkeypatch) -> None:
    import fairssl.experiments.grid as grid

    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    _save_encoder(_config(tiny_config_dict), a, seed=1)
    _save_encoder(_config(tiny_config_dict), b, seed=2)
    calls: list[str] = []
    digest = grid.weights_digest
    monkeypatch.setattr(grid, "weights_digest", lambda p: calls.append(p) or digest(p))
    cfg = copy.deepcopy(tiny_config_dict)
    cfg["seeds"] = [0, 1]
    cfg["grid"] = {"pretrain.weights": [str(a), str(b)], "finetune.lr": [0.01, 0.1]}
    pre = _pre(expand(_config(cfg)))
    assert sorted(calls) == [str(a), str(b)]  # once per file, not per variant or seed
    assert [p.payload["weights"]["path"] for p in pre] == [str(a), str(b)]  # finetune.lr shares them
