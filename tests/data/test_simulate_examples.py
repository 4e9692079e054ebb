"""examples/simulated_bias_*.toml: a valid unbiased control and one mechanism per file, one change each."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairssl.config import SimulationConfig, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MECHANISMS = sorted(p for p in EXAMPLES.glob("simulated_bias_*.toml") if p.stem != "simulated_bias_none")


def _study_without_name(path: Path) -> dict:
    data = load_config(path).to_dict()
    data.pop("name")
    return data


def test_the_control_switches_every_mechanism_off() -> None:
    sim = load_config(EXAMPLES / "simulated_bias_none.toml").data.simulate
    default = SimulationConfig()
    assert len(set(sim.race_shares.values())) == 1 and sim.female_share == sim.old_share == 0.5
    assert sim.missing_share == 0 and sim.group_physiology == 0
    assert sim.base_rate.shift == sim.covariate_shift.shift == sim.concept_shift.threshold == 0
    assert sim.concept_shift.weights is None and sim.under_diagnosis.threshold == 0
    assert sim.measurement_bias.offset == sim.measurement_bias.noise == sim.label_bias.rate == 0
    assert sim.spurious.strength == 0 and sim.pool_bias == default.pool_bias
    assert sim.missingness == default.missingness and sim.sampling.every == 1
    assert sim.labelled_fraction < 0.5  # the regime where SSL can matter


@pytest.mark.parametrize("path", MECHANISMS, ids=lambda p: p.stem)
def test_each_mechanism_changes_exactly_one_simulator_setting(path: Path) -> None:
    control, study = _study_without_name(EXAMPLES / "simulated_bias_none.toml"), _study_without_name(path)
    sim_c, sim_s = control["data"].pop("simulate"), study["data"].pop("simulate")
    assert study == control  # everything outside the simulator is the same study
    changed = [k for k in sim_c if sim_c[k] != sim_s[k]]
    assert len(changed) == 1, changed
    knob = sim_s[changed[0]]
    if isinstance(knob, dict):  # a mechanism's own knob: the switched-on values differ from the control's
        assert knob != sim_c[changed[0]]


def test_there_is_one_example_per_mechanism() -> None:
    names = {p.stem.removeprefix("simulated_bias_") for p in MECHANISMS}
    assert {
        "representation",
        "base_rate",
        "covariate",
        "concept",
        "measurement",
        "label",
        "underdiagnosis",
    } <= names
    assert {"pool_mix", "pool_device", "missingness", "sampling", "spurious", "physiology"} <= names
