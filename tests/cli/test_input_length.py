"""`check_input_length`: windows too short for the encoder's kernels are a one-line ConfigError before
training; the minimum is checked against the real encoder on inputs of length min - 1 and min."""

from __future__ import annotations

import pytest
import torch

from fairssl.config import build_config
from fairssl.errors import ConfigError
from fairssl.ssl.encoder import Encoder, check_input_length, min_input_length


def _forward(model, n_steps: int) -> torch.Tensor:
    enc = Encoder(3, widths=model.widths, kernels=model.kernels, padding=model.padding, dropout=0.0)
    return enc(torch.zeros(2, 3, n_steps))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({}, 46),  # paper kernels 24/16/8 'valid': T - 23 - 15 - 7 >= 1 (48 steps give 25, 10, 3)
        ({"widths": [4, 4, 4], "kernels": [3, 3, 3]}, 7),
        ({"widths": [4, 4], "kernels": [5, 2]}, 6),
        ({"widths": [4], "kernels": [1]}, 1),
        ({"padding": "same"}, 1),
    ],
)
def test_minimum_length_is_where_the_real_encoder_starts_to_work(model: dict, expected: int) -> None:
    cfg = build_config({"model": model}, profile="paper").model
    need = min_input_length(cfg)
    assert need == expected
    assert _forward(cfg, need).shape == (2, cfg.widths[-1])
    check_input_length(cfg, need)  # no error at the minimum
    if need > 1:
        with pytest.raises(RuntimeError):
            _forward(cfg, need - 1)
        with pytest.raises(ConfigError):
            check_input_length(cfg, need - 1)


def test_message_names_length_minimum_and_the_real_keys() -> None:
    cfg = build_config({}, profile="paper").model
    with pytest.raises(ConfigError) as info:
        check_input_length(cfg, 28)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("windows of 28 steps are too short for the encoder: model.kernels [24, 16, 8]")
    assert "need at least 46 steps" in msg
    assert "data.options.window" in msg and "data.simulate.n_steps" in msg
    assert "smaller model.kernels" in msg and "model.padding = 'same'" in msg
    with pytest.raises(ConfigError, match=r"at least 46 steps \(set by data.options.window_days\)"):
        check_input_length(cfg, 28, window_key="data.options.window_days")


def test_fairssl_run_stops_before_training_when_windows_are_too_short(tmp_path) -> None:
    """The real shape that failed once per run after ~40 s: 4-step windows against the paper's kernels."""
    import numpy as np
    import pandas as pd
    from typer.testing import CliRunner

    from fairssl.cli import app
    from fairssl.config_text import to_toml

    rng = np.random.default_rng(0)
    rows = [
        {
            "subject": f"s{i}",
            "time": t,
            "x": rng.normal(),
            "label": int(rng.random() < 0.3),
            "sex": "fm"[i % 2],
        }
        for i in range(40)
        for t in range(8)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    study = {
        "data": {
            "source": "long",
            "path": str(tmp_path / "cohort.csv"),
            "options": {"window": 4, "attributes": ["sex"]},
        },
        "output_dir": str(tmp_path / "out"),
        "profile": "paper",  # kernels 24/16/8 'valid' (the quick profile's 'same' fits any length)
    }
    (tmp_path / "study.toml").write_text(to_toml(study))
    res = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "study.toml")])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "windows of 4 steps are too short for the encoder" in lines[0]
    assert "data.options.window" in lines[0] and "model.padding = 'same'" in lines[0]
    assert not list((tmp_path / "out").rglob("done.json"))  # nothing trained
