"""examples/findings/*.toml: the premise of the difference in differences in docs/findings.md.

Every simulated findings study must be the unbiased control (none.toml) with only bias settings changed,
so "SSL's change under bias X minus its change in the control" isolates bias X. A study that also changed
seeds, setups, sizes or training would make the DiD compare two designs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fairssl.config import load_config

FINDINGS = Path(__file__).resolve().parents[2] / "examples" / "findings"
SIMULATED = ["label", "representation", "measurement", "realistic"]
BIAS_KEYS = {"race_shares", "measurement_bias", "label_bias"}
"""The simulator settings a bias study may change against the control."""


def _study(name: str) -> dict:
    data = load_config(FINDINGS / f"{name}.toml").to_dict()
    data.pop("name")
    return data


@pytest.mark.parametrize("name", SIMULATED)
def test_each_simulated_study_is_the_control_with_only_bias_changed(name: str) -> None:
    control, study = _study("none"), _study(name)
    sim_c, sim_s = control["data"].pop("simulate"), study["data"].pop("simulate")
    control.pop("probes"), study.pop("probes")  # probes are shown on one study; they do not train
    assert study == control
    changed = {k for k in sim_c if sim_c[k] != sim_s[k]}
    assert changed and changed <= BIAS_KEYS, changed


def test_the_control_is_unbiased_and_has_the_scarce_and_full_label_fractions() -> None:
    config = load_config(FINDINGS / "none.toml")
    sim = config.data.simulate
    assert len(set(sim.race_shares.values())) == 1 and sim.female_share == sim.old_share == 0.5
    assert sim.measurement_bias.offset == sim.measurement_bias.noise == sim.label_bias.rate == 0
    assert sorted(config.grid["data.simulate.labelled_fraction"]) == [0.05, 1.0]
    setups = config.finetune.setups
    for setup in setups:  # every SSL setup that freezes layers has its random-init control
        if setup not in ("supervised", "0") and not setup.startswith("random:"):
            assert f"random:{setup}" in setups


def test_the_presets_study_runs_both_augmentation_presets_and_every_study_loads() -> None:
    assert load_config(FINDINGS / "presets.toml").grid["pretrain.augmentation"] == ["paper", "paper_fixed"]
    for path in FINDINGS.glob("*.toml"):
        assert load_config(path).seeds, path.name
